"""The compute-efficient frontier: its slope (loss and error rate), its curvature, the saturating form, its level."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.design import choose_window, in_window
from pytest_scaling.estimators.common import (_estimate, _fit_region, _ols_slope_batched, _run, cells_from_runs,
                                              ols_slope)


def _frontier_stat(cells: Cells, **_) -> tuple[Callable, dict]:
    lnC = np.log(cells.design["flops"])
    order = np.argsort(lnC, kind="stable")
    x = lnC[order]

    def stat(M):
        Ms = M[:, order, 0]
        mask = fits.frontier_mask_batched(Ms)
        return _ols_slope_batched(x, Ms, mask.astype(float))

    m = cells.means()[:, 0]
    idx = fits.frontier(cells.design["flops"], np.exp(m))
    if idx.size < 3:
        raise FitError(f"the frontier has {idx.size} point(s); a slope with an interval needs ≥3. "
                       f"Add compute levels (more widths/fractions) or widen the fit region.")
    ols = fits.fit_power_law(cells.design["flops"][idx], np.exp(m[idx]))
    return stat, {"frontier_points": int(idx.size), "ols_slope": ols.slope, "ols_ci": list(ols.slope_ci(0.95)),
                  "prefactor": ols.prefactor, "r2": ols.r2}


def frontier_slope(runs, *, value: str = "loss", n_resamples: int = 2000, seed: int = 0, scheme: str = "auto",
                   min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                   method: str = "bootstrap", window=None) -> Estimate:
    """Slope d ln L / d ln C of the compute-efficient frontier of seed-averaged configurations.

    ``window``: "auto" fits only the runs inside the design's compute-limited window
    (:func:`~pytest_scaling.estimators.design.choose_window`; flagged when it is too narrow),
    (C_lo, C_hi) a given range, None (default) every run.

    ``method='bootstrap'`` (default) resamples seeds and recomputes the frontier;
    ``method='ols'`` gives the statsmodels t-interval on the frontier points, which
    ignores that the frontier is a minimum over noisy runs (too narrow; for comparison).
    """
    choice = choose_window(runs, window)
    full = in_window(cells_from_runs(runs, value), choice.window)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    q = "slope d lnL/d lnC" if value == "loss" else "slope d ln(err)/d lnC"
    if method == "ols":
        m = cells.means()[:, 0]
        idx = fits.frontier(cells.design["flops"], np.exp(m))
        est = ols_slope(cells.design["flops"][idx], np.exp(m[idx]), q, runs=cells.n_runs)
        return choice.apply(Estimate(value=est.value, method=est.method, runs=est.runs, quantity=q, se=est.se,
                                     df=est.df, details={**est.details, "fit_region": region}))
    if method != "bootstrap":
        raise ValueError(f"method must be 'bootstrap' or 'ols', got {method!r}")
    return choice.apply(_run(cells, _frontier_stat, q, n_resamples, seed, scheme, region, full))


def accuracy_frontier_slope(runs, **kw) -> Estimate:
    """Frontier slope of the error rate (1 − accuracy) against compute."""
    return frontier_slope(runs, value="error", **kw)


def saturating_frontier(runs, *, n_resamples: int = 200, seed: int = 0, scheme: str = "auto",
                        min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                        window=None) -> Estimate:
    """α of L = E + A·C^−α on the frontier, with its comparison against the pure power law.

    Bootstrap resamples refit from the full-data optimum (a loop: the fit is a
    bounded nonlinear least squares), hence the smaller default ``n_resamples``.
    """
    choice = choose_window(runs, window)
    full = in_window(cells_from_runs(runs), choice.window)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    C = cells.design["flops"]
    m = cells.means()[:, 0]
    idx = fits.frontier(C, np.exp(m))
    fit = fits.fit_saturating(C[idx], np.exp(m[idx]))
    start = (fit.E, fit.A, fit.alpha)

    def stat(M):
        out = np.empty((M.shape[0], 2))
        for b in range(M.shape[0]):
            y = np.exp(M[b, :, 0])
            j = fits.frontier(C, y)
            if j.size < 4:
                out[b] = np.nan
                continue
            f = fits.fit_saturating(C[j], y[j], start=start)
            out[b] = (f.alpha, f.E)
        stat.E = out[:, 1]
        return out[:, 0]

    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme, chunk=n_resamples)
    E_s = stat.E[np.isfinite(stat.E)]
    details = {"E": fit.E, "A": fit.A, "E_ci": np.quantile(E_s, [0.025, 0.975]).tolist(),
               "frontier_points": int(idx.size), "fit_region": region, **fit.comparison()}
    return choice.apply(_estimate(res, "α in L = E + A·C^−α", cells.n_runs, details))


def frontier_curvature(runs, *, n_resamples: int = 1000, seed: int = 0, scheme: str = "auto",
                       min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                       window=None) -> Estimate:
    """How far the frontier is from a straight line in log-log, relative to its slope.

    Fits ln L = a + b·x + c·x² (x = ln C, centred) to the frontier points and returns
    2c·(ln C_max − ln C_min) / |s|: the change of the local slope across the fitted compute
    range as a fraction of the frontier's straight-line slope s. 0 for a pure power law;
    positive when the frontier flattens (towards an irreducible loss), 1 when the slope
    changes by its own size. Seed-bootstrapped through the frontier like
    :func:`frontier_slope`; the absolute slope change and ``s`` are in ``details``.
    """
    choice = choose_window(runs, window)
    full = in_window(cells_from_runs(runs), choice.window)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    lnC = np.log(cells.design["flops"])
    order = np.argsort(lnC, kind="stable")
    x = lnC[order] - lnC.mean()
    span = float(np.ptp(lnC))
    m = cells.means()[:, 0]
    idx = fits.frontier(cells.design["flops"], np.exp(m))
    if idx.size < 4:
        raise FitError(f"the frontier has {idx.size} point(s); a curvature with an interval needs ≥4.")
    X = np.stack([np.ones_like(x), x, x ** 2], -1)  # [C, 3]
    absolute = []

    def stat(M):
        Y = M[:, order, 0]
        w = fits.frontier_mask_batched(Y).astype(float)
        XtX = np.einsum("bc,ci,cj->bij", w, X, X)
        Xty = np.einsum("bc,ci,bc->bi", w, X, Y)
        ok = w.sum(1) >= 4
        XtX[~ok] = np.eye(3)
        c = np.linalg.solve(XtX, Xty[..., None])[..., 0]
        s = _ols_slope_batched(x, Y, w)
        d = 2 * c[:, 2] * span
        absolute.append(d)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok & (s < 0), d / np.abs(s), np.nan)

    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    slope = float(_frontier_stat(cells)[0](cells.means()[None])[0])
    details = {"frontier_points": int(idx.size), "compute_decades": span / np.log(10), "frontier_slope": slope,
               "slope_change": float(absolute[0][0]), "fit_region": region}
    return choice.apply(_estimate(res, "relative change of the frontier's local slope", cells.n_runs, details))


def _frontier_level_stat(cells: Cells, **_):
    """Mean over the grid's compute values of ln F(C), F the frontier as a step function
    (the lowest seed-mean loss among configurations with compute ≤ C). Two conditions on the
    same grid are thus compared at equal compute: a − b is the mean log-ratio of their frontiers."""
    order = np.argsort(cells.design["flops"], kind="stable")

    def stat(M):
        return np.minimum.accumulate(M[:, order, 0], axis=1).mean(axis=1)

    return stat, {"compute_points": int(order.size)}
