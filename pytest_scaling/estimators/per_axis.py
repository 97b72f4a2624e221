"""Kaplan's per-axis laws L(N) and L(D), and the compute-optimal exponent they imply."""

from __future__ import annotations

import numpy as np

from pytest_scaling.bootstrap import BootstrapResult, Cells, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import (_estimate, _estimate_from, _flops_exponent, _ols_slope_batched,
                                              _scheme_name, cells_from_runs, expansion_for, narrow_window_reason)
from pytest_scaling.estimators.compute_optimal import _optimum_stat, slice_args
from pytest_scaling.estimators.design import cells_for_slices, choose_window


def _axis_stat(cells: Cells, axis: str = "N", size: str = "params", **_):
    if axis == "N":
        frmax = cells.design["fraction"].max()
        sel = np.flatnonzero(np.isclose(cells.design["fraction"], frmax))
        x = np.log(cells.design[size][sel])
        what = f"L(N) at the largest data fraction ({frmax:g})"
    else:
        wmax = cells.design["width"].max()
        sel = np.flatnonzero(cells.design["width"] == wmax)
        x = np.log(cells.design["examples"][sel])
        what = f"L(D) at the largest width ({wmax:g})"
    if np.unique(x).size < 3:
        raise FitError(f"{what} has {np.unique(x).size} distinct point(s); a slope needs ≥3.")

    def stat(M):
        return _ols_slope_batched(x, M[:, sel, 0])

    return stat, {"points": int(sel.size), "slice": what}


def per_axis_exponents(runs, *, size: str = "params", n_resamples: int = 2000, seed: int = 0,
                       scheme: str = "auto") -> dict[str, Estimate]:
    """Log-log slopes of L(N) at the largest data fraction and of L(D) at the largest width."""
    cells = cells_from_runs(runs)
    out = {}
    for axis, q in (("N", "slope d lnL/d lnN"), ("D", "slope d lnL/d lnD")):
        stat, info = _axis_stat(cells, axis=axis, size=size)
        res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
        out[axis] = _estimate(res, q, int(cells.counts[_axis_cells(cells, axis)].sum()), info)
    return out


def _axis_cells(cells: Cells, axis: str) -> np.ndarray:
    if axis == "N":
        return np.isclose(cells.design["fraction"], cells.design["fraction"].max())
    return cells.design["width"] == cells.design["width"].max()


def per_axis_gamma(runs, *, compare: str | None = "isoflop", size: str = "params", n_resamples: int = 1000,
                   seed: int = 0, scheme: str = "auto", starts: np.ndarray | None = None,
                   window=None) -> dict[str, Estimate]:
    """Kaplan-style per-axis laws and the compute-optimal exponent they imply.

    α_N = −d lnL/d lnN (largest data fraction), α_D = −d lnL/d lnD (largest width); in
    L = E + A/N^α + B/D^β with C ∝ N^k·D, N_opt ∝ C^{β/(α+kβ)}, so the implied γ is
    α_D/(α_N + k·α_D), k the grid's FLOPs-per-example exponent (1 for C ∝ N·D); E is
    ignored, which biases both slopes towards 0. Returns
    ``{"alpha_N", "alpha_D", "gamma_implied"}`` and, with ``compare`` (an approach of
    :func:`compute_optimal_exponent`), ``"gamma_implied − direct"`` from the same resamples.
    The per-axis slopes use every run (L(N) at full data is the data-capped curve by design);
    ``window`` bounds only the direct γ's slices, and that difference records it.
    """
    cells = cells_for_slices(runs)
    choice = choose_window(runs, window, size) if compare else None
    sN = _axis_stat(cells, axis="N", size=size)[0]
    sD = _axis_stat(cells, axis="D", size=size)[0]
    k = _flops_exponent(cells, size)
    built = (_optimum_stat(cells, size=size, approach=compare, starts=starts,
                           **slice_args({}, choice, False)) if compare else None)
    direct = built[0] if built else None
    store = {"alpha_N": [], "alpha_D": [], "gamma_implied": [], "direct": []}

    def joint(M):
        aN, aD = -sN(M), -sD(M)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where((aN > 0) & (aD > 0), aD / (aN + k * aD), np.nan)
        store["alpha_N"].append(aN)
        store["alpha_D"].append(aD)
        store["gamma_implied"].append(g)
        store["direct"].append(direct(M) if direct else g)
        return g

    seed_bootstrap(cells, joint, n_resamples=n_resamples, seed=seed, scheme=scheme,
                   max_failed=1.0 if built and built[1].get("window_resampled") else 0.05)
    pt = {k: float(v[0][0]) for k, v in store.items()}
    bs = {k: np.concatenate(v[1:]) for k, v in store.items()}
    if built:  # the direct γ's own interval, as compute_optimal_exponent gives it: one γ, one interval
        bs["direct"] = pt["direct"] + expansion_for(built[1], cells, scheme) * (bs["direct"] - pt["direct"])
    method = f"seed bootstrap ({_scheme_name(cells, scheme)}, percentile, joint)"
    details = {"alpha_N": pt["alpha_N"], "alpha_D": pt["alpha_D"], "gamma_implied": pt["gamma_implied"],
               "flops_exponent_k": k}
    if compare:
        details[f"gamma_direct_{compare}"] = pt["direct"]
    quant = {"alpha_N": "α_N = −d lnL/d lnN", "alpha_D": "α_D = −d lnL/d lnD",
             "gamma_implied": "γ implied = α_D/(α_N+k·α_D)"}
    out = {}
    for k, q in quant.items():
        out[k] = _estimate_from(pt[k], bs[k], q, method, cells.n_runs, details)
    if compare:
        diff = bs["gamma_implied"] - bs["direct"]
        ok = np.isfinite(diff)
        reason = ""
        if built[1].get("window_resampled"):  # resamples whose re-chosen window was too narrow: counted, dropped
            reason = narrow_window_reason(BootstrapResult(0.0, diff[ok], int(ok.sum()), int((~ok).sum()), ""))
            details = {**details, "failed_resamples": int((~ok).sum())}
            diff = diff[ok]
        out["gamma_implied − direct"] = choice.apply(_estimate_from(
            pt["gamma_implied"] - pt["direct"], diff, f"γ implied − γ ({compare})", method, cells.n_runs,
            details, reason))
    return out
