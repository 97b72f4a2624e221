"""Examples needed to reach a target loss, against model size."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pytest_scaling.bootstrap import Cells, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import _estimate, _ols_slope_batched, cells_from_runs

#: How far (in segments) a resample may extend a width's first or last checkpoint segment when its
#: noisy trajectory misses a target the seed-averaged one reaches inside its scored range.
_MAX_EXTEND = 1.0
RETARGET = True
FIRST = False
REF = False
HI = 'min'
Q = None


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
    """``(stat, info)``: stat maps ``[B, C, V]`` log-loss trajectories to the slope of ln(examples to
    target) on ln N, averaged over the target levels (fixed here, from the seed-averaged data)."""
    ex = cells.design["ckpt_examples"]
    nval = np.isfinite(ex).sum(1)
    lnex = np.log(ex)
    m = cells.means()
    C = m.shape[0]
    first, final = m[:, 0], m[np.arange(C), nval - 1]
    hi, lo = float(first.min()), float(final.max())  # every width is above hi at its first checkpoint, below lo at its end
    w = cells.design["width"]
    if targets is None:
        if not lo < hi:
            wi, wf = w[np.argmin(first)], w[np.argmax(final)]
            raise FitError(
                f"no loss level is reached by every width inside its scored range: width {wi:g} is already at "
                f"{np.exp(hi):.3g} at its first checkpoint ({ex[np.argmin(first), 0]:.0f} examples), below width "
                f"{wf:g}'s final {np.exp(lo):.3g}. Earlier checkpoints (the engine now scores every half-octave "
                f"down to 1/512 of a run; retrain older records) or a larger data fraction (so the narrow widths "
                f"end lower) would decide it.")
        xN = np.log(cells.design[size])
        X = np.stack([np.ones(C), xN - xN.mean()], 1)
        H = X @ np.linalg.pinv(X)  # fitted = H @ y
        cf = int(np.argmin(H @ first))
        wfit = H[cf]
        if HI == "fit":
            hi = min(hi, float(wfit @ first))
        qq = np.arange(1, n_targets + 1) / (n_targets + 1) if Q is None else np.asarray(Q)
        lt = lo + (hi - lo) * qq
    else:
        lt = np.log(np.atleast_1d(np.asarray(targets, float)))
        bad = (lt <= lo) | (lt >= hi)
        if np.any(bad):
            raise FitError(f"target loss {np.exp(lt[bad][0]):.4g} is outside what every width reaches inside its "
                           f"scored range ({np.exp(lo):.4g} < target < {np.exp(hi):.4g}).")
    xN = np.log(cells.design[size])
    T = lt.size
    lt0 = lt
    c_lo, c_hi = int(np.argmax(final)), int(np.argmin(first))
    outside = []  # per call: [B] whether any width's crossing needed an extended end segment

    q = np.arange(1, n_targets + 1) / (n_targets + 1) if Q is None else np.asarray(Q)
    retarget = targets is None and RETARGET

    def needed(M):
        """ln(examples to each target) ``[B, C, T]``."""
        B = M.shape[0]
        if retarget and HI == "fit":
            lo_b = M[:, c_lo, nval[c_lo] - 1]
            hi_b = M[:, :, 0] @ wfit
            ltt = lo_b[:, None] + (hi_b - lo_b)[:, None] * q  # [B, T]
        elif retarget and REF:
            lo_b = M[:, c_lo, nval[c_lo] - 1]
            hi_b = M[:, c_hi, 0]
            ltt = lo_b[:, None] + (hi_b - lo_b)[:, None] * q  # [B, T]
        elif retarget:
            lo_b = M[:, np.arange(C), nval - 1].max(1)
            hi_b = M[:, :, 0].min(1)
            ltt = lo_b[:, None] + (hi_b - lo_b)[:, None] * q  # [B, T]
        else:
            ltt = np.broadcast_to(lt0, (B, T))
        out = np.empty((B, C, T))
        ext = np.zeros(B, bool)
        for c in range(C):
            n = nval[c]
            y = M[:, c, :n, None]  # [B, n, 1]
            L = ltt[:, None, :]  # [B, 1, T]
            y0, y1 = y[:, :-1], y[:, 1:]
            if FIRST:
                below = y <= L
                reached = below.any(1)
                k = np.where(reached, below.argmax(1), n)
                ext |= np.any((k == 0) | (k == n), axis=1)
                k = np.clip(k, 1, n - 1)
                b = np.arange(B)[:, None]; tt = np.arange(T)[None, :]
                Y0, Y1 = y[b, k - 1, 0], y[b, k, 0]
                e0, e1 = lnex[c, k - 1], lnex[c, k]
                with np.errstate(divide="ignore", invalid="ignore"):
                    t = np.where(Y1 != Y0, (ltt - Y0) / (Y1 - Y0), 1.0)
                out[:, c] = e0 + np.clip(t, -1, 2) * (e1 - e0)
                continue
            seg = np.diff(lnex[c, :n])[None, :, None]  # [1, n-1, 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.clip(np.where(y1 != y0, (L - y0) / (y1 - y0), 0.0), 0.0, 1.0)  # crossing within segment
            above = np.where(y0 > L, np.where(y1 > L, 1.0, t), np.where(y1 > L, 1.0 - t, 0.0))
            out[:, c] = lnex[c, 0] + (above * seg).sum(1)
            ext |= np.any((y[:, :1] <= L) | (y[:, -1:] > L), axis=(1, 2))
        outside.append(ext)
        return out

    def per_target(M):
        Y = needed(M)  # [B, C, T]
        return _ols_slope_batched(xN, np.moveaxis(Y, 1, 2))  # [B, T]

    def stat(M):
        return per_target(M).mean(1)

    pts = needed(m[None])[0]
    slopes = per_target(m[None])[0]
    outside.clear()
    info = {"targets": np.exp(lt).tolist(), "per_target_slopes": slopes.tolist(),
            "overlap": [float(np.exp(lo)), float(np.exp(hi))],
            "examples_needed": np.exp(pts.T).tolist(), "widths": w.tolist(), "_outside": outside}
    return stat, info


def sample_efficiency_slope(runs, *, targets: float | Sequence[float] | None = None, n_targets: int = 4,
                            size: str = "params", n_resamples: int = 1000, seed: int = 0,
                            scheme: str = "auto") -> Estimate:
    """Slope of ln(examples needed to reach a target loss) on ln N, from checkpoint trajectories, pooled
    over several targets.

    Each width's run at the largest data fraction traces loss against examples seen (its checkpoints,
    seed-averaged in log space; the final point scored on the checkpoints' validation slice where
    recorded). Targets: ``n_targets`` levels evenly spaced in ln loss strictly inside the overlap of every
    width's scored range — below the lowest first-checkpoint loss, above the highest final loss — so every
    width reaches every target between its first and last checkpoint (no extrapolation); or the given
    ``targets``, which must lie there. Examples-to-target: the first checkpoint at or below the target,
    interpolated linearly in (ln loss, ln examples) with the checkpoint before it. The slope is fitted per
    target over the widths and averaged over targets (the same as one fit with per-target intercepts,
    since every target has every width). The seed bootstrap keeps the targets fixed; a resample whose
    noisy trajectory misses a target inside a width's range extends that end segment (at most one
    segment; ``details['resamples_outside_range']`` counts them). Negative: larger models need fewer
    examples (Kaplan et al. 2020, §5 "larger models are more sample-efficient").
    """
    cells = _sample_efficiency_cells(runs)
    stat, info = _sample_efficiency_stat(cells, size=size, targets=targets, n_targets=n_targets)
    outside = info.pop("_outside")
    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    ext = np.concatenate(outside[1:]) if len(outside) > 1 else np.zeros(0, bool)  # [0] is the point estimate
    ex = cells.design["ckpt_examples"]
    details = dict(info)
    details.update({
        "fraction": float(cells.design["fraction"][0]),
        "checkpoints_per_run": int(np.isfinite(ex).sum(1).min()),
        "first_checkpoint_examples": float(np.nanmax(ex[:, 0])),
        "final_scored_on": "slice" if cells.design["ckpt_final_on_slice"].all() else
                           ("full split" if not cells.design["ckpt_final_on_slice"].any() else "mixed"),
        "resamples_outside_range": int(ext.sum()),
    })
    return _estimate(res, "slope d ln(examples to target)/d lnN", cells.n_runs, details)
