"""γ in N_opt ∝ C^γ by Chinchilla's three approaches (envelope, IsoFLOP, parametric)."""

from __future__ import annotations

import dataclasses

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import BootstrapResult, Cells, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators import pipeline
from pytest_scaling.estimators.design import (MIN_WINDOW_SLICES, WindowChoice, cells_for_slices, choose_window,
                                              profiles, widen_window)
from pytest_scaling.estimators.pipeline import SliceWindow
from pytest_scaling.estimators.common import (MAX_FAILED, MAX_NARROW, _fit_region, _flops_exponent, _ols_slope_batched,
                                              _run, _scheme_name, expansion_for, narrow_share, narrow_window_reason,
                                              t_expansion)


def widen_if_narrow(est: Estimate, choice: WindowChoice) -> Estimate:
    """``est`` with the widen-the-window advice as its ``to_decide`` when more than MAX_NARROW of its resamples'
    re-chosen windows were too narrow (``details['window_narrow_share']``), as ``pipeline.finish`` advises
    for the frontier claims: more seeds would not pin such a window down, a wider design would."""
    if est.details.get("window_narrow_share", 0.0) > MAX_NARROW and choice.design is not None:
        return dataclasses.replace(est, to_decide=widen_window(choice.design))
    return est


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


def _slice_optimum(Y: np.ndarray, u: np.ndarray, uc: np.ndarray, pinv: np.ndarray, approach: str) -> np.ndarray:
    """ln N_opt of one iso-compute slice per resample: ``Y`` [B, n] ln L at sizes ``u`` (``uc`` centred).
    Envelope: the best size, refined by the vertex of the parabola through it and its two neighbours
    (a raw argmin over a few integer widths is a lattice statistic whose bootstrap is not valid; the
    three-point vertex moves continuously with the losses, and equals the best size at an edge).
    IsoFLOP: the vertex of the parabola fitted through ``pinv`` (its pseudo-inverse design), clipped
    to the sizes; a concave fit gives the better end."""
    if approach == "envelope":
        return _three_point_vertex(Y, u)
    _, c1, c2 = (Y @ pinv.T).T
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(c2 > 0, -c1 / (2 * np.where(c2 > 0, c2, 1)), np.nan)
    lo_f = c1 * uc[0] + c2 * uc[0] ** 2
    hi_f = c1 * uc[-1] + c2 * uc[-1] ** 2
    v = np.where(np.isnan(v), np.where(lo_f <= hi_f, uc[0], uc[-1]), v)
    return np.clip(v, uc[0], uc[-1]) + u.mean()


