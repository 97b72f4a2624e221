"""Estimators: a RunTable in, an :class:`~pytest_scaling.claims.Estimate` out.

Every estimator is a *pipeline on seed-averaged configurations* (cells):
seed-average (in log space) → [frontier / iso-compute slices / sweep optimum]
→ fit → number. Its uncertainty is the seed bootstrap of the whole pipeline
(:mod:`pytest_scaling.bootstrap`), vectorised over resamples. Each estimate
records the runs it used, the fit region, and (in ``details``) what a reader
needs to judge it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells, match_cells, paired_seed_bootstrap, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError

__all__ = [
    "frontier_slope", "accuracy_frontier_slope", "saturating_frontier", "compute_optimal_exponent",
    "per_axis_exponents", "lr_fan_in_slope", "paired_difference", "extrapolation_are", "ols_slope",
    "cells_from_runs",
]

KEY = ("width", "fraction", "dropout", "lr_mult", "lr_scale", "batch_size")
PAIR_ON = ("width", "fraction", "lr_mult")


# --------------------------------------------------------------------------- cells

def cells_from_runs(runs, value: str = "loss", checkpoints: bool = False) -> Cells:
    """Group usable runs by configuration. ``value``: 'loss' or 'error' (1 − accuracy).

    With ``checkpoints=True`` every run contributes its checkpoint losses as one
    vector (resampled together); ``design['ckpt_examples']`` is ``[C, V]`` (NaN pads).
    """
    if len(runs) == 0:
        raise FitError("no runs to analyse; check the filters (runs.where(...)) and the budget.")
    usable = runs.usable()
    if len(usable) == 0:
        raise FitError(f"all {len(runs)} runs diverged or collapsed to chance; lower the learning rate "
                       f"(lr_scale) or inspect the training logs — there is nothing to fit.")
    col = usable.columns()
    keys = list(zip(*(col[k].tolist() for k in KEY)))
    design = {k: col[k].astype(float) for k in ("width", "params", "fraction", "examples", "flops", "lr_mult",
                                                 "lr_scale", "dropout")}
    if value == "loss":
        vals = col["val_loss"].astype(float)
    elif value == "error":
        vals = 1.0 - col["val_acc"].astype(float)
    else:
        raise ValueError(f"value must be 'loss' or 'error', got {value!r}")
    if not checkpoints:
        return Cells.from_arrays(keys, col["seed"], vals, design, KEY)
    ck = col["checkpoints"]
    if any(len(c) == 0 for c in ck):
        raise FitError("some runs have no checkpoints; use use_checkpoints=False or retrain with checkpoints.")
    V = max(len(c) for c in ck)
    vmat = np.empty((len(ck), V))
    ex = np.full((len(ck), V), np.nan)
    j = 1 if value == "loss" else 2
    for i, c in enumerate(ck):
        c = np.asarray(c, float)
        v = c[:, j] if value == "loss" else 1.0 - c[:, j]
        vmat[i, :len(c)] = v
        vmat[i, len(c):] = v[-1]  # pad with the final value; masked out by NaN examples
        ex[i, :len(c)] = c[:, 0]
    design["ckpt_examples"] = ex
    return Cells.from_arrays(keys, col["seed"], vmat, design, KEY)


def _fit_region(cells: Cells, min_compute: float | None, drop_smallest_decades: float) -> tuple[Cells, dict]:
    """Keep cells with compute ≥ max(min_compute, smallest compute × 10^decades)."""
    c = cells.design["flops"]
    cut = float(c.min()) * 10 ** float(drop_smallest_decades)
    if min_compute is not None:
        cut = max(cut, float(min_compute))
    keep = c >= cut * (1 - 1e-12)
    sub = cells.subset(keep)
    info = {"min_compute": cut, "runs_used": sub.n_runs, "runs_dropped": cells.n_runs - sub.n_runs,
            "configs_used": sub.n_cells, "drop_smallest_decades": float(drop_smallest_decades)}
    if sub.n_cells == 0:
        raise FitError(f"the fit region (compute ≥ {cut:.3g}) contains no runs; lower min_compute.")
    return sub, info


# --------------------------------------------------------------------------- vectorised helpers

def _ols_slope_batched(x: np.ndarray, Y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Slope of Y on x for each row; ``x`` ``[n]`` or ``[B, n]``, optional 0/1 weights."""
    x = np.broadcast_to(x, Y.shape)
    if w is None:
        w = np.ones_like(Y)
    sw = w.sum(-1, keepdims=True)
    xm = (w * x).sum(-1, keepdims=True) / sw
    ym = (w * Y).sum(-1, keepdims=True) / sw
    sxx = (w * (x - xm) ** 2).sum(-1)
    sxy = (w * (x - xm) * (Y - ym)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1), np.nan)


