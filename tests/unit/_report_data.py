"""Synthetic runs, records and meta for the report tests (and benchmarks/render_report.py).

Runs follow a known law, L = 0.3 + 5/N^0.35 + 8/D^0.3 with 2% multiplicative seed noise,
so plots and frontiers have a shape we can check against. The design (``synthetic_design``)
is the real diagnosis of those runs' main grid, so its window and bindings are derived, not
typed in; records that used a compute window carry that window.
"""

from __future__ import annotations

import ast
import copy
import functools
import math
from pathlib import Path

import numpy as np

from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

WIDTHS = (2, 3, 4, 6, 8, 11, 16, 23, 32)
FRACTIONS = tuple(2.0 ** -k for k in range(6, -1, -1))
TRAIN_SIZE = 60_000
CLAIMS = Path(__file__).resolve().parents[2] / "claims"


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


def origin(stem: str) -> dict:
    """The keys the plugin adds to a record of claims/<stem>.py: its finding, source, module and the
    plots it feeds (its ``SCALING_PLOTS``)."""
    from pytest_scaling.claims import module_finding

    tree = ast.parse((CLAIMS / f"{stem}.py").read_text())
    plots = next((ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "SCALING_PLOTS" for t in node.targets)), ())
    finding, source = module_finding(ast.get_docstring(tree))
    return {"finding": finding, "source": source, "module": stem, "plots": list(plots)}


def synthetic_records() -> list[dict]:
    """Three confirmed, one refuted (NaN estimate) and two inconclusive claims: one whose CI straddles
    its region (with what would decide it) and one the budget could not estimate at all.

    Four records carry the plugin's ``finding``/``source``/``module``/``plots`` keys; the others, like an
    old baseline's, have only their nodeid to be grouped by (the nopt record's module and the undecided
    record's nodeid name the same file, so both paths meet in one group), the dropout one with the plot
    it feeds and the LR one without."""
    base = dict(confidence=0.95, method="seed bootstrap", n_resamples=1000, p_value=None, reason="", to_decide="",
                window=None)
    window = synthetic_design()["window"]
    gamma_pts = [[c, 0.02 * c ** 0.4] for c in np.geomspace(1e9, 1e13, 6)]
    return [
        dict(base, **origin("test_frontier"), nodeid="claims/test_frontier.py::test_frontier_is_power_law",
             name="frontier is a power law",
             quantity="slope d lnL/d lnC", estimate=-0.171, ci_low=-0.19, ci_high=-0.15, expected="< 0",
             verdict="confirmed", runs=252, details={"fit_region": "all"}),
        dict(base, **origin("test_compute_optimal"), nodeid="claims/test_nopt.py::test_compute_optimal_size",
             name="compute-optimal size",
             quantity="γ in N_opt ∝ C^γ", estimate=0.36, ci_low=0.29, ci_high=0.44, expected="in (0, 1)",
             verdict="confirmed", runs=252, window=list(window),
             details={"nopt_points": {"envelope": gamma_pts,
                                      "isoflop": [[c, n * 1.2] for c, n in gamma_pts[1:5]]},
                      "nopt_fits": {"isoflop": {"slope": 0.4, "prefactor": 0.024}}, "window": list(window)}),
        dict(base, nodeid="claims/test_dropout.py::test_dropout_shifts_gamma", name="dropout shifts γ",
             plots=["dropout"], quantity="Δγ (p=0.2 − 0)", estimate=0.02, ci_low=-0.06, ci_high=0.09, expected="≠ 0",
             verdict="inconclusive", runs=504, reason="CI contains 0", window=list(window),
             to_decide="≈2.3× today's seeds (CI half-width 0.075 must clear the nearest boundary, 0.02 away, "
                       "with 80% power; CIs shrink as 1/√seeds): 5 seeds: add to scaling_budgets the line "
                       "'small5: parent=small seeds=0,1,2,3,4'",
             details={"seeds_factor": 2.3}),
        dict(base, nodeid="claims/test_lr.py::test_adam_lr_rule", name="Adam LR ∝ 1/sqrt(fan_in)",
             quantity="slope d lnLR*/d ln fan_in", estimate=-0.47, ci_low=-0.61, ci_high=-0.33,
             expected="within 0.2 of -0.5", verdict="confirmed", runs=42,
             details={"lr_optima": {4: 2.0, 8: [1.0, 0.8, 1.3], 16: 0.5}}),
        dict(base, **origin("test_frontier"),
             nodeid="claims/test_frontier.py::test_saturating_form_has_a_positive_exponent",
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
             finding="A <i>made-up</i> finding & its \"quotes\" are text.", source=None, module="test_bad",
             quantity="α & β", estimate=float("nan"), ci_low=None, ci_high=None, expected="> 1",
             verdict="refuted", runs=10, reason="estimate <1 & \"quoted\"", details={"arr": np.arange(3)}),
    ]


def _wide(stem: str, test: str, verdict: str, quantity: str, estimate: float, ci: tuple, expected: str, *,
          holm: str | None = None, reason: str = "", to_decide: str = "", window=None) -> dict:
    return dict(origin(stem), nodeid=f"claims/{stem}.py::{test}", name=test, quantity=quantity, estimate=estimate,
                ci_low=ci[0], ci_high=ci[1], confidence=0.95, method="seed bootstrap", n_resamples=1000,
                p_value=None, expected=expected, verdict=verdict, adjusted_verdict=holm or verdict, runs=316,
                reason=reason, to_decide=to_decide, window=window, details={})