def _three_point_vertex(Y: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row of ``Y [B, n]`` (ln L at sizes ``u``), the vertex of the parabola through the lowest point
    and its neighbours, kept between them; the lowest size itself at either end of the slice."""
    B, n = Y.shape
    k = np.argmin(Y, axis=1)
    if n < 3:
        return u[k]
    kc = np.clip(k, 1, n - 2)
    r = np.arange(B)
    x0, x1, x2 = u[kc - 1], u[kc], u[kc + 1]
    y0, y1, y2 = Y[r, kc - 1], Y[r, kc], Y[r, kc + 1]
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = x1 - 0.5 * num / den
    v = np.where(np.isfinite(v), np.clip(v, x0, x2), x1)
    return np.where((k == 0) | (k == n - 1), u[k], v)


def _optimum_stat(cells: Cells, size: str = "params", approach: str = "isoflop", min_points: int = 4,
                  drop_edge: bool = False, starts: np.ndarray | None = None, bounds: tuple | None = None,
                  window: WindowChoice | None = None, **_):
    """Builder for γ. Cells with trajectories (``design.trajectory_cells``) give iso-compute
    profiles (:func:`_profile_optimum_stat`: the slices of ``window``'s compute-limited window,
    re-chosen per resample, or with compute in ``bounds``); plain cells give the grid's diagonals
    (restricted to ``bounds`` as cells)."""
    if size not in ("params", "width"):
        raise ValueError(f"size must be 'params' or 'width', got {size!r}")
    if approach == "parametric":
        return _parametric_stat(cells, size, starts)
    if approach not in ("envelope", "isoflop"):
        raise ValueError(f"approach must be 'envelope', 'isoflop' or 'parametric', got {approach!r}")
    if "traj_examples" in cells.design:
        sw = None
        if window is not None and bounds is None:
            sw = SliceWindow.for_choice(profiles(cells, size), window)
        return _profile_optimum_stat(cells, size, approach, bounds, sw)
    if bounds is not None:  # diagonals of the cells in range; the statistic still reads every cell's column
        c = cells.design["flops"]
        keep = np.flatnonzero((c >= bounds[0] * (1 - 1e-9)) & (c <= bounds[1] * (1 + 1e-9)))
        if keep.size == 0:
            raise FitError(f"no runs lie in the compute range {bounds[0]:.3g}–{bounds[1]:.3g}.")
        inner, *rest = _optimum_stat(cells.subset(keep), size, approach, min_points, drop_edge, starts)
        return (lambda M: inner(M[:, keep]), *rest)
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
            out[:, j] = _slice_optimum(M[:, idx, 0], u, uc, P, approach)
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


def _widths_read(prof, point: np.ndarray, slices: list, kept: np.ndarray, approach: str) -> list[float]:
    """The widths γ's kept slices fit: each IsoFLOP parabola's widths, or the envelope's best width and its
    neighbours (``pipeline.reads``)."""
    if approach == "envelope":
        return pipeline.reads(prof, point, kept)
    return sorted({float(w) for i in np.flatnonzero(kept) for w in prof.widths[slices[i][0]]})


#: Widths each side of a slice's best width that its IsoFLOP parabola is fitted to: the profile
#: away from its minimum is not a parabola, and a fit over the whole slice would pull the vertex.
PARABOLA_HALF_WIDTH = 2


def _profile_optimum_stat(cells: Cells, size: str, approach: str, bounds: tuple | None,
                          window: SliceWindow | None = None):
    """γ from iso-compute profiles (``design.profiles``): per half-octave slice, the best width
    smoothed by its neighbours (envelope) or the vertex of a parabola in ln N fitted to the
    ``PARABOLA_HALF_WIDTH`` widths each side of the best one (isoflop); then ln N_opt on ln C over
    the slices ``window`` keeps in each resample (the compute-limited window re-chosen per resample),
    or, without one, the slices with compute in ``bounds``. Each parabola's widths are fixed from the
    point estimate, so every resample fits the same design.

    The statistic carries ``optima(M)`` ``[B, S]``, ``slices(M)`` ``[B, S]`` (kept) and ``x`` (ln C), for
    paired comparisons that share one window."""
    prof = profiles(cells, size)
    if window is None:
        window = SliceWindow.for_choice(prof, WindowChoice(bounds, "given" if bounds else "all runs"))
    point = prof.values(cells.means()[None])
    kept = window(point)[0]
    if kept.sum() < 3:
        raise FitError(f"only {int(kept.sum())} iso-compute slice(s) in the compute range; γ needs ≥3.",
                       to_decide="more widths and data fractions, so that more compute levels compare ≥3 widths")
    point = point[0]
    lnN = np.log(prof.size)
    slices, edges = [], 0
    for s in range(prof.compute.size):
        idx = np.flatnonzero(prof.present[s])
        k = int(np.argmin(point[s, idx]))
        edges += bool(kept[s]) and not 0 < k < idx.size - 1
        lo = int(np.clip(k - PARABOLA_HALF_WIDTH, 0, max(0, idx.size - 3)))
        hi = int(min(idx.size, max(lo + 3, k + PARABOLA_HALF_WIDTH + 1)))
        fit_idx = idx[lo:hi] if approach == "isoflop" else idx
        u = lnN[fit_idx]
        uc = u - u.mean()
        X = np.stack([np.ones_like(uc), uc, uc ** 2], 1)
        slices.append((fit_idx, u, uc, np.linalg.pinv(X)))
    xC = np.log(prof.compute)

    def optima_from(P):
        out = np.empty((P.shape[0], len(slices)))
        for s, (fit_idx, u, uc, pinv) in enumerate(slices):
            out[:, s] = _slice_optimum(P[:, s, fit_idx], u, uc, pinv, approach)
        return out

    narrow_rows = []

    def stat(M):
        P = prof.values(M)
        mask, narrow = window.choose(P)
        if window.resampled and P.shape[0] > 1:  # resample chunks, not the point's own reads
            narrow_rows.append(narrow)
        return pipeline.slope(xC, optima_from(P), mask)

    stat.narrow_rows, stat.min_slices = narrow_rows, MIN_WINDOW_SLICES

    stat.optima = lambda M: optima_from(prof.values(M))
    stat.slices = lambda M: window(prof.values(M))
    stat.x = xC
    stat.window = window
    pts = optima_from(point[None])[0][kept]
    line = fits.fit_power_law(prof.compute[kept], np.exp(pts)) if np.unique(pts).size > 1 else None
    # Each width's trajectory is one cell of a few seeds: Σ(seeds − 1) residual df in all. The percentile
    # interval is expanded by t_df/z (Hesterberg's expanded percentile interval) where each chain resamples
    # its own seeds (common.expansion_for; tests/unit/test_design.py).
    df = int(np.sum(np.maximum(cells.counts[prof.cell] - 1, 0)))
    info = {"levels": "iso-compute profiles (half-octave slices read off each width's trajectory)",
            "residual_df": df, "interval_expansion": t_expansion(df), "window_resampled": window.resampled,
            "slices_used": int(kept.sum()), "slices_optimum_at_edge": edges,
            "widths_read": _widths_read(prof, point, slices, kept, approach),
            "seed_exponent": pipeline.SEED_EXPONENTS[f"gamma_{approach}"],
            "slice_compute": prof.compute[kept].tolist(),
            "nopt_points": {approach: [[float(c), float(n)] for c, n in zip(prof.compute[kept], np.exp(pts))]}}
    if line is not None:
        info["nopt_fits"] = {approach: {"slope": line.slope, "prefactor": line.prefactor}}
    reason = ""
    if 2 * edges > kept.sum():
        reason = (f"{edges} of {int(kept.sum())} iso-compute slices have their optimum at the smallest or largest "
                  f"width read at that compute: the grid does not bracket N_opt")
    return stat, info, reason


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


def compute_optimal_exponent(runs, size: str = "params", approach: str = "isoflop", *, n_resamples: int = 1000,
                             seed: int = 0, scheme: str = "auto", compare: bool = True,
                             min_compute: float | None = None, drop_smallest_decades: float = 0.0,
                             starts: np.ndarray | None = None, window=None) -> Estimate:
    """γ in N_opt ∝ C^γ by one of Chinchilla's approaches, seed-bootstrapped.

    Runs with checkpoint trajectories give iso-compute *profiles* (every width compared at the
    same compute, half-octave slices; :mod:`~pytest_scaling.estimators.design`); runs without
    them, the grid's diagonals. ``window`` ("auto": the compute-limited window, flagged when
    too narrow; (C_lo, C_hi); None: every slice) bounds the slices of the envelope and IsoFLOP
    approaches. The parametric approach models the data axis explicitly and keeps every run.

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
    choice = _window_for(runs, approach, window, size)
    full = cells_for_slices(runs)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    where = slice_args(region, choice, min_compute is not None or drop_smallest_decades > 0)
    est = _run(cells, _optimum_stat, f"γ in N_opt ∝ C^γ ({size}, {approach})", n_resamples, seed, scheme, region,
               full, size=size, approach=approach, starts=starts, **where)
    if compare:
        others = {}
        for other in ("envelope", "isoflop", "parametric"):
            if other == approach:
                continue
            try:
                st = _optimum_stat(cells, size=size, approach=other, starts=starts, **where)[0]
                others[other] = float(st(cells.means()[None])[0])
            except FitError as e:
                others[other] = f"n/a ({e})"
        est.details["other_approaches"] = others
    return choice.apply(widen_if_narrow(est, choice))


