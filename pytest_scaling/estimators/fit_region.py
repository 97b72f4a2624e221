"""How far an estimate moves when the smallest compute decade is dropped."""

from __future__ import annotations

import numpy as np

from pytest_scaling.bootstrap import seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.estimators.common import _estimate, _fit_region, cells_from_runs
from pytest_scaling.estimators.compute_optimal import _optimum_stat
from pytest_scaling.estimators.design import cells_for_slices, choose_window, in_window
from pytest_scaling.estimators.frontier import _frontier_stat


def fit_region_shift(runs, estimator: str = "compute_optimal_exponent", *, drop_smallest_decades: float = 1.0,
                     n_resamples: int = 1000, seed: int = 0, scheme: str = "auto", window=None,
                     **kw) -> Estimate:
    """Estimate(fit region without the smallest ``drop_smallest_decades`` of compute) − estimate(all runs),
    both on the same seed resamples ("Scaling Laws, Carefully": fit-region choice moves exponents).

    ``estimator``: 'frontier_slope' or 'compute_optimal_exponent' (kwargs such as ``approach`` go to it).
    ``window`` ("auto", (C_lo, C_hi) or None): "all runs" then means the runs in the window, and
    at most half of the window's decades are dropped (so ≥ 2 slices remain in its upper half).
    """
    if estimator not in ("frontier_slope", "compute_optimal_exponent"):
        raise ValueError(f"fit_region_shift supports 'frontier_slope' and 'compute_optimal_exponent', "
                         f"got {estimator!r}")
    choice = choose_window(runs, window, kw.get("size", "params"))
    decades = drop_smallest_decades
    if choice.window is not None:
        decades = min(decades, float(np.log10(choice.window[1] / choice.window[0])) / 2)
    if estimator == "frontier_slope":
        full = in_window(cells_from_runs(runs), choice.window)
        sub, region = _fit_region(full, None, decades)
        keep = np.flatnonzero(full.design["flops"] >= region["min_compute"] * (1 - 1e-12))
        s_full = _frontier_stat(full, **kw)[0]
        s_sub = _frontier_stat(sub, **kw)[0]
    else:  # the same cells (each width's trajectory) with the slices' compute bounded
        full = cells_for_slices(runs)
        lo = choice.window[0] if choice.window else float(full.design["flops"].min())
        hi = choice.window[1] if choice.window else np.inf
        cut = lo * 10 ** decades
        region = {"min_compute": cut, "drop_smallest_decades": decades}
        keep = np.arange(full.n_cells)
        s_full = _optimum_stat(full, bounds=(lo, hi), **kw)[0]
        s_sub = _optimum_stat(full, bounds=(cut, hi), **kw)[0]
    store = []

    def stat(M):
        a, b = s_full(M), s_sub(M[:, keep])
        store.append((a, b))
        return b - a

    res = seed_bootstrap(full, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    q = ("Δ slope d lnL/d lnC" if estimator == "frontier_slope" else "Δγ") + \
        f" (drop smallest {decades:.2g} decade(s) − all)"
    details = {"all_runs": float(store[0][0][0]), "restricted": float(store[0][1][0]), "fit_region": region,
               "estimator": estimator, **{k: v for k, v in kw.items() if isinstance(v, (str, int, float))}}
    return choice.apply(_estimate(res, q, full.n_runs, details))
