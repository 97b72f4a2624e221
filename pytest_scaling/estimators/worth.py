"""What a deformed copy is worth against a fresh image, in the sense of Muennighoff et al.'s effective data.

A *copies run* (``RunSpec.base_fraction``) sees U base images, then deformed copies of those same U images
(copy 1 of each, then copy 2, …), D examples in all (k = D/U). Its loss is read off the same width's fresh
one-epoch trajectory L(D): D_eff is the number of fresh examples at which that trajectory reaches the copies
run's loss, and

    w = (D_eff − U) / (D − U)

is what one copy example was worth in fresh examples: 0 if the D − U copy examples bought nothing beyond
stopping at U (below 0: they hurt), 1 if each was as good as a fresh image (Muennighoff et al. 2023 read
repeated epochs the same way; a deformed copy is InfiMNIST's way past a fixed set of images, Loosli, Canu &
Bottou 2007, after Simard, Steinkraus & Platt 2003). Everything is below the 60k images: D ≤ 60k, so the
fresh trajectory reaches past every reading.

Yardstick. The fresh trajectory is the width's fresh run on its largest fraction (its chain's shorter runs
are prefixes of it): its checkpoints every half-octave of its examples, scored on the 2,000-image validation
slice, and its final state on the same slice (``slice_loss``). The copies run is scored by its final state
on that slice too, so both sides are one yardstick and share its evaluation noise. Up to U the copies run
is the fresh run (same initialisation, same first U examples in the same order: ``Dataset.training_order``),
so a seed's copies run and fresh trajectory share their noise up to U: the pairing is within seeds.

Reading. ln D_eff is linear interpolation in (ln D, ln L) between the checkpoints that bracket the copies
run's loss; on a noisy trajectory that crosses that loss more than once, the average of its crossings (the
ln-D length the trajectory spends above it, as ``sample_efficiency`` reads examples to a target). A loss
outside the trajectory's range is read at its end (clamped) and counted; past 2.5 % of resamples the
estimate is flagged.

Pooling. The readings (width, U, k) are pooled as Σ (D_eff − U) / Σ (D − U): what all the copy examples
the design trained on were worth in fresh examples. A plain mean of the readings' w weighs a k = 2 reading
(D − U = U, its D_eff read off a short stretch of the trajectory, so ~3× noisier in w) as much as a k = 4
one (on `small` both give 0.26; the pooled sum is the design's own question: what the copies it trained
on were worth).

Uncertainty: a seed bootstrap of the whole pipeline. The unit is one seed of one width: its fresh
trajectory and its copies runs, resampled together (paired). The seeds' residual vectors are pooled over
widths (``scheme='pooled'``: 2 seeds give each width a 1-df noise estimate), and the percentile interval is
expanded by t_df/z (Hesterberg's expanded percentile interval, as ``sample_efficiency_slope`` does) with df
the Welch–Satterthwaite degrees of freedom of Σ_c a_c² s_c²/k_c over widths (``effective_df``): pooling
residuals over widths whose noise differs leaves fewer effective df than the nominal Σ(seeds − 1). Measured
on synthetic grids with a known worth (w = 0 … 0.9), noise ×1 or ×2 per width step and correlated along
each chain, the copies runs sharing their fresh trunk's noise at U (tests/unit/test_worth.py; 400
replicates each): 95 % intervals covered w in 94–98.5 % of replicates with 2 and 3 seeds; with the nominal
df they covered 91–95 % (91 % at ×2 per width).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.stats

from pytest_scaling.bootstrap import Cells, resolve_scheme, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import _estimate

#: Most resamples (a fraction) whose copies loss lay outside its width's fresh trajectory (read at its end)
#: before the estimate is flagged: past it, the interval's tail is the clamp's, not the data's.
MAX_CLAMPED = 0.025
#: What a configuration is (besides seed): a copies run is read against the fresh runs of its own.
CONFIG = ("width", "dropout", "lr_mult", "lr_scale", "batch_size", "precision")


@dataclasses.dataclass(frozen=True)
class WorthLayout:
    """What the statistic needs besides the resampled log losses ``[B, C, V_f + m]``: per configuration
    (cell) its fresh trajectory's ln examples (``lnex`` [C, V_f], padded by repeating the last, whose
    segments ``seg`` [C, V_f − 1] are then 0), and per copies reading its U and D ([C, m])."""

    lnex: np.ndarray
    seg: np.ndarray
    base: np.ndarray  # U
    examples: np.ndarray  # D
    readings: tuple  # per copies column: (base_fraction, fraction)
    n_curve: int

    @property
    def copies(self) -> np.ndarray:
        """k = D/U per reading, [C, m]."""
        return self.examples / self.base


def _config(run) -> tuple:
    s = run.spec
    return tuple(getattr(s, name) for name in CONFIG)


def _trajectory(run) -> np.ndarray | None:
    """``[V, 2]`` (examples, slice loss) of a fresh run: its checkpoints, the last one (its final state, scored
    on the full split) replaced by its score on the slice; None when that score was not recorded."""
    if not math.isfinite(run.slice_loss) or len(run.checkpoints) < 2:
        return None
    points = np.array([(c.examples, c.val_loss) for c in run.checkpoints], float)
    points[-1, 1] = run.slice_loss
    return points


def _base_examples(fraction: float, batch: int, fresh: list) -> float:
    """U: the examples of a fresh run on ``fraction`` itself where one is at hand (the copies run's first U
    examples are that run), else whole batches of ``fraction`` of the images (estimated from the largest
    fresh run, whose examples are whole batches of its fraction)."""
    for run in fresh:
        if math.isclose(run.spec.fraction, fraction):
            return float(run.examples)
    largest = max(fresh, key=lambda r: r.examples)
    images = (largest.examples + batch / 2) / largest.spec.fraction
    return float(batch * max(1, math.floor(fraction * images / batch + 1e-9)))


def worth_cells(runs) -> tuple[Cells, WorthLayout, dict]:
    """The runs as bootstrap cells, one per configuration: each seed's vector is its fresh trajectory (ln
    slice loss at each checkpoint) followed by its copies runs' ln slice losses, one per (base fraction,
    fraction) reading every configuration has. Only seeds with a fresh trajectory and every reading count."""
    usable = [r for r in runs.usable() if r.spec.schedule == "constant" and r.spec.epochs == 1]
    copies = [r for r in usable if getattr(r.spec, "base_fraction", 0.0) > 0]
    if not copies:
        raise FitError("no runs on deformed copies of a base fraction (RunSpec.base_fraction): the budget needs the "
                       "worth design (worth_widths=1,2,4 worth_bases=1/16,1/8 worth_copies=2,4, as small has).")
    fresh = [r for r in usable if getattr(r.spec, "base_fraction", 0.0) == 0]
    configs = sorted({_config(r) for r in copies})
    readings_of = {c: {(r.spec.base_fraction, r.spec.fraction) for r in copies if _config(r) == c} for c in configs}
    notes = []
    trajectories, values = {}, {}
    for c in configs:
        mine = [r for r in fresh if _config(r) == c]
        by_seed: dict[int, object] = {}
        for r in mine:
            if r.spec.fraction <= 1 and (r.spec.seed not in by_seed or r.examples > by_seed[r.spec.seed].examples):
                by_seed[r.spec.seed] = r
        trajectories[c] = {s: t for s, r in by_seed.items() if (t := _trajectory(r)) is not None}
        values[c] = {(r.spec.base_fraction, r.spec.fraction, r.spec.seed): r for r in copies if _config(r) == c}
    readings = sorted(set.intersection(*readings_of.values()))
    dropped = sorted(set.union(*readings_of.values()) - set(readings))
    if dropped:
        notes.append(f"readings missing at some width, left out: {dropped}")
    if not readings:
        raise FitError("no (base fraction, fraction) of copies runs is present at every width; train the worth "
                       "design at each width it names.")
    keys, seeds, rows, lnex, seg, base, examples, kept = [], [], [], [], [], [], [], []
    longest = max((len(t) for c in configs for t in trajectories[c].values()), default=0)
    for c in configs:
        usable_seeds = [s for s in sorted(trajectories[c])
                        if all((b, f, s) in values[c] and math.isfinite(values[c][b, f, s].slice_loss)
                               for b, f in readings)]
        if not usable_seeds:
            notes.append(f"width {c[0]:g}: no seed with a fresh trajectory and every copies run, left out")
            continue
        grid = trajectories[c][usable_seeds[0]][:, 0]
        if any(not np.array_equal(trajectories[c][s][:, 0], grid) for s in usable_seeds):
            raise FitError(f"width {c[0]:g}: the seeds' fresh trajectories are scored at different examples; "
                           f"retrain them with one engine version.")
        top = grid[-1]
        need = max(values[c][b, f, usable_seeds[0]].examples for b, f in readings)
        if top < need:
            raise FitError(f"width {c[0]:g}: its fresh runs reach {top:.0f} examples, fewer than the copies runs' "
                           f"{need:.0f}; the worth is read against fresh runs at least as long (fraction 1).")
        pad = longest - grid.size
        x = np.log(np.concatenate([grid, np.full(pad, grid[-1])]))
        lnex.append(x)
        seg.append(np.diff(x))
        fresh_c = [r for r in fresh if _config(r) == c]
        base.append([_base_examples(b, c[4], fresh_c) for b, _ in readings])
        examples.append([float(values[c][b, f, usable_seeds[0]].examples) for b, f in readings])
        for s in usable_seeds:
            curve = trajectories[c][s][:, 1]
            curve = np.concatenate([curve, np.full(pad, curve[-1])])
            rows.append(np.concatenate([curve, [values[c][b, f, s].slice_loss for b, f in readings]]))
            keys.append(c)
            seeds.append(s)
        kept.append(c)
    if not kept:
        raise FitError("no width has a seed with both a fresh trajectory and every copies run.")
    design = {"width": np.array([k[0] for k in keys], float)}
    cells = Cells.from_arrays(keys, seeds, np.array(rows), design, CONFIG)
    order = [kept.index(k) for k in cells.keys]  # Cells sorts its keys
    layout = WorthLayout(np.array(lnex)[order], np.array(seg)[order], np.array(base)[order],
                         np.array(examples)[order], tuple(readings), longest)
    return cells, layout, {"notes": notes}


def read_worth(M: np.ndarray, layout: WorthLayout) -> tuple[np.ndarray, np.ndarray]:
    """``(w [B, C, m], clamped [B, C, m])`` from log losses ``M [B, C, V_f + m]``: each copies reading's worth,
    and whether its loss lay outside its trajectory's range (read at that end)."""
    V = layout.n_curve
    curve, target = M[:, :, :V], M[:, :, V:]
    y0, y1 = curve[:, :, :-1, None], curve[:, :, 1:, None]  # [B, C, V-1, 1]
    level = target[:, :, None, :]  # [B, C, 1, m]
    rise = np.maximum(np.abs(y1 - y0), 1e-12)
    above = np.clip((np.maximum(y0, y1) - level) / rise, 0.0, 1.0)  # share of each segment above the loss
    ln_eff = layout.lnex[None, :, :1] + np.einsum("bcvm,cv->bcm", above, layout.seg)
    worth = (np.exp(ln_eff) - layout.base[None]) / (layout.examples - layout.base)[None]
    clamped = (target >= curve[:, :, :1]) | (target <= curve.min(2, keepdims=True))
    return worth, clamped