def _window_for(runs, approach: str, window, size: str):
    """The parametric approach keeps every run (it models the data axis); the others use ``window``."""
    if approach == "parametric":
        return WindowChoice(None, "all runs (the parametric fit models the data axis explicitly)")
    return choose_window(runs, window, size)


def slice_bounds(region: dict, window: tuple | None, cut: bool) -> tuple | None:
    """The compute range of γ's iso-compute slices: the window, raised to the fit region's lower
    cut when the caller asked for one (``cut``: min_compute or drop_smallest_decades given).
    Profiles read trajectories far below the grid's smallest run, so an unasked cut would drop slices."""
    lo = region.get("min_compute") if cut else None
    if window is None:
        return None if not lo else (lo, np.inf)
    return (max(window[0], lo or 0.0), window[1])


def slice_args(region: dict, choice: WindowChoice, cut: bool) -> dict:
    """How γ's builder picks its slices: the design's window re-chosen in every resample (``window``),
    unless a fit-region cut or a given range fixes them (``bounds``)."""
    if choice.resampled and not cut:
        return {"window": choice, "bounds": None}
    return {"bounds": slice_bounds(region, choice.window, cut)}


def compute_optimal_exponents(runs, size: str = "params", approaches=("envelope", "isoflop", "parametric"), *,
                              n_resamples: int = 400, seed: int = 0, scheme: str = "auto",
                              starts: np.ndarray | None = None, min_compute: float | None = None,
                              drop_smallest_decades: float = 0.0, window=None) -> dict[str, Estimate]:
    """γ by several Chinchilla approaches on the *same* seed resamples, and their pairwise differences.

    Returns ``{approach: Estimate, "a − b": Estimate, ...}``; a difference's interval comes from
    the joint bootstrap (resamples where both approaches are finite), so it accounts for the
    approaches sharing data. Every estimate's ``details`` carries all approaches'
    ``nopt_points``/``nopt_fits`` (the report's N_opt plot). A FitError from any approach propagates.
    ``window`` bounds the envelope and IsoFLOP slices (see :func:`compute_optimal_exponent`); a
    difference involving a windowed approach carries its window.
    """
    choices = {a: _window_for(runs, a, window, size) for a in approaches}
    full = cells_for_slices(runs)
    cells, region = _fit_region(full, min_compute, drop_smallest_decades)
    cut = min_compute is not None or drop_smallest_decades > 0
    built = {a: _optimum_stat(cells, size=size, approach=a, starts=starts, **slice_args(region, choices[a], cut))
             for a in approaches}
    stats = {a: b[0] for a, b in built.items()}
    store = {a: [] for a in approaches}

    def joint(M):
        vals = {a: np.asarray(f(M), float) for a, f in stats.items()}
        for a in approaches:
            store[a].append(vals[a])
        return vals[approaches[0]]

    seed_bootstrap(cells, joint, n_resamples=n_resamples, seed=seed, scheme=scheme, max_failed=1.0)
    point = {a: v[0][0] for a, v in store.items()}
    boot = {a: np.concatenate(v[1:]) for a, v in store.items()}
    for a in approaches:  # the profile approaches' expanded percentile intervals (see _profile_optimum_stat)
        boot[a] = point[a] + expansion_for(built[a][1], cells, scheme) * (boot[a] - point[a])
    points, nfits = {}, {}
    for b in built.values():
        points.update(b[1].get("nopt_points", {}))
        nfits.update(b[1].get("nopt_fits", {}))
    method = f"seed bootstrap ({_scheme_name(cells, scheme)}, percentile, joint over approaches)"
    out = {}

    def make(value, samples, q, info, reason=""):
        ok = np.isfinite(samples)
        resampled = bool(info.get("window_resampled"))
        if not np.isfinite(value) or ((~ok).sum() > 0.05 * samples.size and not resampled) or ok.sum() < 2:
            raise FitError(f"{q}: {(~ok).sum()} of {samples.size} resamples gave no finite estimate; "
                           f"the data do not pin it down.")
        if resampled and (~ok).sum() > MAX_FAILED * samples.size:
            reason = "; ".join(dict.fromkeys(r for r in (reason, narrow_window_reason(
                BootstrapResult(value, samples[ok], int(ok.sum()), int((~ok).sum()), ""))) if r))
        d = {**info, "fit_region": region, "nopt_points": points, "nopt_fits": nfits,
             "all_approaches": {a: point[a] for a in approaches}}
        for a in d.pop("approaches_read", ()):
            share, flag = narrow_share(stats[a])
            d.update(share)
            reason = "; ".join(dict.fromkeys(r for r in (reason, flag) if r))
        if (~ok).sum():
            d["failed_resamples"] = int((~ok).sum())
        return Estimate(value=float(value), method=method, runs=cells.n_runs, quantity=q, samples=samples[ok],
                        n_resamples=int(ok.sum()), reason=reason, details=d)

    for a in approaches:
        b = built[a]
        info = {k: v for k, v in b[1].items() if k not in ("nopt_points", "nopt_fits")}
        out[a] = choices[a].apply(widen_if_narrow(make(point[a], boot[a], f"γ in N_opt ∝ C^γ ({size}, {a})",
                                                       {**info, "approaches_read": (a,)}, b[2] if len(b) > 2 else ""),
                                                  choices[a]))
    for i, a in enumerate(approaches):
        for b in approaches[i + 1:]:
            # the causes already carry the window's; the record shows the windowed approach's range
            reason = "; ".join(dict.fromkeys(r for r in (out[a].reason, out[b].reason) if r))
            windowed = choices[a] if choices[a].design is not None or choices[a].window else choices[b]
            est = make(point[a] - point[b], boot[a] - boot[b], f"γ({a}) − γ({b})",
                       {"a": point[a], "b": point[b], **windowed.details(), "approaches_read": (a, b),
                        "window_resampled": any(built[x][1].get("window_resampled") for x in (a, b)),
                        # measured in a re-chosen window on trajectories only
                        **({"seed_exponent": pipeline.SEED_EXPONENTS[f"gamma_{a}_minus_{b}"]}
                           if f"gamma_{a}_minus_{b}" in pipeline.SEED_EXPONENTS
                           and all(built[x][1].get("window_resampled") for x in (a, b)) else {})}, reason)
            out[f"{a} − {b}"] = dataclasses.replace(est, to_decide=out[a].to_decide or out[b].to_decide)
    return out
