"""Training protocols: a per-budget LR schedule against the single constant-LR run, and repeated data.

Schedule gain. Each run with the ``cooldown`` schedule is paired with the constant-LR run of the
same (width, fraction, seed): it shares that run's trunk, so most seed noise cancels in the
difference. Per data budget (fraction) the gain is the mean over widths of the seed-averaged
Δ ln L = ln L_cooldown − ln L_constant; "lower at every data budget" is the largest of these
means being below 0, bootstrapped jointly (paired seed draws).

Repeated data (Muennighoff et al. 2023). A run of E epochs over U unique examples is worth the
fresh data D' at which the same width's one-epoch curve L(D) reaches the same loss (read off
the curve by log-log interpolation between the grid's fractions; a loss below the curve's last
point extrapolates its end slope, at most ×4 in D, and the record counts how many did). The effective-data
form D' = U + U·R*·(1 − e^(−R/R*)), R = E − 1 repetitions, is fitted in ln(D'/U) by least squares
over a log grid of R*. Every quantity is bootstrapped over seeds through the whole pipeline
(curve → inversion → fit).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pytest_scaling.bootstrap import Cells, match_cells, paired_joint_bootstrap, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import PAIR_ON, _estimate, cells_from_runs
from pytest_scaling.estimators.design import choose_window

#: Log grid of R* for the least-squares fit (0.05 to 2,000 repetitions).
R_STAR_GRID = np.exp(np.linspace(np.log(0.05), np.log(2000.0), 801))


def schedule_gain(cooldown_runs, constant_runs, *, n_resamples: int = 1000, seed: int = 0,
                  scheme: str = "auto") -> Estimate:
    """The largest per-fraction mean Δ ln L (cooldown − constant); < 0 means the schedule helps at every budget."""
    ca, cb = match_cells(cells_from_runs(cooldown_runs), cells_from_runs(constant_runs), PAIR_ON)
    fractions = ca.design["fraction"]
    budgets = np.unique(fractions)
    if budgets.size < 2:
        raise FitError("the schedule comparison needs cooldown and constant runs at ≥2 data fractions.")
    members = [fractions == f for f in budgets]

    def per_budget(ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
        diff = ma[..., 0] - mb[..., 0]  # [B, C]
        return np.stack([diff[:, m].mean(1) for m in members], axis=1)  # [B, fractions]

    def worst(ma, mb):
        return per_budget(ma, mb).max(1)

    res = paired_joint_bootstrap(ca, cb, worst, n_resamples=n_resamples, seed=seed, scheme=scheme)
    point = per_budget(ca.means()[None], cb.means()[None])[0]
    widths = ca.design["width"]
    per_width = {f"{w:g}": {f"{f:g}": float(ca.means()[(widths == w) & (fractions == f), 0].mean()
                                            - cb.means()[(widths == w) & (fractions == f), 0].mean())
                            for f in budgets if np.any((widths == w) & (fractions == f))}
                 for w in np.unique(widths)}
    details = {"per_fraction": {f"{f:g}": float(v) for f, v in zip(budgets, point)},
               "worst_fraction": float(budgets[int(np.argmax(point))]), "per_width": per_width,
               "configs_paired": ca.n_cells}
    return _estimate(res, "largest mean Δ ln L over data budgets (cooldown − constant)", ca.n_runs + cb.n_runs,
                     details)


def single_run_window(constant_runs) -> tuple[float, float]:
    """The single-run protocol's compute-limited window (from its trajectories), where both protocols are
    compared: a cooldown run's own checkpoints are the trunk's, so its window would be the trunk's too."""
    choice = choose_window(constant_runs, "auto")
    if choice.reason:
        raise FitError(choice.reason, to_decide=choice.to_decide)
    return choice.window


# --------------------------------------------------------------------------- repeated data