def pooled_worth(worth: np.ndarray, layout: WorthLayout, mask: np.ndarray) -> np.ndarray:
    """``[B]``: Σ (D_eff − U) / Σ (D − U) over the readings in ``mask`` [C, m] of ``worth`` [B, C, m]: what all
    the copy examples the design trained on were worth in fresh examples. Each reading weighs by its D − U,
    so the short ones (k = 2, whose D_eff is read off a third of the trajectory's length) do not swamp it."""
    extra = np.where(mask, layout.examples - layout.base, 0.0)
    return np.einsum("bcm,cm->b", worth, extra) / extra.sum()


def _per_seed_worth(cells: Cells, layout: WorthLayout, mask: np.ndarray, c: int) -> np.ndarray:
    """Each seed's own pooled worth at cell ``c`` ([k_c]): its fresh trajectory and copies runs alone."""
    k_c = int(cells.counts[c])
    one = dataclasses.replace(layout, lnex=layout.lnex[c:c + 1], seg=layout.seg[c:c + 1], base=layout.base[c:c + 1],
                              examples=layout.examples[c:c + 1])
    return pooled_worth(read_worth(cells.logy[c, :k_c][:, None], one)[0], one, mask[c:c + 1])


def effective_df(cells: Cells, layout: WorthLayout, mask: np.ndarray) -> float:
    """Welch–Satterthwaite degrees of freedom of the pooled worth's variance Σ_c a_c² s_c²/k_c over widths
    (a_c: the width's share of Σ(D − U); s_c²: the variance of its seeds' own pooled worths): (Σ v_c)² /
    Σ v_c²/(k_c − 1), v_c = a_c² s_c²/k_c, at most the nominal Σ(k_c − 1) (equal noise everywhere)."""
    nominal = float(np.sum(np.maximum(cells.counts - 1, 0)))
    extra = np.where(mask, layout.examples - layout.base, 0.0).sum(1)
    share = extra / extra.sum()
    v, d = [], []
    for c in range(cells.n_cells):
        k_c = int(cells.counts[c])
        if k_c >= 2:
            v.append(share[c] ** 2 * _per_seed_worth(cells, layout, mask, c).var(ddof=1) / k_c)
            d.append(k_c - 1)
    v, d = np.array(v), np.array(d)
    if not v.size or not np.any(v > 0):
        return max(nominal, 1.0)
    return float(max(1.0, min(nominal, v.sum() ** 2 / np.sum(v ** 2 / d))))


