"""The LR sweep: each width's optimum LR* and the slope of ln LR* on ln fan_in."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import _estimate, _ols_slope_batched, cells_from_runs, expanded, t_expansion

#: Points (and residual pool) up to this many nats of ln loss above each width's seed-mean minimum.
LR_LEVEL = fits.LR_LEVEL


def _lr_groups(cells: Cells):
    fr = np.unique(cells.design["fraction"])
    if fr.size != 1:
        raise FitError(f"an LR sweep must be at one data fraction, got {fr.tolist()}; "
                       f"filter with runs.where(fraction=...).")
    widths = np.unique(cells.design["width"])
    if widths.size < 2:
        raise FitError("the LR slope needs sweeps at ≥2 widths (e.g. 4, 11, 32).")
    groups = []
    for w in widths:
        idx = np.flatnonzero(cells.design["width"] == w)
        idx = idx[np.argsort(cells.design["lr_mult"][idx])]
        if idx.size < 3:
            raise FitError(f"the LR sweep at width {w:g} has {idx.size} usable learning rate(s); "
                           f"a local parabola needs ≥3 (did high-LR runs diverge?).")
        groups.append((w, idx, np.log(cells.design["lr_mult"][idx]), float(np.log(cells.design["lr_scale"][idx][0])),
                       float(np.log(9 * w))))
    return widths, groups


def _vertices(groups, M: np.ndarray, level: float, half_window: int | None) -> np.ndarray:
    """ln lr_mult* per resample and width ``[B, widths]`` from resampled cell means ``M`` ``[B, C, 1]``."""
    out = np.empty((M.shape[0], len(groups)))
    for j, (_, idx, u, _, _) in enumerate(groups):
        Y = M[:, idx, 0]
        if half_window is None:
            W, k = fits.lr_level_weights(Y, level)
        else:
            k = np.argmin(Y, axis=1)
            lo, hi = fits.lr_window(k, u.size, half_window)
            ar = np.arange(u.size)[None]
            W = ((ar >= lo[:, None]) & (ar < hi[:, None])).astype(float)
        out[:, j] = fits.lr_vertex(u, Y, W, k)[0]
    return out


def _near_pool(cells: Cells, groups, level: float) -> np.ndarray:
    """Residual-pool ids: 0 for every cell whose seed-mean ln loss is within ``level`` of its
    width's minimum (one pool across widths); every other cell its own pool (its own seeds)."""
    m = cells.means()[:, 0]
    pool = 1 + np.arange(cells.n_cells)
    for _, idx, _, _, _ in groups:
        pool[idx[m[idx] <= m[idx].min() + level]] = 0
    return pool


def _curve_cells(cells: Cells, groups) -> Cells:
    """``cells`` with each width's sweep as one chain group: a resample draws seed ids per width and uses
    each drawn seed at every LR of that width, so a (width, seed) sweep curve stays whole."""
    width_id = np.zeros(cells.n_cells, int)
    for j, (_, idx, _, _, _) in enumerate(groups):
        width_id[idx] = j
    return dataclasses.replace(cells, chain=width_id, chain_pos=None)


def _curve_df(cells: Cells, groups) -> float:
    """Satterthwaite degrees of freedom of the slope's variance under whole-curve resampling.

    The slope is linear in the widths' vertices, Σ c_w v_w (c_w = OLS weights on ln fan_in), and each
    width's vertex variance is estimated from its own k_w seed curves (k_w − 1 df). With the variances
    taken alike across widths (the design, not the data: a 1-df estimate per width would make the df
    itself noisy), df = (Σ c_w²)² / Σ c_w⁴/(k_w − 1); 3 widths × 2 seeds: 2.0 (the middle width carries
    almost no weight in the slope), × 3 seeds: 4.0."""
    x = np.array([g[4] for g in groups])
    c2 = (x - x.mean()) ** 2
    k = np.array([np.unique(cells.seeds[idx][cells.seeds[idx] >= 0]).size for _, idx, _, _, _ in groups])
    return float(c2.sum() ** 2 / (c2 ** 2 / np.maximum(k - 1, 1)).sum())