def _estimate(res, quantity: str, runs: int, details: dict, reason: str = "") -> Estimate:
    details = dict(details)
    if res.n_failed:
        details["failed_resamples"] = res.n_failed
    return Estimate(value=res.point, method=res.method, runs=runs, quantity=quantity, samples=res.samples,
                    n_resamples=res.n_resamples, reason=reason, details=details)


def ols_slope(x, y, quantity: str = "slope", runs: int | None = None) -> Estimate:
    """Log-log OLS slope with its t-interval (statsmodels): valid when log residuals are iid normal."""
    f = fits.fit_power_law(x, y)
    return Estimate(value=f.slope, method="OLS t-interval (log-log)", runs=runs if runs is not None else f.n,
                    quantity=quantity, se=f.slope_se, df=f.df_resid,
                    details={"prefactor": f.prefactor, "r2": f.r2, "points": f.n})


# --------------------------------------------------------------------------- statistics (builders)
# A builder takes Cells and returns (statistic, info): statistic maps [B, C, V] log-means to [B].

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


def _iso_levels(cells: Cells) -> tuple[np.ndarray, str]:
    """Iso-compute slice of each cell: the grid diagonal (one width step up = one fraction step down,
    compute ≈ ×2 each) when the grid has that shape, else bins of one octave in compute."""
    w, fr = cells.design["width"], cells.design["fraction"]
    uw, uf = np.unique(w), np.unique(fr)[::-1]
    rw = uw[1:] / uw[:-1] if uw.size > 1 else np.array([np.sqrt(2)])
    rf = uf[:-1] / uf[1:] if uf.size > 1 else np.array([2.0])
    if np.all(np.abs(np.log(rw) / np.log(np.sqrt(2)) - 1) < 0.35) and np.all(np.abs(rf / 2 - 1) < 0.05):
        i = np.searchsorted(uw, w)
        j = np.searchsorted(-uf, -fr)
        return i - j, "grid diagonals"
    return np.round(np.log2(cells.design["flops"])).astype(int), "octave bins of compute"


def _optimum_stat(cells: Cells, size: str = "params", approach: str = "isoflop", min_points: int = 4,
                  drop_edge: bool = False, **_):
    if size not in ("params", "width"):
        raise ValueError(f"size must be 'params' or 'width', got {size!r}")
    if approach == "parametric":
        return _parametric_stat(cells, size)
    if approach not in ("envelope", "isoflop"):
        raise ValueError(f"approach must be 'envelope', 'isoflop' or 'parametric', got {approach!r}")
    lnN = np.log(cells.design[size])
    lnC = np.log(cells.design["flops"])
    lev, how = _iso_levels(cells)
    m = cells.means()[:, 0]
    slices, dropped = [], []
    for L in np.unique(lev):
        idx = np.flatnonzero(lev == L)
        idx = idx[np.argsort(lnN[idx])]
        if np.unique(lnN[idx]).size < min_points:
            continue
        u = lnN[idx]
        if approach == "envelope":
            k = int(np.argmin(m[idx]))
            ok = 0 < k < idx.size - 1
        else:
            pf = fits.fit_isoflop_parabola(np.exp(u), np.exp(m[idx]))
            ok = pf.interior
        if not ok:
            dropped.append(float(np.mean(lnC[idx])))
        if ok or not drop_edge:
            slices.append((idx, float(np.mean(lnC[idx]))))
    if len(slices) < 3:
        raise FitError(
            f"only {len(slices)} iso-compute slice(s) have {min_points}+ sizes"
            f"{' with an interior optimum' if drop_edge else ''}; γ needs ≥3. "
            f"Add larger and smaller models per compute level (a larger budget)."
        )
    xC = np.array([c for _, c in slices])
    prep = []
    for idx, _ in slices:
        u = lnN[idx]
        uc = u - u.mean()
        X = np.stack([np.ones_like(uc), uc, uc ** 2], 1)
        prep.append((idx, u, uc, np.linalg.pinv(X)))

    def stat(M):
        out = np.empty((M.shape[0], len(prep)))
        for j, (idx, u, uc, P) in enumerate(prep):
            Y = M[:, idx, 0]
            if approach == "envelope":
                out[:, j] = u[np.argmin(Y, axis=1)]
                continue
            c0, c1, c2 = (Y @ P.T).T
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(c2 > 0, -c1 / (2 * np.where(c2 > 0, c2, 1)), np.nan)
            lo_f = c1 * uc[0] + c2 * uc[0] ** 2
            hi_f = c1 * uc[-1] + c2 * uc[-1] ** 2
            v = np.where(np.isnan(v), np.where(lo_f <= hi_f, uc[0], uc[-1]), v)
            out[:, j] = np.clip(v, uc[0], uc[-1]) + u.mean()
        return _ols_slope_batched(xC, out)

    info = {"levels": how, "slices_used": len(slices), "slices_optimum_at_edge": len(dropped),
            "slice_compute": np.exp(xC).tolist()}
    reason = ""
    if not drop_edge and 2 * len(dropped) > len(slices):
        reason = (f"{len(dropped)} of {len(slices)} iso-compute slices have their optimum at the smallest or "
                  f"largest size: the grid does not bracket N_opt")
    return stat, info, reason


