"""Estimators: a RunTable in, an :class:`~pytest_scaling.claims.Estimate` out.

Every estimator is a *pipeline on seed-averaged configurations* (cells):
seed-average (in log space) → [frontier / iso-compute slices / sweep optimum]
→ fit → number. Its uncertainty is the seed bootstrap of the whole pipeline
(:mod:`pytest_scaling.bootstrap`), vectorised over resamples. Each estimate
records the runs it used, the fit region, and (in ``details``) what a reader
needs to judge it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells, match_cells, paired_seed_bootstrap, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.runs import fraction_family

__all__ = [
    "frontier_slope", "accuracy_frontier_slope", "saturating_frontier", "compute_optimal_exponent",
    "per_axis_exponents", "lr_fan_in_slope", "paired_difference", "extrapolation_are", "ols_slope",
    "cells_from_runs", "compute_optimal_exponents", "frontier_curvature", "extrapolation_are_difference",
    "sample_efficiency_slope", "fit_region_shift", "per_axis_gamma", "small_chinchilla_grid",
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
    chains = _chain_keys(col)
    if not checkpoints:
        return Cells.from_arrays(keys, col["seed"], vals, design, KEY, chains, col["fraction"])
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
    return Cells.from_arrays(keys, col["seed"], vmat, design, KEY, chains, col["fraction"])


def _chain_keys(col: dict) -> list[tuple]:
    """Per run, its training chain less the seed: the runs of one seed at fractions f, f/2, f/4, …
    (same fraction family) of one configuration are prefixes of one
    trajectory, so their seed noise is correlated and the bootstrap resamples them together."""
    family = [fraction_family(f) for f in col["fraction"].astype(float).tolist()]
    rest = [k for k in KEY if k != "fraction"]
    return list(zip(*(col[k].tolist() for k in rest), family))


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
                  drop_edge: bool = False, starts: np.ndarray | None = None, **_):
    if size not in ("params", "width"):
        raise ValueError(f"size must be 'params' or 'width', got {size!r}")
    if approach == "parametric":
        return _parametric_stat(cells, size, starts)
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

    def optima(M):
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
        return out

    def stat(M):
        return _ols_slope_batched(xC, optima(M))

    pts = optima(cells.means()[None])[0]
    line = fits.fit_power_law(np.exp(xC), np.exp(pts)) if np.unique(pts).size > 1 else None
    info = {"levels": how, "slices_used": len(slices), "slices_optimum_at_edge": len(dropped),
            "slice_compute": np.exp(xC).tolist(),
            "nopt_points": {approach: [[float(c), float(n)] for c, n in zip(np.exp(xC), np.exp(pts))]}}
    if line is not None:
        info["nopt_fits"] = {approach: {"slope": line.slope, "prefactor": line.prefactor}}
    reason = ""
    if not drop_edge and 2 * len(dropped) > len(slices):
        reason = (f"{len(dropped)} of {len(slices)} iso-compute slices have their optimum at the smallest or "
                  f"largest size: the grid does not bracket N_opt")
    return stat, info, reason


def small_chinchilla_grid() -> np.ndarray:
    """A 3·3·3·4·4 = 432-start subset of :func:`fits.chinchilla_grid` (a, b ∈ {0, 10, 20},
    e ∈ {−1, 0, 1}, α, β ∈ {0.25, 0.5, 1, 2}): ~10× cheaper, for claims that refit often.
    The basin of the optimum on the grids we fit is wide: the full grid and this one give the
    same γ = β/(α+β) to 1e-4 on the synthetic grid (tests) and to 4 digits on the tiny
    Fashion-MNIST grid."""
    a = np.array([0.0, 10.0, 20.0])
    e = np.array([-1.0, 0.0, 1.0])
    al = np.array([0.25, 0.5, 1.0, 2.0])
    g = np.stack(np.meshgrid(a, a, e, al, al, indexing="ij"), axis=-1).reshape(-1, 5)
    return g


def _parametric_nopt_points(cells: Cells, size: str, fit, n_points: int = 8) -> list:
    """N_opt(C) implied by a fitted L(N, D): per compute level, the size minimising the law along
    C = flops_per_example(N)·3·D, with ln flops_per_example fitted as a line in ln N over the grid."""
    N = cells.design[size]
    fpe = cells.design["flops"] / cells.design["examples"]
    k1, k0 = np.polyfit(np.log(N), np.log(fpe), 1)
    lnN = np.linspace(np.log(N.min()) - 1.0, np.log(N.max()) + 1.0, 400)
    out = []
    for C in np.geomspace(cells.design["flops"].min(), cells.design["flops"].max(), n_points):
        D = C / (np.exp(k0 + k1 * lnN))
        L = fit.E + fit.A / np.exp(lnN) ** fit.alpha + fit.B / D ** fit.beta
        out.append([float(C), float(np.exp(lnN[int(np.argmin(L))]))])
    return out


def _flops_exponent(cells: Cells, size: str) -> float:
    """k in FLOPs per example ∝ size^k, fitted over the grid (1 when C ∝ N·D, as for transformers;
    ≈1.5 in params for the exercise's CNN, whose conv FLOPs grow faster than its parameters)."""
    N = cells.design[size]
    if np.unique(N).size < 2:
        return 1.0
    return float(np.polyfit(np.log(N), np.log(cells.design["flops"] / cells.design["examples"]), 1)[0])


def _parametric_stat(cells: Cells, size: str, starts: np.ndarray | None = None):
    """γ from L = E + A/N^α + B/D^β. Minimising L at fixed C ∝ N^k·D gives N_opt ∝ C^{β/(α + kβ)}
    — Chinchilla's β/(α+β) when k = 1. k is the grid's FLOPs-per-example exponent, so this γ is in
    the same units (the counted FLOPs) as the envelope and IsoFLOP approaches."""
    N = cells.design[size]
    D = cells.design["examples"]
    m = cells.means()[:, 0]
    full = fits.fit_chinchilla(N, D, np.exp(m), starts=starts)
    lnN, lnD = np.log(N), np.log(D)
    k = _flops_exponent(cells, size)

    def stat(M):
        x, f, _ = fits.fit_chinchilla_batched(lnN, lnD, M[:, :, 0], np.repeat(full.theta[None], M.shape[0], 0))
        al, be = x[:, 3], x[:, 4]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = be / (al + k * be)
        return np.where(np.isfinite(f) & (al > 0) & (be > 0), g, np.nan)

    gamma = full.beta / (full.alpha + k * full.beta)
    return stat, {"E": full.E, "A": full.A, "B": full.B, "alpha": full.alpha, "beta": full.beta,
                  "a": full.a, "b": full.b, "flops_exponent_k": k, "gamma_if_C_prop_ND": full.a,
                  "n_starts": full.n_starts,
                  "nopt_points": {"parametric": _parametric_nopt_points(cells, size, full)},
                  "nopt_fits": {"parametric": {"slope": gamma, "prefactor": None}}}


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
        stat.ln_mult.append(out - (np.array([g[2] for g in groups]) - 0.5 * x)[None])
        return _ols_slope_batched(x, out)

    stat.ln_mult = []  # per call: [B, widths] ln lr_mult* (the first call is the point estimate)
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
                             min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                             starts: np.ndarray | None = None) -> Estimate:
    """γ in N_opt ∝ C^γ by one of Chinchilla's approaches, seed-bootstrapped.

    ``envelope`` (1): per iso-compute slice the size with the lowest loss;
    ``isoflop`` (2): per slice a parabola of ln L in ln N, its vertex (clipped to
    the slice's sizes); both then fit ln N_opt on ln C. Slices are chosen by the
    design alone (≥4 sizes), so every resample uses the same slices — choosing
    them from the data (dropping unbracketed ones) biased γ and cost coverage
    (86–88% in simulation vs 94–95%). Slices with an edge optimum are counted in
    ``details``; when they are the majority the estimate is flagged.
    ``parametric`` (3): γ = β/(α + kβ) from :func:`fits.fit_chinchilla`, k the grid's
    FLOPs-per-example exponent in N (C ∝ N^k·D; k = 1 gives Chinchilla's β/(α+β), kept in
    ``details['gamma_if_C_prop_ND']``).
    ``compare=True`` adds the other approaches' point estimates to ``details``.
    ``starts``: the parametric fit's starting grid (default the full 4500-start grid;
    :func:`small_chinchilla_grid` is ~10× cheaper).
    ``details["nopt_points"]`` / ``["nopt_fits"]`` hold N_opt vs C for the report's plot.
    """
    full = cells_from_runs(runs)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    est = _run(cells, _optimum_stat, f"γ in N_opt ∝ C^γ ({size}, {approach})", n_resamples, seed, scheme, region,
               full, size=size, approach=approach, starts=starts)
    if compare:
        others = {}
        for other in ("envelope", "isoflop", "parametric"):
            if other == approach:
                continue
            try:
                st = _optimum_stat(cells, size=size, approach=other, starts=starts)[0]
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
    ``details["lr_optima"]`` = ``{width: [lr_mult*, 2.5%, 97.5%]}`` (seed-bootstrap percentiles
    of each width's optimum, in units of the swept multiplier) for the report's plot;
    ``details["distance_from_mup"]`` = slope − (−1), the gap to the μP-style LR ∝ 1/fan_in.
    """
    cells = cells_from_runs(sweep_runs)
    stat, info, reason = _lr_stat(cells, half_window=half_window)
    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    point, boot = stat.ln_mult[0][0], np.concatenate(stat.ln_mult[1:], 0)
    optima = {}
    for j, w in enumerate(info["widths"]):
        b = boot[:, j][np.isfinite(boot[:, j])]
        lo, hi = np.quantile(b, [0.025, 0.975]) if b.size else (np.nan, np.nan)
        optima[f"{w:g}"] = [float(np.exp(point[j])), float(np.exp(lo)), float(np.exp(hi))]
    info = {**info, "lr_optima": optima, "distance_from_mup": res.point + 1.0,
            "distance_from_sqrt_rule": res.point + 0.5}
    return _estimate(res, "slope d lnLR*/d ln fan_in", cells.n_runs, info, reason)


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
    'compute_optimal_exponent' (or those functions), or 'frontier_level' (mean ln of
    the frontier over the grid's compute values: a − b compares the two frontiers at
    equal compute); extra kwargs (size, approach) go to it.
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


def _extrapolation_split(cells: Cells) -> tuple[np.ndarray, int]:
    """Cells to fit on (every width below the largest) and the one to predict (largest width, most data)."""
    w = cells.design["width"]
    train = np.flatnonzero(w < w.max())
    if train.size == 0:
        raise FitError("extrapolation needs smaller widths to fit on and a larger one to predict.")
    largest = np.flatnonzero(w == w.max())
    return train, int(largest[np.argmax(cells.design["fraction"][largest])])


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
    train, target = _extrapolation_split(cells)
    wmax = cells.design["width"][target]
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


# --------------------------------------------------------------------------- estimators for the claims suite

def _frontier_level_stat(cells: Cells, **_):
    """Mean over the grid's compute values of ln F(C), F the frontier as a step function
    (the lowest seed-mean loss among configurations with compute ≤ C). Two conditions on the
    same grid are thus compared at equal compute: a − b is the mean log-ratio of their frontiers."""
    order = np.argsort(cells.design["flops"], kind="stable")

    def stat(M):
        return np.minimum.accumulate(M[:, order, 0], axis=1).mean(axis=1)

    return stat, {"compute_points": int(order.size)}


_BUILDERS["frontier_level"] = lambda: ("loss", _frontier_level_stat, "mean Δ ln L on the frontier at equal compute",
                                       {})


def compute_optimal_exponents(runs, size: str = "params", approaches=("envelope", "isoflop", "parametric"), *,
                              n_resamples: int = 400, seed: int = 0, scheme: str = "auto",
                              starts: np.ndarray | None = None, min_compute: float | None = None,
                              drop_smallest_decades: float = 0.0) -> dict[str, Estimate]:
    """γ by several Chinchilla approaches on the *same* seed resamples, and their pairwise differences.

    Returns ``{approach: Estimate, "a − b": Estimate, ...}``; a difference's interval comes from
    the joint bootstrap (resamples where both approaches are finite), so it accounts for the
    approaches sharing data. Every estimate's ``details`` carries all approaches'
    ``nopt_points``/``nopt_fits`` (the report's N_opt plot). A FitError from any approach propagates.
    """
    full = cells_from_runs(runs)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    built = {a: _optimum_stat(cells, size=size, approach=a, starts=starts) for a in approaches}
    stats = {a: b[0] for a, b in built.items()}
    store = {a: [] for a in approaches}

    def joint(M):
        vals = {a: np.asarray(f(M), float) for a, f in stats.items()}
        for a in approaches:
            store[a].append(vals[a])
        return vals[approaches[0]]

    seed_bootstrap(cells, joint, n_resamples=n_resamples, seed=seed, scheme=scheme)
    point = {a: v[0][0] for a, v in store.items()}
    boot = {a: np.concatenate(v[1:]) for a, v in store.items()}
    points, nfits = {}, {}
    for b in built.values():
        points.update(b[1].get("nopt_points", {}))
        nfits.update(b[1].get("nopt_fits", {}))
    method = f"seed bootstrap ({_scheme_name(cells, scheme)}, percentile, joint over approaches)"
    out = {}

    def make(value, samples, q, info, reason=""):
        ok = np.isfinite(samples)
        if not np.isfinite(value) or (~ok).sum() > 0.05 * samples.size:
            raise FitError(f"{q}: {(~ok).sum()} of {samples.size} resamples gave no finite estimate; "
                           f"the data do not pin it down.")
        d = {**info, "fit_region": region, "nopt_points": points, "nopt_fits": nfits,
             "all_approaches": {a: point[a] for a in approaches}}
        if (~ok).sum():
            d["failed_resamples"] = int((~ok).sum())
        return Estimate(value=float(value), method=method, runs=cells.n_runs, quantity=q, samples=samples[ok],
                        n_resamples=int(ok.sum()), reason=reason, details=d)

    for a in approaches:
        b = built[a]
        info = {k: v for k, v in b[1].items() if k not in ("nopt_points", "nopt_fits")}
        out[a] = make(point[a], boot[a], f"γ in N_opt ∝ C^γ ({size}, {a})", info, b[2] if len(b) > 2 else "")
    for i, a in enumerate(approaches):
        for b in approaches[i + 1:]:
            reason = "; ".join(r for r in (out[a].reason, out[b].reason) if r)
            out[f"{a} − {b}"] = make(point[a] - point[b], boot[a] - boot[b], f"γ({a}) − γ({b})",
                                     {"a": point[a], "b": point[b]}, reason)
    return out


def _scheme_name(cells: Cells, scheme: str) -> str:
    from pytest_scaling.bootstrap import _SCHEME_NAMES, resolve_scheme
    return _SCHEME_NAMES[resolve_scheme(scheme, cells)]


def frontier_curvature(runs, *, n_resamples: int = 1000, seed: int = 0, scheme: str = "auto",
                       min_compute: float | None = None, drop_smallest_decades: float = 0.0) -> Estimate:
    """How far the frontier is from a straight line in log-log, relative to its slope.

    Fits ln L = a + b·x + c·x² (x = ln C, centred) to the frontier points and returns
    2c·(ln C_max − ln C_min) / |s|: the change of the local slope across the fitted compute
    range as a fraction of the frontier's straight-line slope s. 0 for a pure power law;
    positive when the frontier flattens (towards an irreducible loss), 1 when the slope
    changes by its own size. Seed-bootstrapped through the frontier like
    :func:`frontier_slope`; the absolute slope change and ``s`` are in ``details``.
    """
    full = cells_from_runs(runs)
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
    return _estimate(res, "relative change of the frontier's local slope", cells.n_runs, details)


def per_axis_gamma(runs, *, compare: str | None = "isoflop", size: str = "params", n_resamples: int = 1000,
                   seed: int = 0, scheme: str = "auto", starts: np.ndarray | None = None) -> dict[str, Estimate]:
    """Kaplan-style per-axis laws and the compute-optimal exponent they imply.

    α_N = −d lnL/d lnN (largest data fraction), α_D = −d lnL/d lnD (largest width); in
    L = E + A/N^α + B/D^β with C ∝ N^k·D, N_opt ∝ C^{β/(α+kβ)}, so the implied γ is
    α_D/(α_N + k·α_D), k the grid's FLOPs-per-example exponent (1 for C ∝ N·D); E is
    ignored, which biases both slopes towards 0. Returns
    ``{"alpha_N", "alpha_D", "gamma_implied"}`` and, with ``compare`` (an approach of
    :func:`compute_optimal_exponent`), ``"gamma_implied − direct"`` from the same resamples.
    """
    cells = cells_from_runs(runs)
    sN = _axis_stat(cells, axis="N", size=size)[0]
    sD = _axis_stat(cells, axis="D", size=size)[0]
    k = _flops_exponent(cells, size)
    direct = _optimum_stat(cells, size=size, approach=compare, starts=starts)[0] if compare else None
    store = {"alpha_N": [], "alpha_D": [], "gamma_implied": [], "direct": []}

    def joint(M):
        aN, aD = -sN(M), -sD(M)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where((aN > 0) & (aD > 0), aD / (aN + k * aD), np.nan)
        store["alpha_N"].append(aN)
        store["alpha_D"].append(aD)
        store["gamma_implied"].append(g)
        store["direct"].append(direct(M) if direct else g)
        return g

    seed_bootstrap(cells, joint, n_resamples=n_resamples, seed=seed, scheme=scheme)
    pt = {k: float(v[0][0]) for k, v in store.items()}
    bs = {k: np.concatenate(v[1:]) for k, v in store.items()}
    method = f"seed bootstrap ({_scheme_name(cells, scheme)}, percentile, joint)"
    details = {"alpha_N": pt["alpha_N"], "alpha_D": pt["alpha_D"], "gamma_implied": pt["gamma_implied"],
               "flops_exponent_k": k}
    if compare:
        details[f"gamma_direct_{compare}"] = pt["direct"]
    quant = {"alpha_N": "α_N = −d lnL/d lnN", "alpha_D": "α_D = −d lnL/d lnD",
             "gamma_implied": "γ implied = α_D/(α_N+k·α_D)"}
    out = {}
    for k, q in quant.items():
        out[k] = _estimate_from(pt[k], bs[k], q, method, cells.n_runs, details)
    if compare:
        out["gamma_implied − direct"] = _estimate_from(pt["gamma_implied"] - pt["direct"],
                                                       bs["gamma_implied"] - bs["direct"],
                                                       f"γ implied − γ ({compare})", method, cells.n_runs, details)
    return out


def _estimate_from(point, samples, quantity, method, runs, details, reason="") -> Estimate:
    ok = np.isfinite(samples)
    if not np.isfinite(point) or (~ok).sum() > 0.05 * samples.size:
        raise FitError(f"{quantity}: {(~ok).sum()} of {samples.size} resamples gave no finite estimate "
                       f"(a slope of the wrong sign?); the data do not pin it down.")
    d = dict(details)
    if (~ok).sum():
        d["failed_resamples"] = int((~ok).sum())
    return Estimate(value=float(point), method=method, runs=runs, quantity=quantity, samples=samples[ok],
                    n_resamples=int(ok.sum()), reason=reason, details=d)


def extrapolation_are_difference(runs, *, n_resamples: int = 200, seed: int = 0, scheme: str = "auto",
                                 min_checkpoint_fraction: float = 0.1,
                                 starts: np.ndarray | None = None) -> Estimate:
    """ARE(with intermediate checkpoints) − ARE(final losses only), paired on the same resamples.

    Both fits of :func:`extrapolation_are` run on every seed resample of one set of cells (each
    run's checkpoint curve, its last point the final loss), so seed noise shared by the two
    strategies cancels. Negative: checkpoints predict the largest model's final loss better.
    """
    cells = cells_from_runs(runs, checkpoints=True)
    ex = cells.design["ckpt_examples"]
    last = np.array([np.flatnonzero(np.isfinite(r))[-1] for r in ex])
    if not np.allclose(ex[np.arange(ex.shape[0]), last], cells.design["examples"]):
        raise FitError("the last checkpoint of some runs is not the final loss; cannot compare strategies.")
    train, target = _extrapolation_split(cells)
    N = cells.design["params"]
    Nt, Dt = N[target], cells.design["examples"][target]
    valid = np.isfinite(ex) & (ex >= min_checkpoint_fraction * cells.design["examples"][:, None])
    ci_k, vi_k = np.nonzero(valid[train])
    ci_k = train[ci_k]
    sets = {"checkpoints": (ci_k, vi_k, ex[ci_k, vi_k]), "final": (train, last[train], cells.design["examples"][train])}
    m = cells.means()
    prep, info = {}, {}
    for name, (ci, vi, Dp) in sets.items():
        f = fits.fit_chinchilla(N[ci], Dp, np.exp(m[ci, vi]), starts=starts)
        prep[name] = (ci, vi, np.log(N[ci]), np.log(Dp), f.theta)
        info[name] = {"predicted": float(f.predict(Nt, Dt)), "train_points": int(ci.size), "alpha": f.alpha,
                      "beta": f.beta, "E": f.E}
    store = {"checkpoints": [], "final": []}

    def stat(M):
        actual = np.exp(M[:, target, last[target]])
        for name, (ci, vi, lnN, lnD, th0) in prep.items():
            th, _, _ = fits.fit_chinchilla_batched(lnN, lnD, M[:, ci, vi], np.repeat(th0[None], M.shape[0], 0))
            E, A_, B_, al, be = fits._theta_to_params(th).T
            store[name].append(np.abs(E + A_ / Nt ** al + B_ / Dt ** be - actual) / actual)
        return store["checkpoints"][-1] - store["final"][-1]

    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    actual = float(np.exp(m[target, last[target]]))
    details = {"actual": actual, "target_width": float(cells.design["width"][target]), "target_examples": float(Dt),
               "are_checkpoints": float(store["checkpoints"][0][0]), "are_final": float(store["final"][0][0]),
               "with_checkpoints": info["checkpoints"], "final_only": info["final"]}
    return _estimate(res, "ΔARE (checkpoints − final only)", cells.n_runs, details)


def sample_efficiency_slope(runs, *, target: float | None = None, size: str = "params", n_resamples: int = 1000,
                            seed: int = 0, scheme: str = "auto") -> Estimate:
    """Slope of ln(examples needed to reach a target loss) on ln N, from checkpoint curves.

    Uses each width's run at the largest data fraction (its checkpoints trace loss vs examples
    seen). Examples-to-target interpolates log-linearly (ln examples on ln loss) between the
    checkpoints bracketing the target, or extends the last segment when a resample ends just
    above it. ``target`` defaults to the worst width's final loss (every width reaches it),
    fixed from the data and kept across resamples. Negative: larger models need fewer examples
    (Kaplan et al. 2020, §5 "larger models are more sample-efficient").
    """
    allc = cells_from_runs(runs, checkpoints=True)
    frmax = allc.design["fraction"].max()
    cells = allc.subset(np.isclose(allc.design["fraction"], frmax))
    if np.unique(cells.design["width"]).size < 3:
        raise FitError("sample efficiency needs ≥3 widths at the largest data fraction.")
    ex = cells.design["ckpt_examples"]
    if np.sum(np.isfinite(ex[0])) < 2:
        raise FitError("sample efficiency needs ≥2 checkpoints per run.")
    lnex = np.log(np.where(np.isfinite(ex), ex, np.nan))
    m = cells.means()
    nval = np.isfinite(ex).sum(1)
    finals = m[np.arange(m.shape[0]), nval - 1]
    lt = float(finals.max()) if target is None else float(np.log(target))
    if target is not None and (lt < finals.max() - 0.5 or lt >= m[:, 0].min()):
        raise FitError(f"target loss {target:g} is outside what every width's checkpoint curve reaches.")
    xN = np.log(cells.design[size])

    def needed(M):
        B, C, V = M.shape
        out = np.empty((B, C))
        for c in range(C):
            n = nval[c]
            y = M[:, c, :n]
            below = y <= lt
            k = np.where(below.any(1), below.argmax(1), n - 1)  # first checkpoint at/below target
            k = np.clip(k, 1, n - 1)
            y0, y1 = y[np.arange(B), k - 1], y[np.arange(B), k]
            e0, e1 = lnex[c, k - 1], lnex[c, k]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.where(y1 != y0, (lt - y0) / (y1 - y0), 1.0)
            out[:, c] = e0 + t * (e1 - e0)
        return out

    def stat(M):
        return _ols_slope_batched(xN, needed(M))

    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    pts = needed(m[None])[0]
    details = {"target_loss": float(np.exp(lt)), "fraction": float(frmax), "widths": cells.design["width"].tolist(),
               "examples_needed": np.exp(pts).tolist()}
    return _estimate(res, "slope d ln(examples to target)/d lnN", cells.n_runs, details)


def fit_region_shift(runs, estimator: str = "compute_optimal_exponent", *, drop_smallest_decades: float = 1.0,
                     n_resamples: int = 1000, seed: int = 0, scheme: str = "auto", **kw) -> Estimate:
    """Estimate(fit region without the smallest ``drop_smallest_decades`` of compute) − estimate(all runs),
    both on the same seed resamples ("Scaling Laws, Carefully": fit-region choice moves exponents).

    ``estimator``: 'frontier_slope' or 'compute_optimal_exponent' (kwargs such as ``approach`` go to it).
    """
    if estimator not in ("frontier_slope", "compute_optimal_exponent"):
        raise ValueError(f"fit_region_shift supports 'frontier_slope' and 'compute_optimal_exponent', "
                         f"got {estimator!r}")
    builder = _frontier_stat if estimator == "frontier_slope" else _optimum_stat
    full = cells_from_runs(runs)
    sub, region = _fit_region(full, None, drop_smallest_decades)
    keep = np.flatnonzero(full.design["flops"] >= region["min_compute"] * (1 - 1e-12))
    s_full = builder(full, **kw)[0]
    s_sub = builder(sub, **kw)[0]
    store = []

    def stat(M):
        a, b = s_full(M), s_sub(M[:, keep])
        store.append((a, b))
        return b - a

    res = seed_bootstrap(full, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    q = ("Δ slope d lnL/d lnC" if estimator == "frontier_slope" else "Δγ") + \
        f" (drop smallest {drop_smallest_decades:g} decade(s) − all)"
    details = {"all_runs": float(store[0][0][0]), "restricted": float(store[0][1][0]), "fit_region": region,
               "estimator": estimator, **{k: v for k, v in kw.items() if isinstance(v, (str, int, float))}}
    return _estimate(res, q, full.n_runs, details)
