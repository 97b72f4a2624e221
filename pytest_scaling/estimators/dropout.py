"""Paired comparisons of two conditions on the same seeds (dropout vs none, bf16 vs fp32)."""

from __future__ import annotations

import numpy as np

from pytest_scaling.bootstrap import match_cells, paired_seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.estimators.common import PAIR_ON, _estimate, _fit_region, _ols_slope_batched, cells_from_runs
from pytest_scaling.estimators.compute_optimal import _optimum_stat, slice_bounds
from pytest_scaling.estimators.design import WindowChoice, cells_for_slices, in_window, shared_window
from pytest_scaling.estimators.frontier import _frontier_level_stat, _frontier_stat


_BUILDERS = {
    "frontier_slope": (lambda: ("loss", _frontier_stat, "Δ slope d lnL/d lnC", {})),
    "accuracy_frontier_slope": (lambda: ("error", _frontier_stat, "Δ slope d ln(err)/d lnC", {})),
    "compute_optimal_exponent": (lambda: ("loss", _optimum_stat, "Δγ", {})),
}


_BUILDERS["frontier_level"] = lambda: ("loss", _frontier_level_stat, "mean Δ ln L on the frontier at equal compute",
                                       {})


def _compute_trend_stat(cells, **_):
    """OLS slope of every configuration's mean ln L on its ln C. Alone it mixes width and data; as a
    paired difference a − b it is the trend of ln L_a − ln L_b with compute (the statistic is linear),
    the tilt a condition gives every curve read off these runs, without the frontier's selection noise."""
    x = np.log(cells.design["flops"])

    def stat(M):
        return _ols_slope_batched(x, M[:, :, 0])

    return stat, {"configs": int(x.size)}


_BUILDERS["compute_trend"] = lambda: ("loss", _compute_trend_stat, "Δ ln L's slope on ln C over every configuration",
                                      {})


def paired_difference(runs_a, runs_b, estimator="compute_optimal_exponent", *, n_resamples: int = 1000,
                      seed: int = 0, scheme: str = "auto", min_compute: float | None = None,
                      drop_smallest_decades: float = 0.0, window=None, trajectories: bool = True,
                      **kw) -> Estimate:
    """Estimate(a) − Estimate(b) with a paired seed bootstrap (e.g. dropout 0.2 vs 0).

    Configurations are matched on (width, fraction, lr_mult) and seeds on their
    ids; each resample draws seed ids per configuration once and uses them in
    both conditions, so noise shared by a seed cancels in the difference.
    ``estimator``: 'frontier_slope', 'accuracy_frontier_slope',
    'compute_optimal_exponent' (or those functions), or 'frontier_level' (mean ln of
    the frontier over the grid's compute values: a − b compares the two frontiers at
    equal compute), or 'compute_trend' (the slope of a − b's per-configuration Δ ln L on ln C: how much
    the condition tilts loss against compute); extra kwargs (size, approach) go to it.
    ``window`` ("auto", (C_lo, C_hi) or None) bounds the slopes and γ; with "auto" both
    conditions' compute-limited windows must decide and the overlap of the two is used. The
    level comparison keeps every run (a difference at equal compute needs no window).
    ``trajectories=False`` reads γ's iso-compute slices off final losses only: for conditions whose
    checkpoints are not their own trajectory (a cooldown run's early checkpoints are the
    constant-LR trunk's), so each point is a run at the end of its own schedule.
    """
    name = estimator if isinstance(estimator, str) else getattr(estimator, "__name__", "")
    if name not in _BUILDERS:
        raise ValueError(f"paired_difference supports {', '.join(_BUILDERS)}; got {estimator!r}")
    value, builder, q, _ = _BUILDERS[name]()
    choice = (WindowChoice(None, "all runs (a level at equal compute)") if name == "frontier_level"
              else shared_window(runs_a, runs_b, window, kw.get("size", "params")))
    if name == "compute_optimal_exponent":
        make = cells_for_slices if trajectories else cells_from_runs
    else:
        def make(runs, value):
            return in_window(cells_from_runs(runs, value), choice.window)
    ca, region_a = _fit_region(make(runs_a, value), min_compute, drop_smallest_decades)
    cb, region_b = _fit_region(make(runs_b, value), min_compute, drop_smallest_decades)
    ca, cb = match_cells(ca, cb, PAIR_ON)
    if name == "compute_optimal_exponent":  # both conditions' slices in one compute range
        kw = {**kw, "bounds": slice_bounds(region_b, choice.window,
                                           min_compute is not None or drop_smallest_decades > 0)}
    sa, _ia = builder(ca, **kw)[:2]
    sb, _ib = builder(cb, **kw)[:2]
    res = paired_seed_bootstrap(ca, cb, sa, sb, n_resamples=n_resamples, seed=seed, scheme=scheme)
    if name == "compute_optimal_exponent":
        q = f"Δγ ({kw.get('size', 'params')}, {kw.get('approach', 'isoflop')})"
    details = {"a": float(sa(ca.means()[None])[0]), "b": float(sb(cb.means()[None])[0]),
               "configs_paired": ca.n_cells, "fit_region_a": region_a, "fit_region_b": region_b}
    return choice.apply(_estimate(res, q, ca.n_runs + cb.n_runs, details))