def repetition_cells(runs) -> tuple[Cells, dict]:
    """Seed-averageable cells of one-epoch runs (the fresh curves) and multi-epoch runs, in one layout.

    Keys are (width, fraction, epochs). Resampling units: a width's one-epoch runs at f, f/2, … (one
    trajectory), and each (width, fraction)'s epoch line, 2, 4, 8 epochs (a run of E+1 epochs
    continues E). An epoch line also continues its width's trajectory, so resampling the two apart
    drops the noise they share: the intervals are conservative. Measured on simulated grids with
    that shared noise (tests/unit/test_protocols.py), 95% intervals covered R* in 98.5% of 200
    replicates, the worth of epochs 2–4 in 95.5% and the diminishing-returns Δ in 96%; one unit per
    width (keeping the pairing) left too few units with 3 seeds and covered R* in 80% of 30.
    """
    usable = runs.usable()
    if len(usable) == 0:
        raise FitError("no usable runs for the repetition analysis.")
    col = usable.columns()
    if "epochs" not in col:
        raise FitError("these runs carry no epochs column; the repetition claims need an epochs sub-grid.")
    epochs = col["epochs"].astype(int)
    if not np.any(epochs > 1):
        raise FitError("no multi-epoch runs: add an epochs sub-grid to the budget (e.g. epochs=1,2,4,8).")
    width, fraction = col["width"].astype(float), col["fraction"].astype(float)
    keys = list(zip(width.tolist(), fraction.tolist(), epochs.tolist()))
    chains = [(w, "fresh") if e == 1 else (w, f) for w, f, e in keys]
    position = np.where(epochs == 1, fraction, epochs.astype(float))
    design = {"width": width, "fraction": fraction, "epochs": epochs.astype(float),
              "examples": col["examples"].astype(float)}
    cells = Cells.from_arrays(keys, col["seed"], col["val_loss"].astype(float), design,
                              ("width", "fraction", "epochs"), chains, position)
    return cells, _repetition_layout(cells)


def _repetition_layout(cells: Cells) -> dict:
    """Which cells form each width's fresh curve and which repeated cells read off it."""
    w, f, e = (cells.design[k] for k in ("width", "fraction", "epochs"))
    layout = {"curves": {}, "repeated": []}
    for width in np.unique(w):
        fresh = np.flatnonzero((w == width) & (e == 1))
        if fresh.size < 2:
            continue
        fresh = fresh[np.argsort(f[fresh])]
        layout["curves"][float(width)] = fresh
        for i in np.flatnonzero((w == width) & (e > 1)):
            base = np.flatnonzero((w == width) & (e == 1) & (f == f[i]))
            if base.size:
                layout["repeated"].append((i, float(width), float(f[i]), int(e[i])))
    if not layout["repeated"]:
        raise FitError("no multi-epoch cell has a one-epoch curve of its width to be read against; the epochs "
                       "sub-grid's widths and fractions must lie on the main grid.")
    return layout


#: How far past either end of the one-epoch curve an effective-data reading may extrapolate (×4 in D).
MAX_EXTRAPOLATION = np.log(4.0)


def _end_slope(x: np.ndarray, curve: np.ndarray, end: slice) -> np.ndarray:
    """Per resample, the OLS slope of ln L on ln D over a few points at one end of the curve, or over the
    whole curve where that is not falling (the running minimum flattens a noisy end)."""
    def slope(xs, ys):
        xc = xs - xs.mean()
        return (ys - ys.mean(1, keepdims=True)) @ xc / (xc @ xc)

    local, overall = slope(x[end], curve[:, end]), slope(x, curve)
    return np.where(local < 0, local, np.minimum(overall, -1e-9))