def copy_worth(runs, *, copies: int | None = None, n_resamples: int = 1000, seed: int = 0,
               scheme: str = "auto", df: str = "satterthwaite") -> Estimate:
    """The worth w of a deformed copy example against a fresh one, pooled over every width and copies reading
    of the worth design: Σ (D_eff − U) / Σ (D − U) (module docstring). 0: the copies were worth nothing
    beyond stopping at U; 1: as good as fresh. ``copies``: only the readings whose k = D/U rounds to it
    (D is whole batches: k = 4 reads 4.03 at U = 3,712). ``df``: the degrees of freedom the pooled
    interval is expanded for, ``satterthwaite`` (the default: Welch–Satterthwaite from each width's seeds,
    ``effective_df``) or ``nominal`` (Σ(seeds − 1), which under-covers when the widths' noise differs)."""
    cells, layout, info = worth_cells(runs)
    k = np.rint(layout.copies)
    mask = np.ones_like(k, bool)
    if copies is not None:
        if not np.any(k == round(copies)):
            raise FitError(f"no copies reading with k = {copies}; the design's are k = "
                           f"{', '.join(f'{v:g}' for v in np.unique(k))}")
        mask = k == round(copies)
    clamped_rows = []

    def stat(M: np.ndarray) -> np.ndarray:
        worth, clamped = read_worth(M, layout)
        clamped_rows.append(clamped[:, mask].any(1))
        return pooled_worth(worth, layout, mask)

    scheme = "pooled" if scheme == "auto" else resolve_scheme(scheme, cells)
    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    point_clamped = bool(clamped_rows[0][0])
    clamped_share = float(np.concatenate(clamped_rows[1:]).mean())
    worth, _ = read_worth(cells.means()[None], layout)
    d_eff = worth[0] * (layout.examples - layout.base) + layout.base
    label = [[f"width {w:g}, U {u:.0f}, D {d:.0f}" for u, d in zip(row_u, row_d)]
             for w, row_u, row_d in zip(cells.design["width"], layout.base, layout.examples)]
    details = {
        "per_reading": {name: float(v) for names, row in zip(label, worth[0]) for name, v in zip(names, row)},
        "effective_examples": {name: float(e) for names, row in zip(label, d_eff) for name, e in zip(names, row)},
        "worth_by_copies": {f"{kk:g}": float(pooled_worth(worth, layout, k == kk)[0]) for kk in np.unique(k)},
        "worth_by_width": {
            f"{w:g}": float(pooled_worth(worth, layout, mask & (np.arange(cells.n_cells) == c)[:, None])[0])
            for c, w in enumerate(cells.design["width"])},
        "per_seed_worth": {f"{w:g}": _per_seed_worth(cells, layout, mask, c).tolist()
                           for c, w in enumerate(cells.design["width"])},
        "widths": [float(w) for w in cells.design["width"]],
        "seeds_per_width": [int(n) for n in cells.counts],
        "readings": [list(r) for r in layout.readings],
        "copies_read": "all" if copies is None else int(round(copies)),
        "pooled_as": "Σ (D_eff − U) / Σ (D − U) over the readings",
        "fresh_reference": "each width's fresh one-epoch trajectory on its largest fraction ≤ 1 (checkpoints "
                           "every half-octave and its final state, on the 2,000-image validation slice)",
        "past_60k": False,
        "data": "copies runs: U base images, then deformed copies of the same U (stream.DeformParams); "
                "the fresh reference: fresh images only",
        "clamped_resamples": clamped_share,
    }
    if info["notes"]:
        details["notes"] = info["notes"]
    if scheme in ("pooled", "chain-pooled"):
        nominal = int(np.sum(np.maximum(cells.counts - 1, 0)))
        if df == "nominal":
            dof = float(max(nominal, 1))
        elif df == "satterthwaite":
            dof = effective_df(cells, layout, mask)
        else:
            raise ValueError(f"df must be 'nominal' or 'satterthwaite', got {df!r}")
        expand = float(scipy.stats.t.ppf(0.975, dof) / scipy.stats.norm.ppf(0.975))
        res = dataclasses.replace(res, samples=res.point + expand * (res.samples - res.point),
                                  method=res.method.replace("percentile", f"percentile expanded ×{expand:.3f} "
                                                                          f"for {dof:.3g} residual df"))
        details.update({"residual_df": nominal, "interval_df": dof, "interval_expansion": expand})
    reason = ""
    if point_clamped or clamped_share > MAX_CLAMPED:
        reason = (f"a copies run's loss lies outside its width's fresh trajectory in "
                  f"{'the point estimate' if point_clamped else f'{clamped_share:.0%} of resamples'}: read at the "
                  f"trajectory's end, the worth there is a bound, not a reading")
    quantity = "worth w of a deformed copy (fresh = 1, nothing = 0)"
    if copies is not None:
        quantity += f", k = {int(round(copies))} copies"
    runs_used = cells.n_runs * (1 + len(layout.readings))  # each seed vector: one fresh run and its copies runs
    return _estimate(res, quantity, runs_used, details, reason)
