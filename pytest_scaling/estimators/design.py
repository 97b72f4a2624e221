"""Design diagnostics: which edge of the grid binds where, and the compute-limited window.

A width × fraction grid trained for one epoch has edges: the largest fraction (the data
cap: one epoch of the training set), the smallest fraction, the smallest and the largest
width. A compute-optimal trade-off can only be measured where the best size at equal
compute lies strictly inside them. Past the data cap the frontier is L(N) at fixed D (more
compute can only buy width); at the width floor it is L(D) of the smallest model. A law
fitted across those regimes measures the grid, not the scaling.

**Iso-compute profiles.** With chains, the run on the largest fraction is one trajectory
from the first batch to the end of the epoch, scored every half-octave on a fixed
validation slice (``TrainSettings.checkpoint_fractions``; its end on the same slice via
``slice_loss``). Its state after D examples is the run on D examples. So at any compute C
each width w is read off its trajectory at D = C / (3 · FLOPs per example(w)), interpolated
linearly in (ln D, ln L) between the two scored points around it — every width whose
trajectory covers that D is compared at the same compute, not only the grid's diagonals.
Slices are half an octave of compute apart. Profiles use the *slice* scores (2,000 images:
the full split at every half-octave would cost ~5× the evaluation), finals use the full split.

**Binding constraint of a slice.** Its best width (lowest profile value) is *interior* when
it has a smaller and a larger width beside it in the slice. At the slice's small end it is
*smallest_width* when that is the grid's smallest width, else *data_cap* (the smaller
widths would need more examples than one epoch has). At the large end it is
*largest_width* when that is the grid's largest width, else *smallest_fraction* (the
larger widths would need fewer examples than the trajectory's first scored point).

**The compute-limited window** [C_lo, C_hi] is the longest run of consecutive slices whose
optimum is interior (one non-interior slice between two interior ones counting as interior, unless
the data caps it and N_opt may lie among the widths it lacks: :func:`window_mask`,
:func:`real_data_caps`), kept below the compute where the frontier becomes all data-capped.
Estimators re-choose it by the same rule in every seed resample (``estimators.pipeline``).
Rule: it decides a claim only with ≥ ``MIN_WINDOW_SLICES`` interior slices (three points for
a slope with an interval, two octaves of compute); narrower, or none, makes every
compute-limited claim inconclusive with that cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import KEY, _chain_keys, require_accuracy
from pytest_scaling.runs import WIDTHS

__all__ = ["BINDINGS", "MIN_WINDOW_SLICES", "Design", "FrontierPoint", "IsoSlice", "Profiles", "diagnose",
           "profiles", "trajectory_cells"]

BINDINGS = ("interior", "data_cap", "smallest_width", "largest_width", "smallest_fraction")
#: Fewest interior iso-compute slices that make a window (three points for a slope with a CI).
MIN_WINDOW_SLICES = 3
#: Iso-compute slices per octave of compute.
SLICES_PER_OCTAVE = 2
#: Fewest widths a slice needs to say where its optimum lies.
MIN_SLICE_WIDTHS = 3


# --------------------------------------------------------------------------- trajectories

def trajectory_cells(runs, value: str = "loss") -> Cells:
    """Cells whose value vector is ``[final on the full split, trajectory on the slice …]``.

    Index 0 is the run's final score (what every final-loss statistic reads as ``M[..., 0]``);
    indices 1..T are its scores on the common grid of examples ``design['traj_examples']``
    ([C, T], NaN where a cell has no point there; values there are padding). The trajectory
    is the run's intermediate checkpoints (slice) and its final state on the slice
    (``slice_loss``; older records without it use the full-split final).
    """
    if len(runs) == 0:
        raise FitError("no runs to analyse; check the filters (runs.where(...)) and the budget.")
    usable = runs.usable()
    if len(usable) == 0:
        raise FitError(f"all {len(runs)} runs diverged or collapsed to chance; there is nothing to fit.")
    col = usable.columns()
    keys = list(zip(*(col[k].tolist() for k in KEY)))
    design = {k: col[k].astype(float) for k in ("width", "params", "fraction", "examples", "flops", "lr_mult",
                                                 "lr_scale", "dropout", "flops_per_example")}
    j = 1 if value == "loss" else 2
    if value == "loss":
        final, final_slice = col["val_loss"].astype(float), col["slice_loss"].astype(float)
    elif value == "error":
        final, final_slice = 1 - col["val_acc"].astype(float), 1 - col["slice_acc"].astype(float)
        require_accuracy(final)
    else:
        raise ValueError(f"value must be 'loss' or 'error', got {value!r}")
    tracks = []
    for i, c in enumerate(col["checkpoints"]):
        c = np.asarray(c, float).reshape(-1, 3)
        ex, v = c[:-1, 0], (c[:-1, j] if value == "loss" else 1 - c[:-1, j])
        end = final_slice[i] if np.isfinite(final_slice[i]) else final[i]
        tracks.append((np.append(ex, col["examples"][i]).astype(float), np.append(v, end)))
    grid = np.unique(np.concatenate([t[0] for t in tracks]))
    T = grid.size
    vals = np.empty((len(tracks), 1 + T))
    where = np.full((len(tracks), T), np.nan)
    for i, (ex, v) in enumerate(tracks):
        pos = np.searchsorted(grid, ex)
        row = np.full(T, np.nan)
        row[pos] = v
        # pad gaps with the nearest scored value so every entry is a positive number; masked by NaN examples
        filled = np.flatnonzero(np.isfinite(row))
        row = row[filled[np.clip(np.searchsorted(filled, np.arange(T)), 0, filled.size - 1)]]
        vals[i, 0], vals[i, 1:] = final[i], row
        where[i, pos] = ex
    vals = np.clip(vals, 1e-12, None)
    design["traj_examples"] = where
    return Cells.from_arrays(keys, col["seed"], vals, design, KEY, _chain_keys(col), col["fraction"])


@dataclass(frozen=True)
class Profiles:
    """Iso-compute slices read off the trajectories: ``weights`` maps ``M[B, C, 1+T]`` to
    ``P[B, S, W]`` profile values (ln L of width w at slice compute s), NaN where absent."""

    compute: np.ndarray  # [S] slice compute
    widths: np.ndarray  # [W] widths (sorted)
    size: np.ndarray  # [W] the size axis (params or width) of each width
    present: np.ndarray  # [S, W] bool
    cell: np.ndarray  # [W] index of each width's trajectory cell
    i0: np.ndarray  # [S, W] trajectory index below (into 1..T)
    i1: np.ndarray  # [S, W] trajectory index above
    t: np.ndarray  # [S, W] interpolation weight of i1
    d_max: np.ndarray  # [W] examples at the trajectory's end
    at_top: np.ndarray  # [S, W] bool: the slice reads the width within half a step of its trajectory's end

    def values(self, M: np.ndarray) -> np.ndarray:
        """``M [B, C, 1+T]`` log values → ``[B, S, W]`` profile log values (NaN where absent)."""
        a = M[:, self.cell[None, :], self.i0]  # [B, S, W]
        b = M[:, self.cell[None, :], self.i1]
        out = (1 - self.t) * a + self.t * b
        return np.where(self.present, out, np.nan)


def profiles(cells: Cells, size: str = "params") -> Profiles:
    """Iso-compute slices from the longest trajectory of each width (see module docstring)."""
    if "traj_examples" not in cells.design:
        raise FitError("iso-compute profiles need trajectory cells (trajectory_cells(runs)).")
    d = cells.design
    widths = np.unique(d["width"])
    cell = np.array([np.flatnonzero(d["width"] == w)[np.argmax(d["fraction"][d["width"] == w])] for w in widths])
    ex = d["traj_examples"][cell]  # [W, T]
    if np.sum(np.isfinite(ex), axis=1).min() < 2:
        raise FitError("iso-compute profiles need ≥2 scored points along each width's run (checkpoints); "
                       "these runs have none (trained without checkpoints, or imported without them).")
    fpe3 = 3.0 * d["flops_per_example"][cell]
    lo = np.log(np.nanmin(ex, axis=1) * fpe3)
    hi = np.log(np.nanmax(ex, axis=1) * fpe3)
    step = np.log(2.0) / SLICES_PER_OCTAVE
    grid = np.arange(np.ceil(lo.min() / step), np.floor(hi.max() / step) + 1) * step
    S, W = grid.size, widths.size
    present = np.zeros((S, W), bool)
    i0 = np.zeros((S, W), int)
    i1 = np.zeros((S, W), int)
    t = np.zeros((S, W))
    at_top = np.zeros((S, W), bool)
    for w in range(W):
        ok = np.flatnonzero(np.isfinite(ex[w]))
        lnx = np.log(ex[w, ok])
        target = grid - np.log(fpe3[w])  # ln D at each slice
        inside = (target >= lnx[0] - 1e-9) & (target <= lnx[-1] + 1e-9)
        k = np.clip(np.searchsorted(lnx, target, side="right") - 1, 0, ok.size - 2)
        frac = np.clip((target - lnx[k]) / (lnx[k + 1] - lnx[k]), 0.0, 1.0)
        present[:, w] = inside
        i0[:, w], i1[:, w], t[:, w] = 1 + ok[k], 1 + ok[k + 1], frac
        at_top[:, w] = target >= lnx[-1] - step / 2
    keep = present.sum(1) >= MIN_SLICE_WIDTHS
    return Profiles(np.exp(grid[keep]), widths, d[size][cell], present[keep], cell, i0[keep], i1[keep], t[keep],
                    np.nanmax(ex, axis=1), at_top[keep])


# --------------------------------------------------------------------------- diagnosis

@dataclass(frozen=True)
class FrontierPoint:
    compute: float
    width: float
    fraction: float
    loss: float
    binding: str


@dataclass(frozen=True)
class IsoSlice:
    compute: float
    widths: tuple
    optimum_width: float
    binding: str


@dataclass(frozen=True)
class Design:
    """Where each edge of the grid binds, and the compute-limited window."""

    frontier: tuple
    slices: tuple
    window: tuple | None
    data_cap_from: float | None
    largest_fraction: float
    largest_examples: float
    widths: tuple
    notes: tuple = field(default=())

    @property
    def window_slices(self) -> int:
        if self.window is None:
            return 0
        lo, hi = self.window
        return sum(lo * (1 - 1e-9) <= s.compute <= hi * (1 + 1e-9) for s in self.slices)

    @property
    def interior_slices(self) -> int:
        """Slices in the window whose own optimum is interior (the bridged ones not counted)."""
        return 0 if self.window is None else self.interior_between(*self.window)

    def interior_between(self, lo: float, hi: float) -> int:
        """Slices in [lo, hi] whose own optimum is interior."""
        return sum(lo * (1 - 1e-9) <= s.compute <= hi * (1 + 1e-9) and s.binding == "interior"
                   for s in self.slices)

    @property
    def window_decades(self) -> float:
        return 0.0 if self.window is None else float(np.log10(self.window[1] / self.window[0]))

    def usable_window(self) -> tuple | None:
        """The window when it can decide a claim (≥ MIN_WINDOW_SLICES interior slices), else None."""
        return self.window if self.interior_slices >= MIN_WINDOW_SLICES else None

    def summary_lines(self) -> list[str]:
        """What binds where, in plain words (the report's design section)."""
        out = []
        if self.window is not None:
            out.append(f"compute-limited window {self.window[0]:.2g}–{self.window[1]:.2g} FLOPs "
                       f"({self.window_decades:.2f} decades, {self.window_slices} iso-compute slices, "
                       f"{self.interior_slices} with an interior optimum)" + ("" if self.usable_window() else
                                               f": fewer than {MIN_WINDOW_SLICES}, too narrow to decide"))
        else:
            out.append(f"no compute-limited window: no {MIN_WINDOW_SLICES} consecutive iso-compute slices have "
                       f"their optimum inside the grid")
        runs = _binding_runs(self.slices)
        for binding, lo, hi, n in runs:
            if binding == "interior":
                continue
            out.append(f"{lo:.2g}–{hi:.2g} FLOPs ({n} slice{'s' * (n > 1)}): {_BINDING_WORDS[binding]}")
        if self.data_cap_from is not None:
            what = (f"all {self.largest_examples:,.0f} training images (fraction {self.largest_fraction:g})"
                    if cnn_widths(self.widths) else f"the largest data seen, D = {self.largest_examples:.3g}")
            out.append(f"above {self.data_cap_from:.2g} FLOPs every frontier point uses {what}: "
                       f"data-limited, the frontier there is L(N) at full data")
        out.extend(self.notes)
        return out

    def to_dict(self) -> dict:
        return {
            "window": None if self.window is None else [float(self.window[0]), float(self.window[1])],
            "window_decades": self.window_decades, "window_slices": self.window_slices,
            "window_interior_slices": self.interior_slices,
            "window_decides": self.usable_window() is not None,
            "window_rule": f"longest run of consecutive half-octave iso-compute slices whose best width is "
                           f"interior (a single slice between two interior ones counts), below the data cap; "
                           f"re-chosen in every seed resample; decides claims with ≥{MIN_WINDOW_SLICES} interior "
                           f"slices",
            "data_cap_from": self.data_cap_from,
            "frontier": [{"compute": p.compute, "width": p.width, "fraction": p.fraction, "loss": p.loss,
                          "binding": p.binding} for p in self.frontier],
            "slices": [{"compute": s.compute, "widths": list(s.widths), "optimum_width": s.optimum_width,
                        "binding": s.binding} for s in self.slices],
            "summary": self.summary_lines(),
        }


_BINDING_WORDS = {
    "data_cap": "the best size is the smallest one with all the data: the largest D caps it (data-limited)",
    "smallest_width": "the best size is the grid's smallest: N_opt lies below it",
    "largest_width": "the best size is the grid's largest: N_opt lies above it",
    "smallest_fraction": "the best size is the widest read at the fewest examples scored",
}


def _binding_runs(slices) -> list[tuple]:
    """Consecutive slices with the same binding, as (binding, C_first, C_last, count)."""
    out = []
    for s in slices:
        if out and out[-1][0] == s.binding:
            b, lo, _, n = out[-1]
            out[-1] = (b, lo, s.compute, n + 1)
        else:
            out.append((s.binding, s.compute, s.compute, 1))
    return out


def _classify_slice(prof: Profiles, s: int, values: np.ndarray) -> tuple[float, str]:
    """(best width, binding) of slice ``s`` from its profile log values [W]."""
    idx = np.flatnonzero(prof.present[s])
    k = int(np.argmin(values[idx]))
    best = float(prof.widths[idx[k]])
    if 0 < k < idx.size - 1:
        return best, "interior"
    if k == 0:
        smallest = idx[0] == 0
        return best, ("data_cap" if prof.at_top[s, idx[0]] or not smallest else "smallest_width")
    return best, ("largest_width" if idx[-1] == prof.widths.size - 1 else "smallest_fraction")


def _frontier_points(cells: Cells) -> tuple[list[FrontierPoint], float | None]:
    d = cells.design
    m = cells.means()[:, 0]
    idx = fits.frontier(d["flops"], np.exp(m))
    fmin = d["fraction"].min()
    wmin, wmax = d["width"].min(), d["width"].max()
    # each width's own largest fraction: a grid may feed its small widths more examples (extra_fractions)
    own_max = {w: d["fraction"][d["width"] == w].max() for w in np.unique(d["width"])}
    pts = []
    for i in idx:
        f, w = d["fraction"][i], d["width"][i]
        if np.isclose(f, own_max[w]):
            b = "data_cap"
        elif w == wmin:
            b = "smallest_width"
        elif w == wmax:
            b = "largest_width"
        elif np.isclose(f, fmin):
            b = "smallest_fraction"
        else:
            b = "interior"
        pts.append(FrontierPoint(float(d["flops"][i]), float(w), float(f), float(np.exp(m[i])), b))
    cap_from = None
    for p in reversed(pts):
        if p.binding != "data_cap":
            break
        cap_from = p.compute
    return pts, cap_from


def diagnose_cells(cells: Cells, size: str = "params") -> Design:
    """The design diagnosis of trajectory cells of one condition (one dropout, one LR)."""
    pts, cap_from = _frontier_points(cells)
    prof = profiles(cells, size)
    vals = prof.values(cells.means()[None])[0]
    slices = []
    for s in range(prof.compute.size):
        best, binding = _classify_slice(prof, s, vals[s])
        slices.append(IsoSlice(float(prof.compute[s]), tuple(float(w) for w in prof.widths[prof.present[s]]),
                               best, binding))
    window = _window(slices, cap_from)
    fmax = float(cells.design["fraction"].max())
    examples = float(cells.design["examples"][np.isclose(cells.design["fraction"], fmax)].max())
    return Design(tuple(pts), tuple(slices), window, cap_from, fmax, examples,
                  tuple(float(w) for w in np.unique(cells.design["width"])))


def _window(slices, cap_from: float | None) -> tuple | None:
    """The point estimate's window under :func:`window_mask`'s rule, as (C_first, C_last)."""
    if not slices:  # no compute where three widths' trajectories overlap
        return None
    compute = np.array([s.compute for s in slices])
    interior = np.array([[s.binding == "interior" for s in slices]])
    capped = np.array([[s.binding == "data_cap" for s in slices]])
    smallest_read = np.array([min(s.widths) for s in slices])
    best = np.array([[s.optimum_width for s in slices]])
    below = np.ones(compute.size, bool) if cap_from is None else compute < cap_from
    mask = window_mask(interior, below, real_data_caps(capped, smallest_read, best), min_slices=1)[0]
    return (float(compute[mask][0]), float(compute[mask][-1])) if mask.any() else None


def slice_interior(prof: Profiles, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``([B, S], [B, S])``: whether each slice's best width (lowest profile value ``P [B, S, W]``) has a
    smaller and a larger width read beside it at that compute, and whether it is data-capped (the
    smallest width read there, at the end of its one-epoch trajectory or above a smaller width that
    one epoch cannot take to that compute)."""
    k = np.argmin(np.where(prof.present, P, np.inf), axis=2)
    first = np.argmax(prof.present, axis=1)
    last = prof.present.shape[1] - 1 - np.argmax(prof.present[:, ::-1], axis=1)
    top = np.take_along_axis(np.broadcast_to(prof.at_top, P.shape), k[..., None], 2)[..., 0]
    capped = (k == first[None]) & (top | (first[None] > 0))  # as _classify_slice's "data_cap"
    return (k > first[None]) & (k < last[None]), real_data_caps(capped, first, k)


def real_data_caps(capped: np.ndarray, smallest_read: np.ndarray, best: np.ndarray) -> np.ndarray:
    """``[B, S]``: the data-capped slices that are real edges of the window.

    A capped slice's best width is the smallest one read there, so N_opt might lie among the smaller
    widths one epoch cannot take to that compute. It cannot when those widths are all below the best
    width of the slice under it (``smallest_read [S]`` ≤ ``best [B, S]`` one slice lower, in the same
    units): N_opt(C) does not fall as compute grows, so such a slice lacks only widths the optimum has
    already left, and its best width ties with the next one by seed noise. The window may bridge it
    like a tied slice; any other capped slice is a real edge. On `small` in bf16 (avx512_bf16 EPYC)
    the slices at 4.3e9 and 8.6e9 FLOPs were capped at width 2, below interior optima at widths 2 and
    3, and ended the window at 3.0e9 where fp32's reached 1.2e10."""
    real = capped.copy()
    real[:, 1:] &= smallest_read[None, 1:] > best[:, :-1]
    return real


def window_mask(interior: np.ndarray, below_cap: np.ndarray, capped: np.ndarray | None = None,
                min_slices: int = MIN_WINDOW_SLICES) -> np.ndarray:
    """``[B, S]`` slices of the compute-limited window, per row of ``interior [B, S]``.

    The window is the longest run of consecutive interior slices below the data cap, where a single
    slice between two interior ones whose best width is the smallest or largest read there counts as
    interior: N_opt(C) of a law moves smoothly, so one slice whose best width ties with its neighbour
    is seed noise, and a rule that split the window there moved both its ends (and several verdicts)
    on a perturbation the seeds cannot resolve. A real data-capped slice (``capped``: the best width is
    the smallest read there and N_opt may lie among the widths one epoch cannot feed, see
    :func:`real_data_caps`) is an edge, never bridged. A row with a run shorter than
    ``min_slices`` *truly* interior slices gets no window (a bridged slice lengthens a window, never
    makes one: [interior, tie, interior] is two points, not three). Every resample applies the same
    rule, so the window's own noise reaches the intervals (see ``estimators.pipeline``).
    """
    ok = interior & below_cap[None]
    bridge = below_cap[None, 1:-1] if capped is None else below_cap[None, 1:-1] & ~capped[:, 1:-1]
    closed = ok.copy()
    closed[:, 1:-1] |= ok[:, :-2] & ok[:, 2:] & bridge
    B, S = closed.shape
    run = np.zeros(B, int)
    run_ok = np.zeros(B, int)
    best_len = np.zeros(B, int)
    best_end = np.zeros(B, int)
    for s in range(S):
        run = np.where(closed[:, s], run + 1, 0)
        run_ok = np.where(closed[:, s], run_ok + ok[:, s], 0)
        better = (run > best_len) & (run_ok >= max(min_slices, 1))
        best_len = np.where(better, run, best_len)
        best_end = np.where(better, s, best_end)
    pos = np.arange(S)[None]
    start = (best_end - best_len + 1)[:, None]
    return (pos >= start) & (pos <= best_end[:, None]) & (best_len > 0)[:, None]


def diagnose(runs, size: str = "params") -> Design:
    """Design diagnosis of one condition's runs (e.g. ``scaling_grid(dropout=0.0)``)."""
    return diagnose_cells(trajectory_cells(runs), size)


# --------------------------------------------------------------------------- windows for estimators

@dataclass(frozen=True)
class WindowChoice:
    """The compute range an estimator uses, and why (see :func:`choose_window`)."""

    window: tuple | None  # (C_lo, C_hi) or None: every run
    source: str  # "design" | "given" | "all runs"
    reason: str = ""  # non-empty: the window cannot decide a compute-limited claim
    to_decide: str = ""
    design: Design | None = None
    slices: int | None = None  # interior slices in ``window`` when it is not the design's own (an overlap)

    @property
    def resampled(self) -> bool:
        """Whether estimators re-choose this window in every resample: the design's own window or the
        overlap of two designs' windows (a given range, or one fixed by :func:`pipeline.for_value`, is not)."""
        return self.source.startswith("design")

    def details(self) -> dict:
        out = {"window": None if self.window is None else [float(self.window[0]), float(self.window[1])],
               "window_source": self.source}
        if self.window is not None:
            out["window_decades"] = float(np.log10(self.window[1] / self.window[0]))
        if self.design is not None and self.design.largest_fraction > 1:
            # a claim that reads examples past the training split says so: they are deformed copies
            out["deformed_copies"] = (f"runs up to fraction {self.design.largest_fraction:g} read the stream of "
                                      f"deformed copies past the 60k training images (not i.i.d. fresh images)")
        if self.slices is not None or self.design is not None:
            out["window_slices"] = self.slices if self.slices is not None else self.design.window_slices
            out["window_interior_slices"] = self.slices if self.slices is not None else self.design.interior_slices
        return out

    def apply(self, estimate):
        """The estimate with the window recorded and, when the window cannot decide, flagged."""
        import dataclasses

        details = {**estimate.details, **self.details()}
        if not self.reason:
            return dataclasses.replace(estimate, details=details)
        reason = "; ".join(r for r in (self.reason, estimate.reason) if r)
        return dataclasses.replace(estimate, details=details, reason=reason,
                                   to_decide=self.to_decide or estimate.to_decide)


def has_trajectories(runs) -> bool:
    """Whether each width's longest usable runs carry ≥2 scored points (the profiles read those; a
    shorter run of a chain may be its first point alone, as in a table of final losses)."""
    usable = runs.usable()
    if len(usable) == 0:
        return False
    longest: dict = {}
    for r in usable:
        longest.setdefault(r.spec.width, []).append(r)
    for members in longest.values():
        top = max(r.examples for r in members)
        if any(len(r.checkpoints) < 2 for r in members if r.examples == top):
            return False
    return True


def cnn_widths(widths) -> bool:
    """Whether these are the built-in CNN's widths (advice may then name its ladder); else another family's sizes."""
    return all(float(w).is_integer() and int(w) in WIDTHS for w in widths)


def cells_for_slices(runs, value: str = "loss") -> Cells:
    """Trajectory cells when the runs have checkpoints (profiles), else plain final-loss cells."""
    from pytest_scaling.estimators.common import cells_from_runs

    return trajectory_cells(runs, value) if has_trajectories(runs) else cells_from_runs(runs, value)


def choose_window(runs, window="auto", size: str = "params") -> WindowChoice:
    """``window``: "auto" (the design's compute-limited window), None (every run) or (C_lo, C_hi).

    "auto" on a design whose window has fewer than ``MIN_WINDOW_SLICES`` interior slices
    returns no window (every run) with a ``reason`` — a claim on the estimate is inconclusive —
    and ``to_decide``, the budget change that would widen it.
    """
    if window is None:
        return WindowChoice(None, "all runs")
    if not isinstance(window, str):
        lo, hi = (float(x) for x in window)
        if not 0 < lo < hi:
            raise ValueError(f"window must be (C_lo, C_hi) with 0 < C_lo < C_hi, got {window!r}")
        return WindowChoice((lo, hi), "given")
    if window != "auto":
        raise ValueError(f"window must be 'auto', None or (C_lo, C_hi), got {window!r}")
    if not has_trajectories(runs):
        return WindowChoice(None, "all runs", "no compute-limited window can be found: the runs carry no "
                            "checkpoint trajectories (iso-compute profiles need them)",
                            "train the runs with this engine (checkpoints every half-octave), or import "
                            "checkpoints (a step or run column) or final losses at several D per size")
    design = diagnose(runs, size)
    if design.usable_window() is not None:
        return WindowChoice(design.window, "design", design=design)
    n = design.interior_slices
    what = (f"the compute-limited window has {n} iso-compute slice{'s' * (n != 1)} with an interior optimum "
            f"(a claim needs ≥{MIN_WINDOW_SLICES})" if n else
            "no iso-compute slice has its optimum inside the grid (no compute-limited window)")
    return WindowChoice(None, "all runs", what, widen_window(design), design)


def shared_window(runs_a, runs_b, window="auto", size: str = "params") -> WindowChoice:
    """One window for a paired comparison: with "auto", the overlap of both conditions' windows
    (either one too narrow, or no overlap, flags the comparison)."""
    a = choose_window(runs_a, window, size)
    if window != "auto" or a.reason:
        return a
    b = choose_window(runs_b, window, size)
    if b.reason:
        return b
    lo, hi = max(a.window[0], b.window[0]), min(a.window[1], b.window[1])
    inside = b.design.interior_between(lo, hi)
    if inside < MIN_WINDOW_SLICES:
        return WindowChoice(None, "all runs", f"the two conditions' compute-limited windows overlap in {inside} "
                            f"iso-compute slice(s) (a claim needs ≥{MIN_WINDOW_SLICES})", widen_window(b.design),
                            b.design)
    return WindowChoice((lo, hi), "design (overlap of both conditions)", design=b.design, slices=inside)


def widen_window(design: Design) -> str:
    """The budget change that would widen the window, from the edges that bind most."""
    counts = {b: sum(s.binding == b for s in design.slices) for b in BINDINGS}
    smallest = min(design.widths)
    if not cnn_widths(design.widths):  # another family's sizes: no ladder or budget key to name
        hints = [text for binding, text in (
            ("smallest_width", "smaller models"), ("data_cap", "more data per run at the small sizes"),
            ("largest_width", "larger models"), ("smallest_fraction", "earlier checkpoints or larger models"))
            if counts[binding]]
        return "widen the grid: " + "; ".join(hints or ["more sizes between the current ones"])
    hints = []
    if counts["smallest_width"]:
        smaller = [w for w in WIDTHS if w < smallest][-3:]
        widths = ",".join(f"{w:g}" for w in (*smaller, *design.widths))
        hints.append(f"smaller widths: widths={widths} in the budget line" if smaller else
                     "smaller widths (the grid already starts at width 1: the lowest compute is small-model bound)")
    if counts["data_cap"] and design.largest_fraction < 1:
        hints.append(f"larger fractions: {counts['data_cap']} slice(s) want more than the largest fraction "
                     f"({design.largest_fraction:g}, {design.largest_examples:,.0f} images), e.g. fractions up to 1 "
                     f"as in --scaling-budget=small")
    elif counts["data_cap"]:
        hints.append(f"more data per run: {counts['data_cap']} slice(s) want more than the "
                     f"{design.largest_examples:,.0f} examples the small widths see: fractions above 1 (the "
                     f"deformed stream) at those widths, e.g. extra_fractions=2,4,8 extra_fractions_widths=1,2,3,4,6,8")
    if counts["largest_width"] or counts["smallest_fraction"]:
        # the widest width wins (at its largest fraction, or at the fewest examples scored): wider models
        larger = [w for w in WIDTHS if w > max(design.widths)][:2]
        hints.append(f"larger widths: add {','.join(map(str, larger))} to the budget's widths" if larger else
                     "larger widths than the family's largest")
    if not hints:
        hints.append("more widths between the current ones")
    return "widen the grid: " + "; ".join(hints)


def in_window(cells: Cells, window: tuple | None) -> Cells:
    """Cells whose compute lies in ``window`` (all of them when None)."""
    if window is None:
        return cells
    c = cells.design["flops"]
    keep = (c >= window[0] * (1 - 1e-9)) & (c <= window[1] * (1 + 1e-9))
    if not keep.any():
        raise FitError(f"no runs lie in the compute window {window[0]:.3g}–{window[1]:.3g}.")
    return cells.subset(keep)