def _parametric_stat(cells: Cells, size: str):
    N = cells.design[size]
    D = cells.design["examples"]
    m = cells.means()[:, 0]
    full = fits.fit_chinchilla(N, D, np.exp(m))
    lnN, lnD = np.log(N), np.log(D)

    def stat(M):
        x, f, _ = fits.fit_chinchilla_batched(lnN, lnD, M[:, :, 0], np.repeat(full.theta[None], M.shape[0], 0))
        al, be = x[:, 3], x[:, 4]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = be / (al + be)
        return np.where(np.isfinite(f) & (al > 0) & (be > 0), g, np.nan)

    return stat, {"E": full.E, "A": full.A, "B": full.B, "alpha": full.alpha, "beta": full.beta,
                  "a": full.a, "b": full.b}


def _axis_stat(cells: Cells, axis: str = "N", size: str = "params", **_):
    if axis == "N":
        frmax = cells.design["fraction"].max()
        sel = np.flatnonzero(np.isclose(cells.design["fraction"], frmax))
        x = np.log(cells.design[size][sel])
        what = f"L(N) at the largest data fraction ({frmax:g})"
    else:
        wmax = cells.design["width"].max()
        sel = np.flatnonzero(cells.design["width"] == wmax)
        x = np.log(cells.design["examples"][sel])
        what = f"L(D) at the largest width ({wmax:g})"
    if np.unique(x).size < 3:
        raise FitError(f"{what} has {np.unique(x).size} distinct point(s); a slope needs ≥3.")

    def stat(M):
        return _ols_slope_batched(x, M[:, sel, 0])

    return stat, {"points": int(sel.size), "slice": what}