def wide_records() -> list[dict]:
    """Records shaped like a real ``small`` session's (claims/*.py findings, long parametrised names,
    long reasons and budget lines, Holm verdicts): the page must still fit a 1280-px window."""
    window = list(synthetic_design()["window"])
    seeds13 = ",".join(str(s) for s in range(13))
    wide = [
        _wide("test_accuracy", "test_error_rate_falls_with_compute", "confirmed", "slope d ln(err)/d lnC",
              -0.215, (-0.316, -0.136), "< 0", window=window),
        _wide("test_frontier", "test_frontier_is_close_to_a_straight_line", "refuted",
              "relative change of the frontier slope", 2.8, (2.4, 3.2), "within ±0.5",
              reason="the whole 0.95 CI lies outside within 0.5 of 0"),
        _wide("test_compute_optimal", "test_gamma_approaches_agree[envelope-isoflop]", "inconclusive",
              "γ(envelope) − γ(isoflop)", -0.233, (-0.471, 0.281), "within 0.2 of 0", window=window,
              reason="the 0.95 CI [-0.471, 0.281] straddles within 0.2 of 0; inside a one-decade window N_opt "
                     "spans widths 2–4, so the envelope's γ jumps between discrete widths",
              to_decide="≈52× today's seeds (CI half-width 0.376 must clear the nearest boundary, 0.033 away, "
                        "with 80% power; CIs shrink as 1/√seeds): 104 seeds: add the budget line "
                        f"`small104: parent=small seeds={','.join(str(s) for s in range(104))}` to scaling_budgets"),
        _wide("test_compute_optimal", "test_compute_optimal_size_grows_sublinearly[parametric]", "confirmed",
              "γ in N_opt ∝ C^γ (parametric)", 0.325, (0.274, 0.46), "in (0, 1)", holm="inconclusive"),
        _wide("test_checkpoints", "test_checkpoints_extrapolate_at_least_as_well", "inconclusive",
              "ΔARE (checkpoints − final only)", 0.0268, (-0.0872, 0.0934), "< 0.01",
              reason="the 0.95 CI [-0.0872, 0.0934] straddles < 0.01",
              to_decide="≈59× today's seeds (CI half-width 0.0903 must clear the nearest boundary, 0.0168 away, "
                        "with 80% power; CIs shrink as 1/√seeds), so more seeds alone will not decide it: "
                        "a larger largest width to extrapolate to (widths=1,2,3,4,6,8,11,16,23,32,45,64)"),
        _wide("test_fit_region", "test_gamma_is_stable_without_the_smallest_decade", "inconclusive",
              "Δγ (drop smallest 0.45 decade(s) − all)", -0.00868, (-0.284, 0.2), "within 0.15 of 0",
              window=window, reason="the 0.95 CI [-0.284, 0.2] straddles within 0.15 of 0",
              to_decide="≈6.5× today's seeds (CI half-width 0.242 must clear the nearest boundary, 0.141 away, "
                        "with 80% power; CIs shrink as 1/√seeds): 13 seeds: add the budget line "
                        f"`small13: parent=small seeds={seeds13}` to scaling_budgets"),
        _wide("test_fit_region", "test_frontier_slope_is_stable_without_the_smallest_decade", "inconclusive",
              "Δ slope d lnL/d lnC (drop smallest 0.45 decade(s) − all)", -0.516, (-2.95, -0.0246),
              "within 0.05 of 0", window=window, reason="the 0.95 CI [-2.95, -0.0246] straddles within 0.05 of 0",
              to_decide="a wider compute-limited window: with 0.9 decades, dropping the smallest decade drops "
                        "its lower half and leaves 3 frontier points (epochs=2 or fractions=2,4 would lift the "
                        "data cap)"),
        _wide("test_lr_fan_in", "test_lr_scales_as_inverse_sqrt_fan_in", "inconclusive",
              "slope d lnLR*/d ln fan_in", -0.653, (-0.84, -0.378), "within 0.25 of -0.5",
              reason="the 0.95 CI [-0.84, -0.378] straddles within 0.25 of -0.5",
              to_decide="≈12× today's sweep seeds: 24 sweep seeds: add the budget line "
                        f"`small24: parent=small sweep_seeds={','.join(str(s) for s in range(24))}` "
                        "to scaling_budgets"),
        _wide("test_per_axis", "test_implied_gamma_is_sublinear", "confirmed", "γ implied = α_D/(α_N+k·α_D)",
              0.471, (0.443, 0.499), "in (0, 1)"),
        _wide("test_sample_efficiency", "test_larger_models_need_fewer_examples", "confirmed",
              "slope d ln(examples to target)/d lnN", -0.327, (-0.383, -0.264), "< 0"),
    ]
    return synthetic_records() + wide


def synthetic_meta(design: bool = True) -> dict:
    return dict(budget="small", dataset="Fashion-MNIST", device="cpu", cache_dir="/tmp/cache", runs_total=378,
                runs_cached=312, runs_trained=66, train_seconds=72.4, total_compute_flops=3.2e14,
                wall_seconds=101.0, design=synthetic_design() if design else None)
