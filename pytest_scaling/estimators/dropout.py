"""Paired comparisons of two conditions on the same seeds (dropout vs none, bf16 vs fp32)."""

from __future__ import annotations


import numpy as np

from pytest_scaling.bootstrap import match_cells, paired_joint_bootstrap, paired_seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.estimators import pipeline
from pytest_scaling.estimators.common import (PAIR_ON, _estimate, _fit_region, _ols_slope_batched, cells_from_runs,
                                              narrow_window_reason)
from pytest_scaling.estimators.compute_optimal import _optimum_stat, slice_args
from pytest_scaling.estimators.design import (MIN_WINDOW_SLICES, WindowChoice, cells_for_slices, in_window,
                                              shared_window)
from pytest_scaling.estimators.frontier import _frontier_level_stat
from pytest_scaling.estimators.pipeline import Pipeline, paired_estimate


_BUILDERS = {
    "frontier_slope": (lambda: ("loss", None, "Δ slope d lnL/d lnC", {})),  # through the pipeline
    "accuracy_frontier_slope": (lambda: ("error", None, "Δ slope d ln(err)/d lnC", {})),
    "compute_optimal_exponent": (lambda: ("loss", _optimum_stat, "Δγ", {})),
}


_BUILDERS["frontier_level"] = lambda: ("loss", _frontier_level_stat, "mean Δ ln L on the frontier at equal compute",
                                       {})


def _compute_trend_stat(cells, **_):
    """OLS slope of every configuration's mean ln L on its ln C. Alone it mixes width and data; as a
    paired difference a − b it is the trend of ln L_a − ln L_b with compute (the statistic is linear),
    the tilt a condition gives the grid's configurations, without the frontier's selection noise. It is
    not the frontier's Δ slope: it averages the width and data axes over the grid's configurations."""
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
    conditions' compute-limited windows must decide, and each resample reads the slices both of its
    re-chosen windows keep. The level and the tilt keep every run (a difference at equal compute, and
    a trend over every configuration, need no window).
    ``trajectories=False`` reads γ's iso-compute slices and the frontier off final losses only (the step
    frontier of the configurations): for conditions whose checkpoints are not their own trajectory (a
    cooldown run's early checkpoints are the constant-LR trunk's), so each point is a run at the end of
    its own schedule.
    """
    name = estimator if isinstance(estimator, str) else getattr(estimator, "__name__", "")
    if name not in _BUILDERS:
        raise ValueError(f"paired_difference supports {', '.join(_BUILDERS)}; got {estimator!r}")
    value, builder, q, _ = _BUILDERS[name]()
    everywhere = name in ("frontier_level", "compute_trend")
    choice = (WindowChoice(None, "all runs (a difference at equal compute, or over every configuration)")
              if everywhere else shared_window(runs_a, runs_b, window, kw.get("size", "params")))
    cut = min_compute is not None or drop_smallest_decades > 0
    slopes = name in ("frontier_slope", "accuracy_frontier_slope")
    if (slopes or name == "compute_optimal_exponent") and trajectories:
        make = cells_for_slices
    elif slopes or name == "compute_optimal_exponent":
        make = cells_from_runs
    else:
        def make(runs, value):
            return in_window(cells_from_runs(runs, value), choice.window)
    ca, region_a = _fit_region(make(runs_a, value), min_compute, drop_smallest_decades)
    cb, region_b = _fit_region(make(runs_b, value), min_compute, drop_smallest_decades)
    ca, cb = match_cells(ca, cb, PAIR_ON)
    details = {"configs_paired": ca.n_cells, "fit_region_a": region_a, "fit_region_b": region_b}
    measured = {"frontier_slope": "paired_frontier_slope",
                "compute_optimal_exponent": f"paired_gamma_{kw.get('approach', 'isoflop')}"}.get(name)
    if measured in pipeline.SEED_EXPONENTS and window == "auto" and trajectories:
        details["seed_exponent"] = pipeline.SEED_EXPONENTS[measured]
    if slopes:
        choice = pipeline.for_value(choice, value)
        pa, pb = Pipeline.from_cells(ca, choice), Pipeline.from_cells(cb, choice)
        x = pa.x
        keep = pa.compute >= (region_b["min_compute"] * (1 - 1e-12) if cut else 0)
        (Fa, wa), (Fb, wb) = pa.point(), pb.point()
        details.update(a=float(pipeline.slope(x, Fa[None], (wa & keep)[None])[0]),
                       b=float(pipeline.slope(x, Fb[None], (wb & keep)[None])[0]))
        return paired_estimate(pa, pb, lambda Fa, Fb, w: pipeline.slope(x, Fa, w & keep) -
                               pipeline.slope(x, Fb, w & keep), q, n_resamples=n_resamples, seed=seed,
                               scheme=scheme, details=details)
    if name == "compute_optimal_exponent":  # both conditions' slices in one compute range
        kw = {**kw, **slice_args(region_b, choice, cut)}
    sa = builder(ca, **kw)[0]
    sb = builder(cb, **kw)[0]
    details.update(a=float(sa(ca.means()[None])[0]), b=float(sb(cb.means()[None])[0]))
    resampled = hasattr(sa, "slices") and sa.window.resampled
    if resampled:  # one window per resample: the slices both conditions' re-chosen windows keep
        fallback = sa.window.fallback & sb.window.fallback  # the point overlap, for too small an overlap
        masks, narrow = [], []

        def difference(Ma, Mb):
            (wa, na), (wb, nb) = (f.window.choose(f.window.prof.values(M)) for f, M in ((sa, Ma), (sb, Mb)))
            w = np.asarray(wa & wb)
            short = w.sum(1) < MIN_WINDOW_SLICES
            w = np.where(short[:, None], fallback[None], w)
            masks.append(w)
            narrow.append(na | nb | short)
            return pipeline.slope(sa.x, sa.optima(Ma), w) - pipeline.slope(sb.x, sb.optima(Mb), w)
        res = paired_joint_bootstrap(ca, cb, difference, n_resamples=n_resamples, seed=seed, scheme=scheme,
                                     max_failed=1.0)
        q = f"Δγ ({kw.get('size', 'params')}, {kw.get('approach', 'isoflop')})"
        # the narrow share counted and flagged as for the paired slope (pipeline.finish)
        return pipeline.finish(res, q, ca.n_runs + cb.n_runs, {**details, "window_resampled": True}, masks,
                                narrow, sa.x, choice)
    else:
        res = paired_seed_bootstrap(ca, cb, sa, sb, n_resamples=n_resamples, seed=seed, scheme=scheme)
    if name == "compute_optimal_exponent":
        q = f"Δγ ({kw.get('size', 'params')}, {kw.get('approach', 'isoflop')})"
    return choice.apply(_estimate(res, q, ca.n_runs + cb.n_runs, {**details, "window_resampled": resampled},
                                  narrow_window_reason(res) if resampled else ""))
