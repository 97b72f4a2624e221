"""The steps every frontier and γ estimator shares: runs → cells → one frontier → a window re-chosen
in every resample → the statistic → an Estimate.

**One frontier.** The frontier is computed on *all* cells of a resample and only then restricted to a
window or fit region. Recomputing it on the cells left after a cut lets the cheapest of them join the
frontier although a cheaper run beats it (on a noise-free law over 3e9–1.2e10 FLOPs that turned a
slope of −0.18 into −0.32). With trajectories (the engine's half-octave checkpoints) the frontier is
the profile minimum: at each half-octave iso-compute slice, the lowest width read off the learning
curves (Kaplan et al. 2020's envelope of learning curves), which also gives two points per octave.
Runs with final losses only give the step frontier of the cells (the Pareto envelope).

**The window inside the uncertainty.** With ``window="auto"`` every seed resample re-chooses the
compute-limited window by the design's rule (:func:`design.window_mask`) on its own profiles, so the
window's selection noise is in the interval. A resample whose own window is too narrow reads the point
window (the seeds then leave it where the data put it, so those rows carry the frontier's noise but not
the window's); when more than :data:`MAX_NARROW` of them are, too much of the window's uncertainty is
missing and the estimate is flagged. The record carries the window's ends across resamples and the
share of narrow ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells, paired_joint_bootstrap, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import (MAX_FAILED, MAX_NARROW, _estimate, _ols_slope_batched, expanded,
                                              narrow_share_reason,
                                              narrow_window_reason, t_expansion)
from pytest_scaling.estimators.design import (MIN_WINDOW_SLICES, Profiles, WindowChoice, cells_for_slices,
                                              choose_window, profiles, slice_interior, window_mask)

__all__ = ["MAX_NARROW", "Pipeline", "SliceWindow", "build", "finish", "paired_estimate", "slope", "quadratic"]

@dataclass(frozen=True)
class SliceWindow:
    """Which iso-compute slices of ``prof`` an estimator reads: a fixed set, or the compute-limited
    window re-chosen on each resample's profiles (``fixed is None``)."""

    prof: Profiles
    fixed: np.ndarray | None  # [S] bool
    below_cap: np.ndarray  # [S] bool (re-chosen windows only)
    fallback: np.ndarray | None = None  # [S] the point window: a resample whose own window is too narrow

    @classmethod
    def for_choice(cls, prof: Profiles, choice: WindowChoice, bounds: tuple | None = None) -> SliceWindow:
        """``choice`` from :func:`design.choose_window`: its design window is re-chosen per resample;
        ``bounds`` (or a given window) fixes the slices instead."""
        c = prof.compute
        if bounds is None and choice.resampled:
            cap = choice.design.data_cap_from if choice.design is not None else None
            lo, hi = choice.window
            return cls(prof, None, np.ones(c.size, bool) if cap is None else c < cap,
                       (c >= lo * (1 - 1e-9)) & (c <= hi * (1 + 1e-9)))
        rng = bounds if bounds is not None else choice.window
        fixed = np.ones(c.size, bool) if rng is None else (c >= rng[0] * (1 - 1e-9)) & (c <= rng[1] * (1 + 1e-9))
        return cls(prof, fixed, np.ones(c.size, bool))

    @property
    def resampled(self) -> bool:
        return self.fixed is None

    def __call__(self, P: np.ndarray) -> np.ndarray:
        """``P [B, S, W]`` profile log values → ``[B, S]`` slices read."""
        return self.choose(P)[0]

    def choose(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``([B, S] slices read, [B] whether the row's own window was too narrow)``. Such a row reads the
        point window: the seeds then leave the window where the data put it, and the count is recorded."""
        if self.fixed is not None:
            return np.broadcast_to(self.fixed, P.shape[:2]), np.zeros(P.shape[0], bool)
        interior, capped = slice_interior(self.prof, P)
        mask = window_mask(interior, self.below_cap, capped)
        narrow = ~mask.any(1)
        if self.fallback is not None and narrow.any():
            mask = np.where(narrow[:, None], self.fallback[None], mask)
        return mask, narrow


@dataclass(frozen=True)
class Pipeline:
    """One condition's cells, read as ``(F [B, S], window [B, S])``: the frontier's ln values at the
    abscissae ``compute [S]`` (NaN off the frontier) and the slices each resample's window keeps."""

    cells: Cells
    compute: np.ndarray
    choice: WindowChoice
    kind: str  # "profile minimum" | "step frontier of the cells"
    window: SliceWindow | None = None  # profiles
    order: np.ndarray | None = None  # cells sorted by compute (step frontier)
    fixed: np.ndarray | None = None  # [S] the step frontier's range

    @classmethod
    def from_cells(cls, cells: Cells, choice: WindowChoice, size: str = "params") -> Pipeline:
        if "traj_examples" in cells.design:
            prof = profiles(cells, size)
            return cls(cells, prof.compute, choice, "profile minimum", window=SliceWindow.for_choice(prof, choice))
        order = np.argsort(cells.design["flops"], kind="stable")
        c = cells.design["flops"][order]
        rng = choice.window
        fixed = np.ones(c.size, bool) if rng is None else (c >= rng[0] * (1 - 1e-9)) & (c <= rng[1] * (1 + 1e-9))
        return cls(cells, c, choice, "step frontier of the cells", order=order, fixed=fixed)

    @property
    def x(self) -> np.ndarray:
        return np.log(self.compute)

    def read(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.read_counted(M)[:2]

    def read_counted(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(F, window, narrow [B])``: see :meth:`SliceWindow.choose`."""
        if self.window is not None:
            P = self.window.prof.values(M)
            return (np.nanmin(P, axis=2), *self.window.choose(P))
        Ms = M[:, self.order, 0]
        F = np.where(fits.frontier_mask_batched(Ms), Ms, np.nan)
        return F, np.broadcast_to(self.fixed, F.shape), np.zeros(F.shape[0], bool)

    def point(self) -> tuple[np.ndarray, np.ndarray]:
        F, w = self.read(self.cells.means()[None])
        return F[0], w[0]

    def details(self) -> dict:
        F, w = self.point()
        used = w & np.isfinite(F)
        out = {"frontier": self.kind, "frontier_points": int(used.sum()),
               "window_resampled": bool(self.window is not None and self.window.resampled)}
        if self.window is not None:
            P = self.window.prof.values(self.cells.means()[None])[0]
            out.update(residual_df=self.residual_df, interval_expansion=self.expansion,
                       widths_read=reads(self.window.prof, P, used))
        return out

    @property
    def residual_df(self) -> int:
        """Σ(seeds − 1) over the trajectories the profiles read (one cell per width)."""
        return int(np.sum(np.maximum(self.cells.counts[self.window.prof.cell] - 1, 0)))

    @property
    def expansion(self) -> float:
        """The profile minimum picks its points (the lowest width per slice, and the slices the window
        keeps) from the very noise it is averaged over: biased by about 0.6 of its sd towards a steeper
        slope in the re-chosen window, where the percentile interval covered the law's slope in 0.91
        (2 seeds) and 0.935 (3 seeds) of 200 uneven replicates. Expanded by t_df/z (the γ estimators'
        rule), 0.9x: tests/unit/test_pipeline.py."""
        return t_expansion(self.residual_df) if self.window is not None else 1.0


def for_value(choice: WindowChoice, value: str) -> WindowChoice:
    """The window an estimator of ``value`` reads: the design is about loss, so an error-rate frontier reads
    the loss design's window fixed at its point estimate rather than re-choosing it on error rates."""
    if value == "error" and choice.resampled:
        return dataclasses.replace(choice, source="the loss design's window, fixed")
    return choice


def build(runs, value: str = "loss", window="auto", size: str = "params") -> Pipeline:
    """The pipeline of one condition's runs (``window``: "auto", None or (C_lo, C_hi))."""
    return Pipeline.from_cells(cells_for_slices(runs, value), for_value(choose_window(runs, window, size), value),
                               size)


def slope(x: np.ndarray, F: np.ndarray, mask: np.ndarray, min_points: int = 3) -> np.ndarray:
    """Per row, the OLS slope of the frontier ``F`` on ``x`` over the kept, finite slices."""
    w = (mask & np.isfinite(F)).astype(float)
    s = _ols_slope_batched(x, np.nan_to_num(F), w)
    return np.where(w.sum(1) >= min_points, s, np.nan)


def quadratic(x: np.ndarray, F: np.ndarray, mask: np.ndarray, min_points: int = 4) -> tuple[np.ndarray, ...]:
    """Per row, (c₂, slope, span): ln F = a + b·x + c₂·x² on the kept points, the straight slope, and
    the kept range of x."""
    w = (mask & np.isfinite(F)).astype(float)
    Y = np.nan_to_num(F)
    xc = x - x.mean()
    X = np.stack([np.ones_like(xc), xc, xc ** 2], -1)
    XtX = np.einsum("bc,ci,cj->bij", w, X, X)
    Xty = np.einsum("bc,ci,bc->bi", w, X, Y)
    ok = w.sum(1) >= min_points
    XtX[~ok] = np.eye(3)
    c = np.linalg.solve(XtX, Xty[..., None])[..., 0]
    xs = np.where(w > 0, x[None], np.nan)
    with np.errstate(invalid="ignore"):
        span = np.where(ok, np.nanmax(xs, 1) - np.nanmin(xs, 1), np.nan)
    return np.where(ok, c[:, 2], np.nan), slope(x, F, mask, min_points), span


def _window_record(x: np.ndarray, masks: list[np.ndarray], narrow: list[np.ndarray]) -> dict:
    """The re-chosen window's ends across resamples (2.5–97.5 %) and how often it was too narrow."""
    m = np.concatenate(masks[1:], 0)
    some = m.any(1)
    n_narrow = int(np.concatenate(narrow[1:]).sum()) if len(narrow) > 1 else 0
    out = {"window_narrow_resamples": n_narrow, "window_resamples": int(m.shape[0]),
           "window_narrow_share": n_narrow / max(int(m.shape[0]), 1)}
    if some.any():
        lo = np.exp(x[np.argmax(m[some], 1)])
        hi = np.exp(x[m.shape[1] - 1 - np.argmax(m[some][:, ::-1], 1)])
        out["window_ends_95"] = {"low": np.quantile(lo, [0.025, 0.975]).tolist(),
                                 "high": np.quantile(hi, [0.025, 0.975]).tolist()}
    return out


def finish(res, quantity: str, runs: int, details: dict, masks: list[np.ndarray], narrow_rows: list[np.ndarray],
           x: np.ndarray, choice: WindowChoice, reason: str = "") -> Estimate:
    """The Estimate of a bootstrap over re-chosen windows (``masks``/``narrow_rows`` per chunk, the point
    first): the window's ends across resamples, the narrow share (flagged past MAX_NARROW), failures."""
    rec = _window_record(x, masks, narrow_rows) if masks else {}
    narrow = rec.get("window_narrow_resamples", 0) / max(rec.get("window_resamples", 1), 1)
    if res.n_failed > MAX_FAILED * (res.n_resamples + res.n_failed):
        if not masks:  # a fixed range: the data do not pin the quantity down
            raise FitError(f"{quantity}: {res.n_failed} of {res.n_resamples + res.n_failed} resamples gave no "
                           f"finite estimate; the data do not pin it down.")
        reason = "; ".join(r for r in (reason, narrow_window_reason(res)) if r)
    reason = "; ".join(r for r in (reason, narrow_share_reason(narrow, MIN_WINDOW_SLICES)) if r)
    est = _estimate(res, quantity, runs, {**details, **rec}, reason)
    if narrow > MAX_NARROW and choice.design is not None:
        from pytest_scaling.estimators.design import widen_window

        est = dataclasses.replace(est, to_decide=widen_window(choice.design))
    return choice.apply(est)


#: How each estimator's 95% CI half-width shrinks with seeds, h ∝ seeds^−b: b measured on uneven synthetic
#: chains (the capped law, widths 1–32, a 16-slice window; 25 replicates at 2, 4 and 8 seeds, the log-log
#: slope of the median width; the paired ones, the curvature (unexpanded) and the envelope − IsoFLOP
#: difference: 40–48 replicates at 2 and 8 seeds, paired ones of the law against a shifted one; 12
#: replicates put the paired Δγ's anywhere in 0.46–0.88). "What would
#: decide" reads it (claims.seeds_factor); a bootstrap estimator absent here gets no seed count
#: (window-limited, lattice and boundary estimators do not shrink as 1/√seeds). The frontier slope and
#: both γ were measured again (25 replicates at 2, 4, 8 seeds) when the window began to bridge a capped
#: slice that lacks only widths below the optimum (``design.real_data_caps``): 0.46 → 0.61, 0.56 → 0.64,
#: 0.37 → 0.63 (more seeds now also lengthen the window toward the cap); the other five are from the
#: earlier rule, not measured again.
SEED_EXPONENTS = {"frontier_slope": 0.61, "frontier_curvature": 0.50, "gamma_isoflop": 0.64,
                  "gamma_envelope": 0.63, "fit_region_shift_slope": 0.47,
                  "paired_frontier_slope": 0.54, "paired_gamma_isoflop": 0.78,
                  "gamma_envelope_minus_isoflop": 0.50}


def reads(prof: Profiles, P: np.ndarray, kept: np.ndarray) -> list[float]:
    """The widths an estimate reads where seeds would sharpen it: in each kept slice the best width
    (lowest ``P [S, W]``) and its neighbours read there. The others are present but never near the
    minimum, so more of their seeds would not move the estimate."""
    out = set()
    for s in np.flatnonzero(kept):
        idx = np.flatnonzero(prof.present[s])
        k = int(np.argmin(P[s, idx]))
        out.update(prof.widths[idx[max(k - 1, 0):k + 2]].tolist())
    return sorted(float(w) for w in out)


#: Fewer seeds per configuration than this: a profile-minimum frontier resamples pooled chain residuals.
POOL_BELOW_SEEDS = 5


def _scheme(pipe: Pipeline, scheme: str) -> str:
    """``'auto'`` for a profile-minimum frontier: its slices read one trajectory per width, so with 3–4
    seeds the per-chain bootstrap has 3–4 draws per width, and the frontier (a minimum over noisy
    widths, biased low where the noise is largest) needs the noise level from every chain. Measured
    on uneven AR(1) chains (150 replicates, 3 seeds, slope in the re-chosen window against the law's):
    per-chain 0.88, pooled chain residuals 0.947."""
    if scheme != "auto" or pipe.window is None or not pipe.cells.has_chains or int(pipe.cells.counts.max()) == 1:
        return scheme  # one seed per run: "auto" resolves to the residual bootstrap (bootstrap.surface_residuals)
    return "chain-pooled" if np.median(pipe.cells.counts) < POOL_BELOW_SEEDS else "chain"


def run(pipe: Pipeline, statistic: Callable[[np.ndarray, np.ndarray], np.ndarray], quantity: str, *,
        n_resamples: int, seed: int = 0, scheme: str = "auto", details: dict | None = None, reason: str = "",
        chunk: int = 1000, kind: str = "", min_points: int = MIN_WINDOW_SLICES, expand: bool = True) -> Estimate:
    """Seed-bootstrap ``statistic(F, window)`` (each ``[B, S]``) through the pipeline. ``kind`` names the
    estimator in :data:`SEED_EXPONENTS`; ``min_points``: a re-chosen window with fewer frontier points
    is too narrow for this statistic (it reads the point window, counted as narrow); ``expand=False``
    keeps the percentile interval as it is (a bounded parameter: no expansion past its bound)."""
    masks: list[np.ndarray] = []
    narrow: list[np.ndarray] = []
    fallback = pipe.window.fallback if pipe.window is not None and pipe.window.resampled else None

    def stat(M):
        F, w, n = pipe.read_counted(M)
        if fallback is not None and min_points > MIN_WINDOW_SLICES:
            short = (w & np.isfinite(F)).sum(1) < min_points
            w = np.where(short[:, None], fallback[None], w)
            n = n | short
        masks.append(np.asarray(w))
        narrow.append(n)
        return statistic(F, w)

    res = seed_bootstrap(pipe.cells, stat, n_resamples=n_resamples, seed=seed, scheme=_scheme(pipe, scheme),
                         chunk=chunk, max_failed=1.0)
    res = expanded(res, pipe.expansion if expand else 1.0)
    details = {**pipe.details(), **(details or {})}
    if kind in SEED_EXPONENTS:
        details["seed_exponent"] = SEED_EXPONENTS[kind]
    return finish(res, quantity, pipe.cells.n_runs, details, masks if pipe.window is not None and
                   pipe.window.resampled else [], narrow, pipe.x, pipe.choice, reason)


def paired_estimate(a: Pipeline, b: Pipeline, statistic: Callable, quantity: str, *, n_resamples: int,
                    seed: int = 0, scheme: str = "auto", details: dict | None = None) -> Estimate:
    """Paired bootstrap of ``statistic(F_a, F_b, window)``; the window is the slices both conditions'
    re-chosen windows keep in that resample (their overlap). ``a`` and ``b`` hold matched cells."""
    if a.compute.shape != b.compute.shape or not np.allclose(a.compute, b.compute):
        raise FitError("the two conditions' frontiers are read at different compute values; a paired "
                       "comparison needs the same grid (widths, fractions, checkpoints).")
    masks: list[np.ndarray] = []
    narrow: list[np.ndarray] = []
    fallback = None if a.window is None or not a.window.resampled else a.window.fallback & b.window.fallback

    def stat(Ma, Mb):
        Fa, wa, na = a.read_counted(Ma)
        Fb, wb, nb = b.read_counted(Mb)
        w = np.asarray(wa & wb)
        n = na | nb
        if fallback is not None:  # too small an overlap: the point overlap, as a narrow window
            short = w.sum(1) < MIN_WINDOW_SLICES
            w = np.where(short[:, None], fallback[None], w)
            n = n | short
        masks.append(w)
        narrow.append(n)
        return statistic(Fa, Fb, w)

    res = paired_joint_bootstrap(a.cells, b.cells, stat, n_resamples=n_resamples, seed=seed,
                                 scheme=_scheme(a, scheme), max_failed=1.0)
    res = expanded(res, a.expansion)
    details = {**a.details(), **(details or {})}
    return finish(res, quantity, a.cells.n_runs + b.cells.n_runs, details,
                   masks if a.window is not None and a.window.resampled else [], narrow, a.x, a.choice)
