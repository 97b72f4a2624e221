"""Examples needed to reach a target loss, against model size."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.stats

from pytest_scaling.bootstrap import Cells, resolve_scheme, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import _estimate, _ols_slope_batched, cells_from_runs


def _sample_efficiency_cells(runs) -> Cells:
    """Each width's checkpoint trajectory at the largest data fraction, its final point scored on
    the checkpoints' validation slice where recorded (one yardstick along the trajectory)."""
    allc = cells_from_runs(runs, checkpoints=True, slice_final=True)
    frmax = allc.design["fraction"].max()
    cells = allc.subset(np.isclose(allc.design["fraction"], frmax))
    w = cells.design["width"]
    if np.unique(w).size < 3:
        raise FitError("sample efficiency needs ≥3 widths at the largest data fraction.")
    if np.unique(w).size != w.size:
        raise FitError("sample efficiency compares one trajectory per width, but some width has several "
                       "configurations at the largest fraction (dropout, LR, batch size); filter the runs.")
    if np.isfinite(cells.design["ckpt_examples"]).sum(1).min() < 2:
        raise FitError("sample efficiency needs ≥2 checkpoints per run.")
    return cells


def _sample_efficiency_stat(cells: Cells, size: str = "params", targets: float | Sequence[float] | None = None,
                            n_targets: int = 4):
    """``(stat, info)``: ``stat`` maps ``[B, C, V]`` log-loss trajectories to the slope of ln(examples to
    target) on ln N averaged over the targets. Without ``targets`` each call places them afresh, at the
    fixed positions k/(K+1), k = 1…K, in ln loss between the overlap's ends (see
    :func:`sample_efficiency_slope`); ``info['_outside']`` collects, per call, which rows had a width
    that missed a target inside its scored range (its examples-to-target clamped to that range)."""
    ex = cells.design["ckpt_examples"]
    nval = np.isfinite(ex).sum(1)
    lnex = np.log(ex)
    m = cells.means()
    C = m.shape[0]
    rows = np.arange(C)
    first, final = m[:, 0], m[rows, nval - 1]
    hi_min, lo = float(first.min()), float(final.max())  # every width starts above hi_min and ends below lo
    w = cells.design["width"]
    xN = np.log(cells.design[size])
    c_lo = int(np.argmax(final))
    # The overlap's top, smoothed: first-checkpoint ln loss fitted on ln N over all widths, at the fit's
    # lower end. A plain minimum over widths whose early losses nearly tie is biased low under seed noise
    # (and moves every target with it); a least-squares fit is linear in the data, so the bootstrap
    # reproduces its spread. Used while the top target stays below every width's first checkpoint.
    X = np.stack([np.ones(C), xN - xN.mean()], 1)
    hat = X @ np.linalg.pinv(X)
    top_w = hat[int(np.argmin(hat @ first))]
    q = np.arange(1, n_targets + 1) / (n_targets + 1)
    hi_fit = float(top_w @ first)
    if not (lo < hi_fit and lo + q[-1] * (hi_fit - lo) < hi_min):  # the top target would not be below every
        top_w = np.eye(C)[int(np.argmin(first))]  # width's first checkpoint: the raw minimum binds
    hi = float(top_w @ first)
    if targets is None:
        if not lo < hi:
            wi, wf = w[np.argmin(first)], w[c_lo]
            raise FitError(
                f"no loss level is reached by every width inside its scored range: width {wi:g} is already at "
                f"{np.exp(hi_min):.3g} at its first checkpoint ({ex[np.argmin(first), 0]:.0f} examples), at or "
                f"below width {wf:g}'s final {np.exp(lo):.3g}. Earlier checkpoints (the engine now scores every "
                f"half-octave down to 1/512 of a run; retrain older records) or a larger data fraction (so the "
                f"narrow widths end lower) would decide it.")
        lt_point = lo + (hi - lo) * q
    else:
        lt_point = np.log(np.atleast_1d(np.asarray(targets, float)))
        bad = (lt_point <= lo) | (lt_point >= hi_min)
        if np.any(bad):
            raise FitError(f"target loss {np.exp(lt_point[bad][0]):.4g} is outside what every width reaches inside "
                           f"its scored range ({np.exp(lo):.4g} < target < {np.exp(hi_min):.4g}).")
    T = lt_point.size
    seg = np.nan_to_num(np.diff(lnex, axis=1))  # [C, V-1] ln-examples length of each segment (0 in the padding)
    outside = []

    def levels(M):
        """Target ln losses ``[B, T]``."""
        if targets is not None:
            return np.broadcast_to(lt_point, (M.shape[0], T))
        lo_b = M[:, c_lo, nval[c_lo] - 1]
        hi_b = M[:, :, 0] @ top_w
        return lo_b[:, None] + (hi_b - lo_b)[:, None] * q

    def needed(M):
        """ln(examples to each target) ``[B, C, T]``: ln examples at the first checkpoint plus the ln-examples
        length along which the trajectory, linear in (ln examples, ln loss) between checkpoints, is above
        the target. A trajectory that crosses the target once gives the interpolation between the two
        checkpoints that bracket it; a noisy one that crosses back and forth gets the average of its
        crossings, not the first dip. Clamped to the scored range: no extrapolation."""
        L = levels(M)[:, None, None, :]  # [B, 1, 1, T]
        y0, y1 = M[:, :, :-1], M[:, :, 1:]  # segment ends; padding beyond a run's checkpoints repeats its final
        top = np.maximum(y0, y1)[..., None]
        rise = np.maximum(np.abs(y1 - y0), 1e-12)[..., None]
        above = np.clip((top - L) / rise, 0.0, 1.0)  # share of each segment (linear in ln loss) above the target
        out = lnex[:, :1] + np.einsum("bcvt,cv->bct", above, seg)  # [B, C, T]
        end = M[:, rows, nval - 1][..., None]  # [B, C, 1]
        outside.append(np.any((M[:, :, :1] <= L[:, 0]) | (end > L[:, 0]), axis=(1, 2)))
        return out

    def per_target(M):
        return _ols_slope_batched(xN, np.moveaxis(needed(M), 1, 2))  # [B, T]

    def stat(M):
        return per_target(M).mean(1)

    pts = needed(m[None])[0]
    slopes = per_target(m[None])[0]
    outside.clear()
    info = {"targets": np.exp(lt_point).tolist(), "per_target_slopes": slopes.tolist(),
            "target_positions": q.tolist() if targets is None else None,
            "overlap": [float(np.exp(lo)), float(np.exp(hi_min))], "overlap_top_used": float(np.exp(hi)),
            "examples_needed": np.exp(pts.T).tolist(), "widths": w.tolist(), "_outside": outside}
    return stat, info