def _lr_stat(cells: Cells, half_window: int = 2, **_):
    fr = np.unique(cells.design["fraction"])
    if fr.size != 1:
        raise FitError(f"an LR sweep must be at one data fraction, got {fr.tolist()}; "
                       f"filter with runs.where(fraction=...).")
    widths = np.unique(cells.design["width"])
    if widths.size < 2:
        raise FitError("the LR slope needs sweeps at ≥2 widths (e.g. 4, 11, 32).")
    m = cells.means()[:, 0]
    groups, per_width, reasons = [], {}, []
    for w in widths:
        idx = np.flatnonzero(cells.design["width"] == w)
        idx = idx[np.argsort(cells.design["lr_mult"][idx])]
        if idx.size < 3:
            raise FitError(f"the LR sweep at width {w:g} has {idx.size} usable learning rate(s); "
                           f"a local parabola needs ≥3 (did high-LR runs diverge?).")
        lrs = cells.design["lr_scale"][idx] * cells.design["lr_mult"][idx]
        opt = fits.fit_lr_optimum(cells.design["lr_mult"][idx], np.exp(m[idx]), half_window)
        lnscale = float(np.log(cells.design["lr_scale"][idx][0]))
        per_width[f"{w:g}"] = {"lr_mult_opt": opt.lr, "lr_opt": float(np.exp(lnscale) * opt.lr / np.sqrt(9 * w)),
                               "at_edge": opt.at_edge}
        if opt.at_edge:
            reasons.append(f"LR optimum at the sweep edge for width {w:g} ({opt.reason})")
        groups.append((idx, np.log(cells.design["lr_mult"][idx]), lnscale, float(np.log(9 * w))))
    x = np.array([g[3] for g in groups])

    def stat(M):
        out = np.empty((M.shape[0], len(groups)))
        for j, (idx, u, lnscale, lnfan) in enumerate(groups):
            Y = M[:, idx, 0]
            n = u.size
            k = np.argmin(Y, axis=1)
            lo, hi = fits.lr_window(k, n, half_window)
            win = lo[:, None] + np.arange(hi[0] - lo[0])[None, :]
            uu = u[win]
            yy = np.take_along_axis(Y, win, axis=1)
            X = np.stack([np.ones_like(uu), uu, uu ** 2], -1)
            XtX = np.einsum("bki,bkj->bij", X, X)
            Xty = np.einsum("bki,bk->bi", X, yy)
            c = np.linalg.solve(XtX, Xty[..., None])[..., 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(c[:, 2] > 0, -c[:, 1] / (2 * np.where(c[:, 2] > 0, c[:, 2], 1)), u[k])
            v = np.clip(v, u[0], u[-1])
            out[:, j] = lnscale + v - 0.5 * lnfan
        return _ols_slope_batched(x, out)

    return stat, {"per_width": per_width, "widths": widths.tolist()}, "; ".join(reasons)


# --------------------------------------------------------------------------- public estimators

def _run(cells: Cells, builder, quantity: str, n_resamples: int, seed: int, scheme: str, region: dict | None,
         full_cells: Cells | None = None, **kw) -> Estimate:
    out = builder(cells, **kw)
    stat, info = out[0], out[1]
    reason = out[2] if len(out) > 2 else ""
    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    details = dict(info)
    if region is not None:
        details["fit_region"] = region
        if full_cells is not None and region["runs_dropped"] > 0:
            try:
                fstat = builder(full_cells, **kw)[0]
                details["estimate_full_region"] = float(fstat(full_cells.means()[None])[0])
            except FitError as e:
                details["estimate_full_region"] = f"n/a ({e})"
    return _estimate(res, quantity, cells.n_runs, details, reason)


def frontier_slope(runs, *, value: str = "loss", n_resamples: int = 2000, seed: int = 0, scheme: str = "auto",
                   min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                   method: str = "bootstrap") -> Estimate:
    """Slope d ln L / d ln C of the compute-efficient frontier of seed-averaged configurations.

    ``method='bootstrap'`` (default) resamples seeds and recomputes the frontier;
    ``method='ols'`` gives the statsmodels t-interval on the frontier points, which
    ignores that the frontier is a minimum over noisy runs (too narrow; for comparison).
    """
    full = cells_from_runs(runs, value)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    q = "slope d lnL/d lnC" if value == "loss" else "slope d ln(err)/d lnC"
    if method == "ols":
        m = cells.means()[:, 0]
        idx = fits.frontier(cells.design["flops"], np.exp(m))
        est = ols_slope(cells.design["flops"][idx], np.exp(m[idx]), q, runs=cells.n_runs)
        return Estimate(value=est.value, method=est.method, runs=est.runs, quantity=q, se=est.se, df=est.df,
                        details={**est.details, "fit_region": region})
    if method != "bootstrap":
        raise ValueError(f"method must be 'bootstrap' or 'ols', got {method!r}")
    return _run(cells, _frontier_stat, q, n_resamples, seed, scheme, region, full)


def accuracy_frontier_slope(runs, **kw) -> Estimate:
    """Frontier slope of the error rate (1 − accuracy) against compute."""
    return frontier_slope(runs, value="error", **kw)


def saturating_frontier(runs, *, n_resamples: int = 200, seed: int = 0, scheme: str = "auto",
                        min_compute: float | None = None, drop_smallest_decades: float = 0.0) -> Estimate:
    """α of L = E + A·C^−α on the frontier, with its comparison against the pure power law.

    Bootstrap resamples refit from the full-data optimum (a loop: the fit is a
    bounded nonlinear least squares), hence the smaller default ``n_resamples``.
    """
    full = cells_from_runs(runs)
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
    return _estimate(res, "α in L = E + A·C^−α", cells.n_runs, details)


def compute_optimal_exponent(runs, size: str = "params", approach: str = "isoflop", *, n_resamples: int = 1000,
                             seed: int = 0, scheme: str = "auto", compare: bool = True,
                             min_compute: float | None = None, drop_smallest_decades: float = 0.0) -> Estimate:
    """γ in N_opt ∝ C^γ by one of Chinchilla's approaches, seed-bootstrapped.

    ``envelope`` (1): per iso-compute slice the size with the lowest loss;
    ``isoflop`` (2): per slice a parabola of ln L in ln N, its vertex (clipped to
    the slice's sizes); both then fit ln N_opt on ln C. Slices are chosen by the
    design alone (≥4 sizes), so every resample uses the same slices — choosing
    them from the data (dropping unbracketed ones) biased γ and cost coverage
    (86–88% in simulation vs 94–95%). Slices with an edge optimum are counted in
    ``details``; when they are the majority the estimate is flagged.
    ``parametric`` (3): γ = β/(α+β) from :func:`fits.fit_chinchilla`.
    ``compare=True`` adds the other approaches' point estimates to ``details``.
    """
    full = cells_from_runs(runs)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    est = _run(cells, _optimum_stat, f"γ in N_opt ∝ C^γ ({size}, {approach})", n_resamples, seed, scheme, region,
               full, size=size, approach=approach)
    if compare:
        others = {}
        for other in ("envelope", "isoflop", "parametric"):
            if other == approach:
                continue
            try:
                st = _optimum_stat(cells, size=size, approach=other)[0]
                others[other] = float(st(cells.means()[None])[0])
            except FitError as e:
                others[other] = f"n/a ({e})"
        est.details["other_approaches"] = others
    return est


def per_axis_exponents(runs, *, size: str = "params", n_resamples: int = 2000, seed: int = 0,
                       scheme: str = "auto") -> dict[str, Estimate]:
    """Log-log slopes of L(N) at the largest data fraction and of L(D) at the largest width."""
    cells = cells_from_runs(runs)
    out = {}
    for axis, q in (("N", "slope d lnL/d lnN"), ("D", "slope d lnL/d lnD")):
        stat, info = _axis_stat(cells, axis=axis, size=size)
        res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
        out[axis] = _estimate(res, q, int(cells.counts[_axis_cells(cells, axis)].sum()), info)
    return out


def _axis_cells(cells: Cells, axis: str) -> np.ndarray:
    if axis == "N":
        return np.isclose(cells.design["fraction"], cells.design["fraction"].max())
    return cells.design["width"] == cells.design["width"].max()


def lr_fan_in_slope(sweep_runs, *, half_window: int = 2, n_resamples: int = 2000, seed: int = 0,
                    scheme: str = "auto") -> Estimate:
    """Slope of ln LR* on ln fan_in (fan_in = 9·width; LR* = lr_scale·lr_mult*/sqrt(fan_in)).

    LR* per width is the vertex of a parabola in ln LR around the best swept LR
    (never the raw argmin). If any width's optimum is at the sweep's edge the
    estimate carries a ``reason`` and every claim on it is inconclusive: a slope
    fitted to edge optima reproduces the sweep's design, not the optimum.
    """
    cells = cells_from_runs(sweep_runs)
    est = _run(cells, _lr_stat, "slope d lnLR*/d ln fan_in", n_resamples, seed, scheme, None,
               half_window=half_window)
    return est


_BUILDERS = {
    "frontier_slope": (lambda: ("loss", _frontier_stat, "Δ slope d lnL/d lnC", {})),
    "accuracy_frontier_slope": (lambda: ("error", _frontier_stat, "Δ slope d ln(err)/d lnC", {})),
    "compute_optimal_exponent": (lambda: ("loss", _optimum_stat, "Δγ", {})),
}


def paired_difference(runs_a, runs_b, estimator="compute_optimal_exponent", *, n_resamples: int = 1000,
                      seed: int = 0, scheme: str = "auto", min_compute: float | None = None,
                      drop_smallest_decades: float = 0.0, **kw) -> Estimate:
    """Estimate(a) − Estimate(b) with a paired seed bootstrap (e.g. dropout 0.2 vs 0).

    Configurations are matched on (width, fraction, lr_mult) and seeds on their
    ids; each resample draws seed ids per configuration once and uses them in
    both conditions, so noise shared by a seed cancels in the difference.
    ``estimator``: 'frontier_slope', 'accuracy_frontier_slope',
    'compute_optimal_exponent' (or those functions); extra kwargs (size, approach)
    go to it.
    """
    name = estimator if isinstance(estimator, str) else getattr(estimator, "__name__", "")
    if name not in _BUILDERS:
        raise ValueError(f"paired_difference supports {', '.join(_BUILDERS)}; got {estimator!r}")
    value, builder, q, _ = _BUILDERS[name]()
    ca, region_a = _fit_region(cells_from_runs(runs_a, value), min_compute, drop_smallest_decades)
    cb, region_b = _fit_region(cells_from_runs(runs_b, value), min_compute, drop_smallest_decades)
    ca, cb = match_cells(ca, cb, PAIR_ON)
    sa, ia = builder(ca, **kw)[:2]
    sb, ib = builder(cb, **kw)[:2]
    res = paired_seed_bootstrap(ca, cb, sa, sb, n_resamples=n_resamples, seed=seed, scheme=scheme)
    if name == "compute_optimal_exponent":
        q = f"Δγ ({kw.get('size', 'params')}, {kw.get('approach', 'isoflop')})"
    details = {"a": float(sa(ca.means()[None])[0]), "b": float(sb(cb.means()[None])[0]),
               "configs_paired": ca.n_cells, "fit_region_a": region_a, "fit_region_b": region_b}
    return _estimate(res, q, ca.n_runs + cb.n_runs, details)


def extrapolation_are(runs, use_checkpoints: bool = False, *, n_resamples: int = 200, seed: int = 0,
                      scheme: str = "auto", min_checkpoint_fraction: float = 0.1,
                      starts: np.ndarray | None = None) -> Estimate:
    """Absolute relative error of predicting the largest model's final loss.

    Fits L = E + A/N^α + B/D^β (:func:`fits.fit_chinchilla`) on every smaller
    width — final losses only, or also intermediate checkpoints (those after
    ``min_checkpoint_fraction`` of the run, as the Hitchhiker's Guide recommends
    skipping the earliest) — and predicts the largest width at its largest data
    fraction. ARE = |L̂ − L| / L. Bootstrap resamples refit from the full-data
    optimum, all at once.
    """
    cells = cells_from_runs(runs, checkpoints=use_checkpoints)
    w = cells.design["width"]
    wmax = w.max()
    train = np.flatnonzero(w < wmax)
    tcands = np.flatnonzero(w == wmax)
    if train.size == 0:
        raise FitError("extrapolation needs smaller widths to fit on and a larger one to predict.")
    target = int(tcands[np.argmax(cells.design["fraction"][tcands])])
    N = cells.design["params"]
    if use_checkpoints:
        ex = cells.design["ckpt_examples"]
        valid = np.isfinite(ex) & (ex >= min_checkpoint_fraction * cells.design["examples"][:, None])
        ci, vi = np.nonzero(valid[train])
        ci = train[ci]
        Dp = ex[ci, vi]
        last = np.array([np.flatnonzero(np.isfinite(ex[target]))[-1]])[0]
    else:
        ci, vi = train, np.zeros(train.size, int)
        Dp = cells.design["examples"][train]
        last = 0
    Np = N[ci]
    m = cells.means()
    full = fits.fit_chinchilla(Np, Dp, np.exp(m[ci, vi]), starts=starts)
    lnN, lnD = np.log(Np), np.log(Dp)
    Nt, Dt = N[target], cells.design["examples"][target]

    def stat(M):  # every resample (and the point estimate) refits from the full-data optimum
        th, f, _ = fits.fit_chinchilla_batched(lnN, lnD, M[:, ci, vi], np.repeat(full.theta[None], M.shape[0], 0))
        E, A, B, al, be = fits._theta_to_params(th).T
        pred = E + A / Nt ** al + B / Dt ** be
        actual = np.exp(M[:, target, last])
        return np.abs(pred - actual) / actual

    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    details = {"predicted": float(full.predict(Nt, Dt)), "actual": float(np.exp(m[target, last])),
               "target_width": float(wmax), "target_examples": float(Dt), "train_points": int(ci.size),
               "use_checkpoints": bool(use_checkpoints), "E": full.E, "alpha": full.alpha, "beta": full.beta}
    runs_used = int(cells.counts[np.unique(np.append(ci, target))].sum())
    q = "ARE of largest-model loss" + (" (with checkpoints)" if use_checkpoints else " (final losses)")
    return _estimate(res, q, runs_used, details)
