"""The compute-efficient frontier: its slope (loss and error rate), its curvature, the saturating form, its level."""

from __future__ import annotations

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators import pipeline
from pytest_scaling.estimators.common import ols_slope


def _region(pipe: pipeline.Pipeline, min_compute: float | None, drop_smallest_decades: float) -> tuple:
    """The fit region as a fixed mask on the pipeline's abscissae (compute ≥ max(min_compute, smallest
    run's compute × 10^decades)), and its record."""
    cut = float(pipe.cells.design["flops"].min()) * 10 ** float(drop_smallest_decades)
    if min_compute is not None:
        cut = max(cut, float(min_compute))
    asked = min_compute is not None or drop_smallest_decades > 0
    keep = pipe.compute >= cut * (1 - 1e-12) if asked else np.ones(pipe.compute.size, bool)
    if not keep.any():
        raise FitError(f"the fit region (compute ≥ {cut:.3g}) contains no frontier point; lower min_compute.")
    used = int(pipe.cells.counts[pipe.cells.design["flops"] >= cut * (1 - 1e-12)].sum()) if asked else pipe.cells.n_runs
    info = {"min_compute": cut if asked else None, "drop_smallest_decades": float(drop_smallest_decades),
            "runs_used": used, "runs_dropped": pipe.cells.n_runs - used,
            "frontier_points_dropped": int((~keep).sum())}
    return keep, info


def frontier_slope(runs, *, value: str = "loss", n_resamples: int = 2000, seed: int = 0, scheme: str = "auto",
                   min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                   method: str = "bootstrap", window=None) -> Estimate:
    """Slope d ln L / d ln C of the compute-efficient frontier (:mod:`~pytest_scaling.estimators.pipeline`:
    the profile minimum of the learning curves where runs carry checkpoints, else the step frontier of
    the seed-averaged configurations; computed on every run, then restricted).

    ``window``: "auto" reads the compute-limited window (:func:`~pytest_scaling.estimators.design.choose_window`),
    re-chosen in every resample; (C_lo, C_hi) a given range; None (default) every frontier point.
    The error-rate frontier (``value='error'``) reads the loss design's window, fixed at its point estimate.

    ``method='bootstrap'`` (default) resamples seeds and recomputes the frontier;
    ``method='ols'`` gives the statsmodels t-interval on the frontier points, which
    ignores that the frontier is a minimum over noisy runs (too narrow; for comparison).
    """
    pipe = pipeline.build(runs, value, window)
    keep, region = _region(pipe, min_compute, drop_smallest_decades)
    q = "slope d lnL/d lnC" if value == "loss" else "slope d ln(err)/d lnC"
    if method == "ols":
        F, w = pipe.point()
        idx = w & keep & np.isfinite(F)
        if idx.sum() < 3:
            raise FitError(f"the frontier has {int(idx.sum())} point(s) in range; a slope needs ≥3.")
        est = ols_slope(pipe.compute[idx], np.exp(F[idx]), q, runs=pipe.cells.n_runs)
        return pipe.choice.apply(Estimate(value=est.value, method=est.method, runs=est.runs, quantity=q, se=est.se,
                                          df=est.df, details={**est.details, "fit_region": region}))
    if method != "bootstrap":
        raise ValueError(f"method must be 'bootstrap' or 'ols', got {method!r}")
    x = pipe.x
    F, w = pipe.point()
    n = int((w & keep & np.isfinite(F)).sum())
    if n < 3:
        raise FitError(f"the frontier has {n} point(s) in range; a slope with an interval needs ≥3. "
                       f"Add compute levels (more widths/fractions) or widen the fit region.")
    ols = fits.fit_power_law(pipe.compute[w & keep & np.isfinite(F)], np.exp(F[w & keep & np.isfinite(F)]))
    info = {"ols_slope": ols.slope, "ols_ci": list(ols.slope_ci(0.95)), "prefactor": ols.prefactor, "r2": ols.r2,
            "fit_region": region}
    if not keep.all():  # how far the cut moves the slope: the same frontier, uncut
        info["estimate_full_region"] = float(pipeline.slope(x, F[None], w[None])[0])
    return pipeline.run(pipe, lambda F, w: pipeline.slope(x, F, w & keep), q, n_resamples=n_resamples, seed=seed,
                        scheme=scheme, details=info, kind="frontier_slope")


