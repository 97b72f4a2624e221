"""Synthetic runs, records and meta for the report tests (and benchmarks/render_report.py).

Runs follow a known law, L = 0.3 + 5/N^0.35 + 8/D^0.3 with 2% multiplicative seed noise,
so plots and frontiers have a shape we can check against. The design (``synthetic_design``)
is the real diagnosis of those runs' main grid, so its window and bindings are derived, not
typed in; records that used a compute window carry that window.
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np

from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

WIDTHS = (2, 3, 4, 6, 8, 11, 16, 23, 32)
FRACTIONS = tuple(2.0 ** -k for k in range(6, -1, -1))
TRAIN_SIZE = 60_000


def params_of(width: int) -> int:
    return 90 * width * width + 200 * width + 100


def law(n: float, d: float, dropout: float = 0.0) -> float:
    return 0.3 + dropout * 0.15 + 5.0 / n ** 0.35 + 8.0 / d ** 0.3


def _run(width, fraction, seed, *, dropout=0.0, lr_mult=1.0, loss=None, rng, diverged=False, collapsed=False):
    n = params_of(width)
    examples = int(TRAIN_SIZE * fraction)
    if loss is None:
        loss = law(n, examples, dropout) * math.exp(0.02 * rng.standard_normal())
    acc = float(np.clip(1.0 - 0.35 * loss, 0.1, 0.99)) if math.isfinite(loss) else 0.1
    ckpts = tuple(
        Checkpoint(e, float(law(n, e, dropout)), float(np.clip(1 - 0.35 * law(n, e, dropout), 0.1, 0.99)))
        for e in np.unique(np.geomspace(64, examples, 4).astype(int))
    )
    return RunResult(
        spec=RunSpec(width=width, fraction=fraction, seed=seed, dropout=dropout, lr_mult=lr_mult),
        params=n, flops_per_example=40 * n, examples=examples, val_loss=float(loss), val_acc=acc,
        diverged=diverged, collapsed=collapsed, train_seconds=0.1, checkpoints=ckpts,
    )


def synthetic_runs(seeds=(0, 1), dropouts=(0.0, 0.2), lr_sweep=True, rng_seed=0) -> RunTable:
    rng = np.random.default_rng(rng_seed)
    runs = [
        _run(w, f, s, dropout=p, rng=rng)
        for p in dropouts for w in WIDTHS for f in FRACTIONS for s in seeds
    ]
    if lr_sweep:
        fraction = 0.25
        for w in (4, 8, 16):
            best = {4: 1.0, 8: 0.0, 16: -1.0}[w]  # log2 of the optimum multiplier
            for k in range(-3, 4):
                if k == 0:
                    continue  # lr_mult 1 is already in the main grid
                for s in seeds:
                    base = law(params_of(w), TRAIN_SIZE * fraction)
                    if w == 16 and k == 3:
                        runs.append(_run(w, fraction, s, lr_mult=2.0 ** k, loss=float("nan"), rng=rng, diverged=True))
                    elif w == 16 and k == 2:
                        runs.append(_run(w, fraction, s, lr_mult=2.0 ** k, loss=math.log(10), rng=rng, collapsed=True))
                    else:
                        loss = (base + 0.08 * (k - best) ** 2) * math.exp(0.01 * rng.standard_normal())
                        runs.append(_run(w, fraction, s, lr_mult=2.0 ** k, loss=loss, rng=rng))
    return RunTable(runs)


@functools.lru_cache(maxsize=1)
def _design() -> dict:
    from pytest_scaling.estimators.design import diagnose
    from pytest_scaling.report import main_grid

    return diagnose(main_grid(synthetic_runs())).to_dict()


def synthetic_design() -> dict:
    """``Design.to_dict()`` of the synthetic main grid (dropout 0, lr_mult 1): a window of ≥3 interior
    slices, the smallest width binding below it, the data cap above (computed once, copied per call)."""
    return copy.deepcopy(_design())


#: Index of each record kind in ``synthetic_records()`` (the NaN-estimate record stays last).
FRONTIER, NOPT, DROPOUT, LR, SATURATING, UNDECIDED, BAD = range(7)

#: The saturating law on the synthetic frontier (fits.fit_saturating on the plotted frontier, rounded).
SATURATING_FIT = {"E": 0.449, "A": 57.0, "alpha": 0.203}


def synthetic_records() -> list[dict]:
    """Three confirmed, one refuted (NaN estimate) and two inconclusive claims: one whose CI straddles
    its region (with what would decide it) and one the budget could not estimate at all."""
    base = dict(confidence=0.95, method="seed bootstrap", n_resamples=1000, p_value=None, reason="", to_decide="",
                window=None)
    window = synthetic_design()["window"]
    gamma_pts = [[c, 0.02 * c ** 0.4] for c in np.geomspace(1e9, 1e13, 6)]
    return [
        dict(base, nodeid="claims/test_frontier.py::test_frontier_is_power_law", name="frontier is a power law",
             quantity="slope d lnL/d lnC", estimate=-0.171, ci_low=-0.19, ci_high=-0.15, expected="< 0",
             verdict="confirmed", runs=252, details={"fit_region": "all"}),
        dict(base, nodeid="claims/test_nopt.py::test_compute_optimal_size", name="compute-optimal size",
             quantity="γ in N_opt ∝ C^γ", estimate=0.36, ci_low=0.29, ci_high=0.44, expected="in (0, 1)",
             verdict="confirmed", runs=252, window=list(window),
             details={"nopt_points": {"envelope": gamma_pts,
                                      "isoflop": [[c, n * 1.2] for c, n in gamma_pts[1:5]]},
                      "nopt_fits": {"isoflop": {"slope": 0.4, "prefactor": 0.024}}, "window": list(window)}),
        dict(base, nodeid="claims/test_dropout.py::test_dropout_shifts_gamma", name="dropout shifts γ",
             quantity="Δγ (p=0.2 − 0)", estimate=0.02, ci_low=-0.06, ci_high=0.09, expected="≠ 0",
             verdict="inconclusive", runs=504, reason="CI contains 0", window=list(window),
             to_decide="≈2.3× today's seeds (CI half-width 0.075 must clear the nearest boundary, 0.02 away, "
                       "with 80% power; CIs shrink as 1/√seeds): 5 seeds: add to scaling_budgets the line "
                       "'small5: parent=small seeds=0,1,2,3,4'",
             details={"seeds_factor": 2.3}),
        dict(base, nodeid="claims/test_lr.py::test_adam_lr_rule", name="Adam LR ∝ 1/sqrt(fan_in)",
             quantity="slope d lnLR*/d ln fan_in", estimate=-0.47, ci_low=-0.61, ci_high=-0.33,
             expected="within 0.2 of -0.5", verdict="confirmed", runs=42,
             details={"lr_optima": {4: 2.0, 8: [1.0, 0.8, 1.3], 16: 0.5}}),
        dict(base, nodeid="claims/test_frontier.py::test_saturating_form_has_a_positive_exponent",
             name="saturating frontier", quantity="α in L = E + A·C^−α",
             estimate=SATURATING_FIT["alpha"], ci_low=0.17, ci_high=0.24, expected="> 0", verdict="confirmed",
             runs=126, method="seed bootstrap", n_resamples=200, window=None,
             details={"E": SATURATING_FIT["E"], "A": SATURATING_FIT["A"], "E_ci": [0.41, 0.48], "window": None}),
        dict(base, nodeid="claims/test_compute_optimal.py::test_compute_optimal_size_grows_sublinearly[isoflop]",
             name="γ by IsoFLOP slices", quantity="γ by IsoFLOP slices", estimate=None, ci_low=None,
             ci_high=None, method="", n_resamples=None, expected="", verdict="inconclusive", runs=0,
             reason="this budget cannot decide: an IsoFLOP slice needs ≥3 widths around its optimum; 1 slice has them",
             to_decide="widen the grid: smaller widths (1); more data per run", details={"flagged": True}),
        dict(base, nodeid="claims/test_bad.py::test_made_up[<script>]", name="a <b>made-up</b> [bold]claim[/bold]",
             quantity="α & β", estimate=float("nan"), ci_low=None, ci_high=None, expected="> 1",
             verdict="refuted", runs=10, reason="estimate <1 & \"quoted\"", details={"arr": np.arange(3)}),
    ]


def synthetic_meta(design: bool = True) -> dict:
    return dict(budget="small", dataset="Fashion-MNIST", device="cpu", cache_dir="/tmp/cache", runs_total=378,
                runs_cached=312, runs_trained=66, train_seconds=72.4, total_compute_flops=3.2e14,
                wall_seconds=101.0, design=synthetic_design() if design else None)
