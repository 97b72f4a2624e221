"""How far an estimate moves when the smallest compute decade is dropped."""

from __future__ import annotations

import numpy as np

from pytest_scaling.bootstrap import seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.estimators import pipeline
from pytest_scaling.estimators.common import _estimate, narrow_share, narrow_window_reason
from pytest_scaling.estimators.compute_optimal import _optimum_stat, widen_if_narrow
from pytest_scaling.estimators.design import MIN_WINDOW_SLICES, cells_for_slices, choose_window


def _drop_lowest(x: np.ndarray, mask: np.ndarray, decades: float, keep: int = 3) -> np.ndarray:
    """Per row, the kept slices at or above the row's first kept slice × 10^decades, but never fewer than
    the row's last ``keep`` (a resample's window may be shorter than the point estimate's)."""
    first = np.where(mask.any(1), x[np.argmax(mask, 1)], np.inf)
    xs = np.where(mask, x[None], -np.inf)
    kth = np.sort(xs, axis=1)[:, -keep] if mask.shape[1] >= keep else np.full(mask.shape[0], -np.inf)
    cut = np.minimum(first + decades * np.log(10), kth)
    return mask & (x[None] >= cut[:, None] - 1e-9)


def fit_region_shift(runs, estimator: str = "compute_optimal_exponent", *, drop_smallest_decades: float = 1.0,
                     n_resamples: int = 1000, seed: int = 0, scheme: str = "auto", window=None,
                     **kw) -> Estimate:
    """Estimate(fit region without the smallest ``drop_smallest_decades`` of compute) − estimate(all runs),
    both on the same seed resamples ("Scaling Laws, Carefully": fit-region choice moves exponents).

    ``estimator``: 'frontier_slope' or 'compute_optimal_exponent' (kwargs such as ``approach`` go to it).
    ``window`` ("auto", (C_lo, C_hi) or None): "all runs" then means the frontier points or slices in the
    window — re-chosen in every resample, the drop counted from that resample's window start — and at
    most half of the point window's decades are dropped (so ≥ 2 slices remain in its upper half). Both
    sides read one frontier computed on every run (:mod:`~pytest_scaling.estimators.pipeline`), so the
    restricted side is the same frontier cut, not a frontier recomputed on what the cut leaves.
    """
    if estimator not in ("frontier_slope", "compute_optimal_exponent"):
        raise ValueError(f"fit_region_shift supports 'frontier_slope' and 'compute_optimal_exponent', "
                         f"got {estimator!r}")
    choice = choose_window(runs, window, kw.get("size", "params"))
    decades = drop_smallest_decades
    if choice.window is not None:
        decades = min(decades, float(np.log10(choice.window[1] / choice.window[0])) / 2)
    store = []
    if estimator == "frontier_slope":
        pipe = pipeline.Pipeline.from_cells(cells_for_slices(runs), choice)
        cells, x = pipe.cells, pipe.x
        counted = pipe.window is not None and pipe.window.resampled

        def parts(M):
            F, w, narrow = pipe.read_counted(M)
            return F, F, np.asarray(w), narrow
    else:
        cells = cells_for_slices(runs)
        builder = _optimum_stat(cells, window=choice if choice.resampled else None,
                                bounds=None if choice.resampled else choice.window, **kw)[0]
        if not hasattr(builder, "optima"):  # final losses only: the grid's diagonals, two fixed compute ranges
            c = cells.design["flops"]
            lo = choice.window[0] if choice.window else float(c.min())
            hi = choice.window[1] if choice.window else np.inf
            whole = _optimum_stat(cells, bounds=(lo, hi), **kw)[0]
            cut = _optimum_stat(cells, bounds=(lo * 10 ** decades, hi), **kw)[0]
            store_d = []

            def stat_d(M):
                a, b = whole(M), cut(M)
                store_d.append((a, b))
                return b - a

            res = seed_bootstrap(cells, stat_d, n_resamples=n_resamples, seed=seed, scheme=scheme)
            dropped = int(cells.counts[c < lo * 10 ** decades * (1 - 1e-12)].sum())
            details = {"all_runs": float(store_d[0][0][0]), "restricted": float(store_d[0][1][0]),
                       "fit_region": {"drop_smallest_decades": decades, "min_compute": lo * 10 ** decades,
                                      "runs_dropped": dropped},
                       "estimator": estimator, **{k: v for k, v in kw.items() if isinstance(v, (str, int, float))}}
            return choice.apply(_estimate(res, f"Δγ (drop smallest {decades:.2g} decade(s) − all)", cells.n_runs,
                                          details))
        x = builder.x
        counted = builder.window.resampled

        def parts(M):
            w, narrow = builder.window.choose(builder.window.prof.values(M))
            return builder.optima(M), None, np.asarray(w), narrow

    resampled = choice.resampled
    narrow_rows = []

    def stat(M):
        Y, _, w, narrow = parts(M)
        if counted and M.shape[0] > 1:  # resample chunks, not the point's own reads
            narrow_rows.append(np.asarray(narrow))
        kept = _drop_lowest(x, w, decades)
        a = pipeline.slope(x, Y, w)
        b = pipeline.slope(x, Y, kept)
        store.append((a, b))
        # A window too short to drop anything from has no shift to measure: a failed resample (counted,
        # flagged past MAX_FAILED), not a Δ of exactly 0 that would pile up on a "near 0" claim's side.
        nothing_dropped = (kept & np.isfinite(Y)).sum(1) == (w & np.isfinite(Y)).sum(1)
        return np.where(nothing_dropped, np.nan, b - a)

    # A resample whose re-chosen window is too narrow reads the point window, and its cut with it: counted and
    # flagged past MAX_NARROW as for the frontier claims (pipeline.finish).
    stat.narrow_rows, stat.min_slices = narrow_rows, MIN_WINDOW_SLICES
    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme,
                         max_failed=1.0 if resampled else 0.05)
    share, flag = narrow_share(stat)
    q = ("Δ slope d lnL/d lnC" if estimator == "frontier_slope" else "Δγ") + \
        f" (drop smallest {decades:.2g} decade(s) − all)"
    point_mask = parts(cells.means()[None])[2]
    dropped_x = x[point_mask[0] & ~_drop_lowest(x, point_mask, decades)[0]]
    first_kept = float(np.exp(x[_drop_lowest(x, point_mask, decades)[0]].min()))
    runs_dropped = int(cells.counts[cells.design["flops"] < first_kept * (1 - 1e-12)].sum()) \
        if estimator == "frontier_slope" else None
    details = {"all_runs": float(store[0][0][0]), "restricted": float(store[0][1][0]),
               "fit_region": {"drop_smallest_decades": decades, "counted_from": "each resample's window start",
                              "min_compute": first_kept, "points_dropped": int(dropped_x.size),
                              "runs_dropped": runs_dropped},
               "estimator": estimator, "window_resampled": resampled,
               **({"seed_exponent": pipeline.SEED_EXPONENTS["fit_region_shift_slope"]}
                  if estimator == "frontier_slope" else {}),
               **share, **{k: v for k, v in kw.items() if isinstance(v, (str, int, float))}}
    reason = "; ".join(r for r in (narrow_window_reason(res) if resampled else "", flag) if r)
    return choice.apply(widen_if_narrow(_estimate(res, q, cells.n_runs, details, reason), choice))
