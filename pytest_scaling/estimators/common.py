"""Shared by every estimator: runs → seed-averaged cells, the fit region, batched OLS, Estimate builders."""

from __future__ import annotations

import dataclasses

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.runs import fraction_family


#: A configuration. Schedule, epochs and precision are in it so that a table mixing protocols or precisions
#: never averages, say, a cooldown and a constant run as if they were seeds of one cell.
KEY = ("width", "fraction", "dropout", "lr_mult", "lr_scale", "batch_size", "schedule", "epochs", "precision")


PAIR_ON = ("width", "fraction", "lr_mult")


def cells_from_runs(runs, value: str = "loss", checkpoints: bool = False, slice_final: bool = False) -> Cells:
    """Group usable runs by configuration. ``value``: 'loss' or 'error' (1 − accuracy).

    With ``checkpoints=True`` every run contributes its checkpoint losses as one
    vector (resampled together); ``design['ckpt_examples']`` is ``[C, V]`` (NaN pads).
    With ``slice_final=True`` as well, a run's last checkpoint (its final state, scored on
    the full split) takes the run's ``slice_loss``/``slice_acc`` instead where recorded: the
    final state scored on the validation slice the intermediate checkpoints use, so the
    whole trajectory is scored by one yardstick (older records without it keep the full-split
    score). ``design['ckpt_final_on_slice']`` then says, per cell, whether its first run's final is
    slice-scored (all of a cell's runs come from one engine version in practice).
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
        require_accuracy(vals)
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
    on_slice = np.zeros(len(ck), bool)
    if slice_final:
        sl = col["slice_loss" if value == "loss" else "slice_acc"].astype(float)
        on_slice = np.isfinite(sl)
    for i, c in enumerate(ck):
        c = np.array(c, float)
        if on_slice[i]:
            c[-1, j] = sl[i]
        v = c[:, j] if value == "loss" else 1.0 - c[:, j]
        vmat[i, :len(c)] = v
        vmat[i, len(c):] = v[-1]  # pad with the final value; masked out by NaN examples
        ex[i, :len(c)] = c[:, 0]
    design["ckpt_examples"] = ex
    if slice_final:
        design["ckpt_final_on_slice"] = on_slice
    return Cells.from_arrays(keys, col["seed"], vmat, design, KEY, chains, col["fraction"])


def require_accuracy(error: np.ndarray) -> None:
    """FitError when no run has an accuracy (an imported sweep without an acc column)."""
    if np.isnan(error).all():
        raise FitError("these runs carry no accuracy (an imported sweep without one?)",
                       "import an accuracy column (acc=COLUMN in --scaling-columns)")


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


def ols_slope(x, y, quantity: str = "slope", runs: int | None = None) -> Estimate:
    """Log-log OLS slope with its t-interval (statsmodels): valid when log residuals are iid normal."""
    f = fits.fit_power_law(x, y)
    return Estimate(value=f.slope, method="OLS t-interval (log-log)", runs=runs if runs is not None else f.n,
                    quantity=quantity, se=f.slope_se, df=f.df_resid,
                    details={"prefactor": f.prefactor, "r2": f.r2, "points": f.n})


def _run(cells: Cells, builder, quantity: str, n_resamples: int, seed: int, scheme: str, region: dict | None,
         full_cells: Cells | None = None, **kw) -> Estimate:
    out = builder(cells, **kw)
    stat, info = out[0], out[1]
    reason = out[2] if len(out) > 2 else ""
    resampled = bool(info.get("window_resampled"))
    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme,
                         max_failed=1.0 if resampled else 0.05)
    if resampled:
        share, flag = narrow_share(stat)
        info = {**info, **share}
        reason = "; ".join(r for r in (reason, narrow_window_reason(res), flag) if r)
    expand = expansion_for(info, cells, scheme)
    res = expanded(res, expand)
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


#: Most resamples (a fraction) whose re-chosen window may be too narrow before the estimate is flagged.
#: Such a resample reads the point window, so its share of the interval carries the frontier's noise but
#: not the window's: past a fifth of them too much of the window's uncertainty is missing. (A threshold
#: at the CI's tail, 2.5 %, flipped verdicts between paired fp32 and bf16 runs whose narrow shares were
#: 3 % and 5 %; on small they are 1–13 %, so 20 % sits well clear of both precisions' counts.)
MAX_NARROW = 0.2


def narrow_share(stat) -> tuple[dict, str]:
    """``(details, flag)``: how often a γ builder's re-chosen window was too narrow across its resamples
    (``stat.narrow_rows``, ``stat.min_slices``) and the flag past MAX_NARROW, as ``pipeline.finish`` records
    them for frontiers."""
    rows = getattr(stat, "narrow_rows", None)
    if not rows:
        return {}, ""
    narrow = np.concatenate(rows)
    share = float(narrow.mean())
    return {"window_narrow_resamples": int(narrow.sum()), "window_resamples": int(narrow.size),
            "window_narrow_share": share}, narrow_share_reason(share, stat.min_slices)


def narrow_share_reason(share: float, min_slices: int) -> str:
    """The flag for a share of resamples whose re-chosen window (``min_slices`` interior slices at least)
    was too narrow, past MAX_NARROW (else "")."""
    if share <= MAX_NARROW:
        return ""
    return (f"in {share:.0%} of seed resamples the re-chosen compute-limited window has fewer than "
            f"{min_slices} interior slices (those read the point window): the seeds do not pin the window down")


#: Most resamples (a fraction) in which a windowed statistic may fail before the estimate is flagged.
MAX_FAILED = 0.05


def narrow_window_reason(res) -> str:
    """The flag for a windowed bootstrap whose statistic failed in more than MAX_FAILED of resamples."""
    total = res.n_resamples + res.n_failed
    if res.n_failed <= MAX_FAILED * total:
        return ""
    return (f"in {res.n_failed / total:.0%} of seed resamples the statistic could not be formed inside the "
            f"re-chosen compute-limited window (fewer than 3 slices left): the seeds do not resolve the window")


def t_expansion(df: int) -> float:
    """t_df/z at 95%: how much wider a percentile interval must be when its noise comes from df residuals."""
    import scipy.stats

    return float(scipy.stats.t.ppf(0.975, max(df, 1)) / scipy.stats.norm.ppf(0.975))


def expanded(res, factor: float):
    """``res`` with its resamples spread ``factor`` times as far from the point (an expanded percentile)."""
    if factor == 1.0:
        return res
    return dataclasses.replace(res, samples=res.point + factor * (res.samples - res.point),
                               method=res.method.replace("percentile", f"percentile expanded ×{factor:.3f}"))


def expansion_for(info: dict, cells: Cells, scheme: str) -> float:
    """The builder's t/z expansion of a percentile interval, where it applies: under a re-chosen window
    only when each chain resamples its own few seeds. With pooled residuals the noise level comes from
    every chain, and the window's re-choice already widens the interval: γ in the window, 200 uneven
    replicates, 2 seeds pooled: 0.975 plain, 0.985 expanded (IsoFLOP); 3 seeds per chain: 0.95 plain,
    0.965 expanded (envelope 0.92 → 0.94)."""
    expand = info.get("interval_expansion", 1.0)
    if info.get("window_resampled"):
        from pytest_scaling.bootstrap import resolve_scheme

        if "pooled" in resolve_scheme(scheme, cells):
            return 1.0
    return expand


def _scheme_name(cells: Cells, scheme: str) -> str:
    from pytest_scaling.bootstrap import _SCHEME_NAMES, resolve_scheme
    return _SCHEME_NAMES[resolve_scheme(scheme, cells)]


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


def _flops_exponent(cells: Cells, size: str) -> float:
    """k in FLOPs per example ∝ size^k, fitted over the grid (1 when C ∝ N·D, as for transformers;
    ≈1.5 in params for the exercise's CNN, whose conv FLOPs grow faster than its parameters)."""
    N = cells.design[size]
    if np.unique(N).size < 2:
        return 1.0
    return float(np.polyfit(np.log(N), np.log(cells.design["flops"] / cells.design["examples"]), 1)[0])