def accuracy_frontier_slope(runs, **kw) -> Estimate:
    """Frontier slope of the error rate (1 − accuracy) against compute."""
    return frontier_slope(runs, value="error", **kw)


def saturating_frontier(runs, *, n_resamples: int = 200, seed: int = 0, scheme: str = "auto",
                        min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                        window=None, parameter: str = "alpha") -> Estimate:
    """L = E + A·C^−α on the pipeline's frontier: ``parameter`` "E" (the floor) or "alpha", with the
    comparison against the pure power law (ΔAIC, nested F-test) in ``details``.

    E is bounded below by 0, where the pure power law lies. Its test is boundary-aware: every resample
    refits with the bound and a fit within 1e-9 of the floor counts as on it, so when the floor is not
    resolved a share of resamples is an atom at 0; "E > 0" has a p-value no smaller than that share
    (``Estimate``'s tail model never extrapolates through a bound), so it is confirmed only when fewer
    than α/2 of the resamples sit on the bound (a percentile interval is not valid *at* a boundary, but
    a one-sided test whose lower end is the boundary is conservative).
    When Ê itself is on the bound the estimate is flagged (no floor in this range), and α̂ is then
    minus the straight slope: an α claim repeats "loss falls", and its interval at the boundary is not
    valid, so α is flagged too. Resamples refit from the point optimum (a loop: a bounded nonlinear
    least squares), hence the smaller default ``n_resamples``.
    """
    if parameter not in ("E", "alpha"):
        raise ValueError(f"parameter must be 'E' or 'alpha', got {parameter!r}")
    pipe = pipeline.build(runs, "loss", window)
    keep, region = _region(pipe, min_compute, drop_smallest_decades)
    F, w = pipe.point()
    idx = w & keep & np.isfinite(F)
    if idx.sum() < 4:
        raise FitError(f"the frontier has {int(idx.sum())} point(s) in range; the saturating form needs ≥4.")
    C = pipe.compute
    fit = fits.fit_saturating(C[idx], np.exp(F[idx]))
    start = (fit.E, fit.A, fit.alpha)
    floor = float(np.exp(F[idx]).min())
    at_bound = bool(fit.E <= 1e-9 * floor)
    other = []

    def stat(Fb, wb):
        out = np.full((Fb.shape[0], 2), np.nan)
        for b in range(Fb.shape[0]):
            j = wb[b] & keep & np.isfinite(Fb[b])
            if j.sum() < 4:
                continue
            f = fits.fit_saturating(C[j], np.exp(Fb[b, j]), start=start)
            # TRF stops a hair inside the bound (1e-324…1e-15), never on it: snap, so the resamples with
            # no floor are an atom at 0 that the tail model counts, not "E > 0" by a rounding error.
            out[b] = (0.0 if f.E <= 1e-9 * floor else f.E, f.alpha)
        col = 0 if parameter == "E" else 1
        other.append(out[:, 1 - col])
        return out[:, col]

    reason = ""
    if at_bound:
        reason = ("Ê sits on its bound 0: the frontier shows no floor in this compute range" if parameter == "E" else
                  "Ê sits on its bound 0: α̂ is then minus the straight slope, and a percentile interval of a fit "
                  "at a parameter boundary is not valid")
    q = "E in L = E + A·C^−α" if parameter == "E" else "α in L = E + A·C^−α"
    est = pipeline.run(pipe, stat, q, n_resamples=n_resamples, seed=seed, scheme=scheme, chunk=n_resamples,
                       min_points=4, expand=parameter != "E",
                       details={"E": fit.E, "A": fit.A, "alpha": fit.alpha, "E_at_bound": at_bound,
                                **({"parameter_bounds": [0.0, None],  # E ≤ each resample's own floor: no common cap
                                    "seeds_do_not_decide": "E's interval reaches its bound 0 where the window shows "
                                    "no floor: seeds sharpen the fit, not the range it sees; a window reaching "
                                    "closer to the floor (more compute-limited decades) would decide it"}
                                   if parameter == "E" else {}),
                                "fit_region": region, **fit.comparison()}, reason=reason)
    samples = est.samples if parameter == "E" else np.concatenate(other[1:])
    samples = samples[np.isfinite(samples)]
    if samples.size:
        est.details["E_ci"] = np.quantile(samples, [0.025, 0.975]).tolist()
        est.details["E_on_bound_resamples"] = int(np.sum(samples <= 0.0))
    return est