def _lr_stat(cells: Cells, level: float = LR_LEVEL, half_window: int | None = None, **_):
    widths, groups = _lr_groups(cells)
    m = cells.means()[:, 0]
    per_width, reasons = {}, []
    for w, idx, _, lnscale, _ in groups:
        opt = fits.fit_lr_optimum(cells.design["lr_mult"][idx], np.exp(m[idx]), half_window or 2,
                                  level=level if half_window is None else None)
        per_width[f"{w:g}"] = {"lr_mult_opt": opt.lr, "lr_opt": float(np.exp(lnscale) * opt.lr / np.sqrt(9 * w)),
                               "at_edge": opt.at_edge}
        if opt.at_edge:
            reasons.append(f"LR optimum at the sweep edge for width {w:g} ({opt.reason})")
    x = np.array([g[4] for g in groups])
    offset = np.array([g[3] for g in groups]) - 0.5 * x  # ln LR* = offset + ln lr_mult*

    def stat(M):
        v = _vertices(groups, M, level, half_window)
        stat.ln_mult.append(v)
        return _ols_slope_batched(x, offset[None] + v)

    stat.ln_mult = []  # per call: [B, widths] ln lr_mult* (the first call is the point estimate)
    stat.slope_at = lambda lv, hw=None: float(_ols_slope_batched(
        x, offset[None] + _vertices(groups, m[None, :, None], lv, hw))[0])
    stat.mult_at = lambda lv, hw=None: np.exp(_vertices(groups, m[None, :, None], lv, hw)[0])
    return stat, {"per_width": per_width, "widths": widths.tolist()}, "; ".join(reasons), groups