def effective_data_ratio(M: np.ndarray, cells: Cells, layout: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(ratio [B, R], extrapolated [B, R])``: D'/U for every repeated cell, per resample ``M [B, C, 1]``.

    Inside the one-epoch curve D' is read by linear interpolation in (ln D, ln L); past either end the
    curve's end slope (3 points) extrapolates, at most ×4 in D; ``extrapolated`` marks those readings."""
    y = M[..., 0]
    lnD = np.log(cells.design["fraction"])
    out = np.empty((y.shape[0], len(layout["repeated"])))
    extra = np.zeros_like(out, dtype=bool)
    for r, (i, width, fraction, _) in enumerate(layout["repeated"]):
        idx = layout["curves"][width]
        x = lnD[idx]
        curve = np.minimum.accumulate(y[:, idx], axis=1)  # L(D) falls with D: a noisy rise is read as flat
        target = y[:, i]
        # segment j holds targets between curve[:, j] and curve[:, j + 1] (the curve falls)
        below_end, above_start = target < curve[:, -1], target >= curve[:, 0]
        lnd = np.empty_like(target)
        for b in np.flatnonzero(~(below_end | above_start)):
            lnd[b] = np.interp(-target[b], -curve[b], x)
        head, tail = _end_slope(x, curve, slice(0, 3)), _end_slope(x, curve, slice(-3, None))
        lnd = np.where(above_start, np.maximum(x[0] + (target - curve[:, 0]) / head, x[0] - MAX_EXTRAPOLATION),
                       lnd)
        lnd = np.where(below_end, np.minimum(x[-1] + (target - curve[:, -1]) / tail, x[-1] + MAX_EXTRAPOLATION),
                       lnd)
        extra[:, r] = below_end | (target > curve[:, 0])
        out[:, r] = np.exp(lnd - np.log(fraction))
    return out, extra


def fit_r_star(ratio: np.ndarray, repetitions: np.ndarray) -> np.ndarray:
    """Least-squares R* in ln(D'/U) = ln(1 + R*(1 − e^(−R/R*))) per resample; ``ratio [B, R]``.

    The grid's ends stand for "no decay resolved" (R* ≥ 2,000) and "repeats worth nothing"."""
    model = np.log1p(R_STAR_GRID[:, None] * -np.expm1(-repetitions[None, :] / R_STAR_GRID[:, None]))  # [G, R]
    observed = np.log(np.clip(ratio, 1e-6, None))  # [B, R]
    finite = np.isfinite(observed)
    sse = np.where(finite[:, None, :], (observed[:, None, :] - model[None]) ** 2, 0.0).sum(2)  # [B, G]
    return np.where(finite.any(1), R_STAR_GRID[np.argmin(sse, axis=1)], np.nan)


def worth_of_repeats(ratio: np.ndarray, layout: dict, epochs: int, since: int = 1) -> np.ndarray:
    """Mean over (width, fraction) of (D'_E − D'_since)/((E − since)·U): what one more epoch is worth in
    fresh epochs, between ``since`` and ``epochs`` epochs (D'_1 = U)."""
    groups: dict[tuple, dict[int, int]] = {}
    for r, (_, width, fraction, e) in enumerate(layout["repeated"]):
        groups.setdefault((width, fraction), {})[e] = r
    values = []
    for by_epochs in groups.values():
        if epochs not in by_epochs or (since > 1 and since not in by_epochs):
            continue
        start = 1.0 if since == 1 else ratio[:, by_epochs[since]]
        values.append((ratio[:, by_epochs[epochs]] - start) / (epochs - since))
    if not values:
        raise FitError(f"no (width, fraction) has runs of {epochs} (and {since}) epochs.")
    return np.mean(values, axis=0)


def reach_past_one_epoch(runs) -> dict:
    """Whether repetition takes any width past the compute of its own one epoch over all the data (where
    one-epoch grids stop): only such runs can put smaller widths into the iso-compute slices past the data
    cap and so bracket N_opt there. ``{"widths": [...], "brackets": bool, "note": str}``."""
    col = runs.usable().columns()
    width, epochs, flops = col["width"].astype(float), col["epochs"].astype(int), col["flops"].astype(float)
    one = epochs == 1
    full = {w: flops[(width == w) & one].max() for w in np.unique(width) if np.any((width == w) & one)}
    past = sorted(float(w) for w in np.unique(width[epochs > 1])
                  if w in full and flops[(width == w) & (epochs > 1)].max() > full[w] * (1 + 1e-9))
    if past:
        note = f"repeated epochs take widths {', '.join(f'{w:g}' for w in past)} past their one-epoch compute"
    else:
        note = ("no repeated run exceeds its width's one-epoch compute over all the data (epochs × fraction ≤ 1), "
                "so repetition adds nothing past the data cap; repeated epochs over all the data "
                "(epoch_fractions=1) at the widths below the cap's N_opt would")
    return {"widths": past, "brackets": bool(past), "note": note}


def _repetition_estimate(runs, statistic, quantity: str, *, n_resamples: int, seed: int, scheme: str,
                         extra_details=None) -> Estimate:
    cells, layout = repetition_cells(runs)
    res = seed_bootstrap(cells, lambda M: statistic(M, cells, layout), n_resamples=n_resamples, seed=seed,
                         scheme=scheme)
    ratio, extrapolated = effective_data_ratio(cells.means()[None], cells, layout)
    details = {"effective_data": {f"width {w:g}, fraction {f:g}, {e} epochs": float(v)
                                  for (_, w, f, e), v in zip(layout["repeated"], ratio[0])},
               "extrapolated_cells": int(extrapolated.sum()), "repeated_cells": len(layout["repeated"]),
               "most_epochs": max(e for *_, e in layout["repeated"]),
               "past_one_epoch": reach_past_one_epoch(runs)}
    if extra_details:
        details.update(extra_details)
    return _estimate(res, quantity, cells.n_runs, details)


def repetition_r_star(runs, *, n_resamples: int = 1000, seed: int = 0, scheme: str = "auto") -> Estimate:
    """R* of D' = U + U·R*·(1 − e^(−R/R*)), from every repeated cell. When the longest runs show too
    little decay to bound R* above (≥ 2.5% of resamples at the fit grid's top), the estimate is flagged
    and says how many epochs would resolve it."""
    def statistic(M, cells, layout):
        ratio, _ = effective_data_ratio(M, cells, layout)
        return fit_r_star(ratio, np.array([e - 1.0 for *_, e in layout["repeated"]]))

    est = _repetition_estimate(runs, statistic, "R* in D' = U + U·R*·(1 − e^(−R/R*))",
                               n_resamples=n_resamples, seed=seed, scheme=scheme)
    unbounded = float(np.mean(est.samples >= R_STAR_GRID[-1]))
    details = {**est.details, "unbounded_resamples": unbounded}
    if unbounded < 0.025:
        return dataclasses.replace(est, details=details)
    most = est.details["most_epochs"]
    return dataclasses.replace(
        est, details=details,
        reason=(f"R* is not bounded above: {unbounded:.0%} of resamples see no decay in the worth of "
                f"repeated data up to {most} epochs"),
        to_decide=f"more repetitions: epochs up to {4 * most} on the same fractions")


def repeat_worth(runs, epochs: int = 4, *, n_resamples: int = 1000, seed: int = 0, scheme: str = "auto") -> Estimate:
    """What each repeated epoch is worth in fresh epochs, up to ``epochs`` (1: as good as fresh data)."""
    def statistic(M, cells, layout):
        return worth_of_repeats(effective_data_ratio(M, cells, layout)[0], layout, epochs)

    return _repetition_estimate(runs, statistic, f"worth of a repeated epoch, epochs 2–{epochs} (fresh = 1)",
                                n_resamples=n_resamples, seed=seed, scheme=scheme)


def diminishing_returns(runs, knee: int = 4, last: int = 8, *, n_resamples: int = 1000, seed: int = 0,
                        scheme: str = "auto") -> Estimate:
    """Worth of the epochs past ``knee`` minus the worth of those up to it (< 0: returns diminish)."""
    def statistic(M, cells, layout):
        ratio = effective_data_ratio(M, cells, layout)[0]
        return worth_of_repeats(ratio, layout, last, since=knee) - worth_of_repeats(ratio, layout, knee)

    return _repetition_estimate(runs, statistic, f"Δ worth per epoch: epochs {knee + 1}–{last} − epochs 2–{knee}",
                                n_resamples=n_resamples, seed=seed, scheme=scheme)