def frontier_curvature(runs, *, n_resamples: int = 1000, seed: int = 0, scheme: str = "auto",
                       min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                       window=None) -> Estimate:
    """How far the frontier is from a straight line in log-log, relative to its slope.

    Fits ln L = a + b·x + c·x² (x = ln C) to the pipeline's frontier points and returns
    2c·(ln C_max − ln C_min) / |s|: the change of the local slope across the fitted compute
    range as a fraction of the frontier's straight-line slope s. 0 for a pure power law;
    positive when the frontier flattens (towards an irreducible loss), 1 when the slope
    changes by its own size. The denominator is the point estimate's |s|, the same in every
    resample: dividing each resample's bend by its own slope gave heavy tails (a ratio of two
    noisy quantities). So the interval is that of the absolute slope change (``details``),
    scaled once. Seed-bootstrapped through the pipeline like :func:`frontier_slope`, without the
    slope's t/z expansion: the bend's percentile interval in the re-chosen window already covered the
    law's own bend in 0.987 of 150 uneven 2-seed replicates (1.0 expanded; tests/unit/test_pipeline.py).
    """
    pipe = pipeline.build(runs, "loss", window)
    keep, region = _region(pipe, min_compute, drop_smallest_decades)
    x = pipe.x
    F, w = pipe.point()
    n = int((w & keep & np.isfinite(F)).sum())
    if n < 4:
        raise FitError(f"the frontier has {n} point(s); a curvature with an interval needs ≥4.")
    c2, s, span = (v[0] for v in pipeline.quadratic(x, F[None], (w & keep)[None]))
    if not s < 0:
        raise FitError(f"the frontier's straight slope is {s:.3g} (not negative); a bend relative to it is "
                       f"undefined.")
    scale = abs(float(s))

    def stat(Fb, wb):
        c, _, sp = pipeline.quadratic(x, Fb, wb & keep)
        return 2 * c * sp / scale

    details = {"compute_decades": float(span / np.log(10)), "frontier_slope": float(s),
               "slope_change": float(2 * c2 * span), "denominator": "|point slope|, fixed", "fit_region": region}
    return pipeline.run(pipe, stat, "relative change of the frontier's local slope", n_resamples=n_resamples,
                        seed=seed, scheme=scheme, details=details, kind="frontier_curvature", min_points=4,
                        expand=False)


def _frontier_level_stat(cells: Cells, **_):
    """Mean over the grid's compute values of ln F(C), F the frontier as a step function
    (the lowest seed-mean loss among configurations with compute ≤ C). Two conditions on the
    same grid are thus compared at equal compute: a − b is the mean log-ratio of their frontiers."""
    order = np.argsort(cells.design["flops"], kind="stable")

    def stat(M):
        return np.minimum.accumulate(M[:, order, 0], axis=1).mean(axis=1)

    return stat, {"compute_points": int(order.size)}