def lr_fan_in_slope(sweep_runs, *, level: float = LR_LEVEL, half_window: int | None = None,
                    n_resamples: int = 2000, seed: int = 0, scheme: str = "auto") -> Estimate:
    """Slope of ln LR* on ln fan_in (fan_in = 9·width; LR* = lr_scale·lr_mult*/sqrt(fan_in)).

    LR* per width is the vertex of a weighted parabola in ln LR (never the raw argmin).
    The window is chosen by *level*, not by a count of points: a point h nats of ln loss
    above the width's seed-mean minimum weighs (1 − (h/level)²)², nothing from ``level``
    (0.3 nats) up, and the best point's two neighbours always count (≥3 points). A window of
    ±2 sweep points instead reached the divergence wall a factor of 4 above LR* at
    narrow widths and pulled their vertex toward low LR more than at wide ones: on
    simulated uneven basins (flat or slowly rising below LR*, a wall above it that comes
    closer at narrow widths) that moved the noise-free slope by +0.06…+0.26 for 2× steps;
    the level window moves it by −0.09…+0.09 (each width's vertex still sits 0.3–0.6 low
    in ln LR, toward the gentle side, but nearly alike at every width, so it cancels in
    the slope; ``lr_optima`` inherit that offset).
    ``half_window=h``: the old window of the best point ±h points (for comparison).

    Seed bootstrap (every resample redoes the windows and vertices) of whole sweep curves
    (``scheme='auto'``, or ``'curve'``): the runs of one (width, seed) sweep share their
    initialisation and data order, so their noise is correlated along the LR axis (a seed whose
    optimum sits a little higher moves every point of its curve). Each resample draws, per width,
    that width's seed ids with replacement and uses each drawn seed at every LR (its whole curve,
    residuals inflated by sqrt(k/(k−1)); a drawn seed whose run at some LR diverged takes one of that
    cell's own seeds there). With k seeds a width's vertex variance rests on k − 1 df, so the
    percentile interval is expanded by t/z at the slope's Satterthwaite df under the design's weights,
    (Σ c_w²)² / Σ c_w⁴/(k_w − 1), c_w the OLS weights on ln fan_in: 2.0 for 3 widths × 2 seeds (the
    middle width barely weighs in a slope), 4.0 with 3 seeds. On simulated 2-seed 7-point sweeps with
    a per-curve offset of the optimum (sd 0.3 in ln LR) and uneven noise growing up the wall, true slope
    −0.5, 400 replicates: coverage 94.3% (median width 1.08), against 86.8% (0.62) for the cell-wise
    pooled scheme below, which treats one curve's points as independent draws
    (tests/unit/test_lr_curves.py). With 2 seeds a width has three distinct draws, so the percentile
    interval at any level past 95% reads the same extreme draws (the expansion is computed at 95%).

    ``scheme='pooled'`` (or ``'cell'``, ``'seed'``): the earlier cell-wise resampling, for comparison.
    Under 'pooled' the residual pool is restricted by the same level: cells within ``level`` of their
    width's seed-mean minimum share one pool across widths; every other cell (up the wall, where one
    seed may collapse: residuals of 0.14–0.85 nats against ~0.04 at the optimum) resamples its own
    seeds. Pooling every cell handed the wall's noise to the cells that decide LR*: the interval was
    about twice too wide (simulated 7-point sweeps with independent noise per run, true slope −0.5:
    median width 1.16 → 0.59, coverage 97.6% → 95.4%; 13 points: 1.43 → 0.68, 100% → 97.0%; see
    tests/unit/test_lr_interval.py).

    If any width's optimum is at the sweep's edge the estimate carries a ``reason`` and
    every claim on it is inconclusive: a slope fitted to edge optima reproduces the
    sweep's design, not the optimum.
    ``details["lr_optima"]`` = ``{width: [lr_mult*, 2.5%, 97.5%]}`` (seed-bootstrap percentiles
    of each width's optimum, in units of the swept multiplier, not expanded: a plot aid) for the
    report's plot; ``details["bootstrap_unit"]``, ``["interval_expansion"]`` and ``["expansion_df"]``
    the resampling unit and the t/z expansion;
    ``details["lr_window"]`` the window and pool rule; ``details["window_sensitivity"]``
    the slope and each width's lr_mult* with the level halved and doubled and with the
    ±2-point window; ``details["distance_from_mup"]`` = slope − (−1), the gap to the
    μP-style LR ∝ 1/fan_in.
    """
    cells = cells_from_runs(sweep_runs)
    stat, info, reason, groups = _lr_stat(cells, level=level, half_window=half_window)
    pool = _near_pool(cells, groups, level)
    curves = scheme in ("auto", "curve")
    df = factor = None
    if curves:
        df = _curve_df(cells, groups)
        factor = t_expansion(df)
        res = seed_bootstrap(_curve_cells(cells, groups), stat, n_resamples=n_resamples, seed=seed, scheme="chain")
        res = dataclasses.replace(expanded(res, factor), method=(
            f"seed bootstrap (whole (width, seed) sweep curves, percentile expanded ×{factor:.3f}: t/z at "
            f"{df:.1f} df)"))
    else:
        res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme, pool=pool)
    point, boot = stat.ln_mult[0][0], np.concatenate(stat.ln_mult[1:], 0)
    optima = {}
    for j, w in enumerate(info["widths"]):
        b = boot[:, j][np.isfinite(boot[:, j])]
        lo, hi = np.quantile(b, [0.025, 0.975]) if b.size else (np.nan, np.nan)
        optima[f"{w:g}"] = [float(np.exp(point[j])), float(np.exp(lo)), float(np.exp(hi))]
    variants = {f"level {level / 2:g}": (level / 2, None), f"level {level:g}": (level, None),
                f"level {2 * level:g}": (2 * level, None), "±2 points": (level, 2)}
    sens = {"slope": {k: stat.slope_at(*a) for k, a in variants.items()},
            "lr_mult_opt": {k: {f"{w:g}": float(v) for w, v in zip(info["widths"], stat.mult_at(*a))}
                            for k, a in variants.items()}}
    levels = [sens["slope"][k] for k in list(variants)[:3]]
    sens["slope_spread"] = float(max(levels) - min(levels))
    n_near = int((pool == 0).sum())
    rule = (f"vertex: weighted parabola, weight (1 − (h/{level:g})²)² at h nats above the width's minimum "
            f"(best point's neighbours ≥ 0.05)" if half_window is None else
            f"vertex: parabola through the best point ±{half_window} points")
    info = {**info, "seed_field": "sweep_seeds", "lr_optima": optima, "distance_from_mup": res.point + 1.0,
            "distance_from_sqrt_rule": res.point + 0.5,
            "lr_window": {"rule": rule, "level": level, "half_window": half_window,
                          "pool": f"residuals pooled over the {n_near} cells within {level:g} nats of their "
                                  f"width's minimum; other cells resample their own seeds (scheme 'pooled' only)",
                          "near_cells": n_near},
            "bootstrap_unit": ("(width, seed) sweep curve: seeds drawn per width, each at every LR" if curves
                               else "configuration (cell): each LR's seeds drawn independently"),
            "window_sensitivity": sens}
    if curves:
        info.update(interval_expansion=factor, expansion_df=df)
    est = _estimate(res, "slope d lnLR*/d ln fan_in", cells.n_runs, info, reason)
    return dataclasses.replace(est, to_decide=_widen_sweep(cells, per_width=info["per_width"])) if reason else est


def _widen_sweep(cells: Cells, per_width: dict) -> str:
    """The sweep that would bracket every edge optimum: the sweep's own multipliers and two more factors
    of 2 past each edge hit."""
    mults = np.unique(cells.design["lr_mult"])
    lo, hi = float(mults.min()), float(mults.max())
    edges = [opt["lr_mult_opt"] for opt in per_width.values() if opt["at_edge"]]
    low_edge = [m <= np.sqrt(lo * mults[1]) for m in edges]
    added = ([lo / 4, lo / 2] if any(low_edge) else []) + ([hi * 2, hi * 4] if not all(low_edge) else [])
    listed = ",".join(_fmt_mult(m) for m in sorted({*mults.tolist(), *added}))
    return f"widen the LR sweep past its edge: sweep_mults={listed} (a key of a budget line in scaling_budgets)"


def _fmt_mult(m: float) -> str:
    """A multiplier as the budget line would spell it: 1/8 for powers of 2, else 4 significant digits."""
    k = np.log2(m)
    return str(Fraction(2.0 ** round(k)).limit_denominator(4096)) if abs(k - round(k)) < 1e-9 else f"{m:.4g}"