def sample_efficiency_slope(runs, *, targets: float | Sequence[float] | None = None, n_targets: int = 4,
                            size: str = "params", n_resamples: int = 1000, seed: int = 0,
                            scheme: str = "auto") -> Estimate:
    """Slope of ln(examples needed to reach a target loss) on ln N, from checkpoint trajectories, pooled
    over several target losses. Negative: larger models need fewer examples (Kaplan et al. 2020, §5).

    Trajectories: each width's run at the largest data fraction (shorter runs of a chain are prefixes of
    it), its checkpoints seed-averaged in log space, the final point scored on the checkpoints' validation
    slice where recorded (``slice_loss``), so one yardstick scores the whole trajectory.

    Targets: ``n_targets`` levels at positions k/(K+1), k = 1…K, evenly in ln loss between the overlap's
    bottom (the highest final loss over widths) and its top (where every width still is at its first
    checkpoint), so every width reaches every target between its first and last checkpoint: nothing is
    extrapolated. The top is the first-checkpoint loss fitted on ln N across widths, at the fit's lower
    end, while the top target stays below every width's first checkpoint (else the lowest first
    checkpoint): a raw minimum over widths whose early losses nearly tie is biased low by seed noise and
    drags every target with it (slope bias ≈ −0.015 in simulation, ≈ ⅓ of its SE). Or the given
    ``targets``, which must lie inside the overlap and stay fixed. No overlap (the widest width's first
    checkpoint already at or below the narrowest's final loss): :class:`FitError`.

    Examples to a target: linear interpolation in (ln loss, ln examples) between the checkpoints that
    bracket it (for a noisy trajectory that crosses back and forth, the average of its crossings: the
    ln-examples length it spends above the target). Slope: OLS over widths per target, averaged over
    targets (with every width at every target, the same as one fit with per-target intercepts).
    ``details``: the targets, per-target slopes, examples needed ``[target][width]``, the overlap.

    Uncertainty: seed bootstrap of the whole pipeline, the targets re-placed in each resample at the same
    positions (bottom from the same width, top from the same fit). Holding them at the point estimate's
    levels ignores how they move with the noise: in simulation (tests/unit/test_sample_efficiency.py)
    such intervals covered the noise-free pipeline's slope in 87–90% of replicates, against 94–97% here.
    ``scheme='auto'`` pools residual trajectories over widths (one configuration per width leaves a
    per-width noise estimate of 1–2 df); the pooled residuals have Σ(seeds − 1) df (9 for 2 seeds × 9
    widths), so the percentile interval is expanded by t_df/z at 95% (Hesterberg's expanded percentile
    interval; unexpanded, 2 and 3 seeds covered 92–94%). A resample whose trajectory misses a target
    inside some width's range clamps that width to the range's end; ``details['resamples_outside_range']``
    counts them.
    """
    cells = _sample_efficiency_cells(runs)
    stat, info = _sample_efficiency_stat(cells, size=size, targets=targets, n_targets=n_targets)
    outside = info.pop("_outside")
    scheme = "pooled" if scheme == "auto" else resolve_scheme(scheme, cells)
    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    details = dict(info)
    if scheme in ("pooled", "chain-pooled"):
        df = int(np.sum(np.maximum(cells.counts - 1, 0)))
        expand = float(scipy.stats.t.ppf(0.975, df) / scipy.stats.norm.ppf(0.975))
        res = dataclasses.replace(res, samples=res.point + expand * (res.samples - res.point),
                                  method=res.method.replace("percentile", f"percentile expanded ×{expand:.3f} "
                                                                          f"for {df} residual df"))
        details.update({"residual_df": df, "interval_expansion": expand})
    ext = np.concatenate(outside[1:]) if len(outside) > 1 else np.zeros(0, bool)  # [0]: the point estimate
    ex = cells.design["ckpt_examples"]
    on_slice = cells.design["ckpt_final_on_slice"]
    details.update({
        "fraction": float(cells.design["fraction"][0]),
        "checkpoints_per_run": int(np.isfinite(ex).sum(1).min()),
        "first_checkpoint_examples": float(np.nanmax(ex[:, 0])),
        "final_scored_on": "slice" if on_slice.all() else ("full split" if not on_slice.any() else "mixed"),
        "resamples_outside_range": int(ext.sum()),
    })
    return _estimate(res, "slope d ln(examples to target)/d lnN", cells.n_runs, details)
