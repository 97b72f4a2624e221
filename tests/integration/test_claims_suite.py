"""The shipped claims (``claims/``) on synthetic grids from known laws.

Each claim function is called with a fake ``scaling_grid`` serving synthetic
RunTables shaped like the ``small`` budget (widths 2…32 × fractions 1/64…1,
dropout 0/0.2, checkpoints; an LR sweep at widths 4, 11, 32). A law that satisfies a
claim must confirm it; a law built to violate it must refute it. A FitError (the
plugin turns it into "budget cannot decide") is reported as its own outcome.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_scaling import claims as claims_module
from pytest_scaling.errors import FitError
from pytest_scaling.plugin import ScalingGrid
from pytest_scaling.runs import RunTable
from tests import synthetic as S

CLAIMS = Path(__file__).resolve().parents[2] / "claims"
SMALL_WIDTHS = (2, 3, 4, 6, 8, 11, 16, 23, 32)


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"claims_{name}", CLAIMS / f"test_{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class FakeGrid(ScalingGrid):
    """The plugin's ``scaling_grid`` (its memo included) over given runs instead of a session."""

    budget = None

    def __init__(self, main: RunTable, sweep: RunTable | None = None):
        self.main, self.sweep = main, sweep if sweep is not None else RunTable()
        self._memo = {}

    def __call__(self, dropout=None, widths=None, fractions=None, seeds=None):
        f = {k: v for k, v in {"dropout": dropout, "width": widths, "fraction": fractions, "seed": seeds}.items()
             if v is not None}
        return self.main.where(**f) if f else self.main

    def lr_sweep(self, widths=None):
        return self.sweep if widths is None else self.sweep.where(width=widths)


def verdict(fn, grid, keep_records: bool = False, **kw) -> str:
    """Run one claim function: 'confirmed', 'refuted', 'inconclusive' or 'cannot decide' (FitError).

    Its claim records are dropped unless ``keep_records`` (so this session's own summary stays clean)."""
    claims_module.configure()
    claims_module.take_records()
    try:
        fn(grid, **kw)
    except AssertionError:
        return "refuted"
    except pytest.skip.Exception:
        return "inconclusive"
    except FitError:
        return "cannot decide"
    finally:
        if not keep_records:
            claims_module.take_records()
    return "confirmed"


def reshape(table: RunTable, factor) -> RunTable:
    """Multiply every run's losses (final and checkpoints) by ``factor(run, examples)``."""
    out = []
    for r in table:
        ck = tuple(dataclasses.replace(c, val_loss=c.val_loss * float(factor(r, c.examples))) for c in r.checkpoints)
        out.append(dataclasses.replace(r, val_loss=r.val_loss * float(factor(r, r.examples)), checkpoints=ck))
    return RunTable(out)


def small_grid(rng=0, seeds=(0, 1, 2), sigma=0.01, **kw) -> RunTable:
    """A small-budget-shaped grid (9 widths × 7 fractions) with both dropout conditions sharing seed effects."""
    effects = np.random.default_rng(rng).normal(0, 0.005, len(seeds))
    a = S.make_grid(widths=SMALL_WIDTHS, n_fractions=7, seeds=seeds, sigma=sigma, rng=rng, seed_effects=effects,
                    checkpoints=10, **kw)
    b = S.make_grid(widths=SMALL_WIDTHS, n_fractions=7, seeds=seeds, sigma=sigma, rng=rng + 100,
                    seed_effects=effects, checkpoints=10, dropout=0.2, **kw)
    return RunTable(list(a) + list(b))


def compute(run, examples) -> float:
    """The compute a run has spent after ``examples``: a law of compute must hold along each trajectory
    (its checkpoints), not only at each run's end, since the frontier is read off the learning curves."""
    return run.flops * examples / run.examples


def dropout_scaled(table: RunTable, factor) -> RunTable:
    """Apply ``factor`` to the dropout-0.2 runs only."""
    return reshape(table, lambda r, e: factor(r, e) if r.spec.dropout == 0.2 else 1.0)


@pytest.fixture(scope="module")
def good():
    """A law satisfying every claim: L = E + A/N^α + B/D^β (γ = 0.46), dropout a 5% higher loss."""
    main = dropout_scaled(small_grid(), lambda r, e: 1.05)
    sweep = S.make_lr_sweep(widths=(4, 11, 32), s=0.0, seeds=(0, 1), rng=3)
    return FakeGrid(main, sweep)


# --------------------------------------------------------------------------- a satisfying law confirms

def test_a_satisfying_law_confirms_the_suite_within_a_minute(good):
    outcomes, t0 = {}, time.perf_counter()
    for name, tests in {
        "frontier": ("test_frontier_loss_falls_with_compute",),
        "accuracy": ("test_error_rate_falls_with_compute",),
        "per_axis": ("test_loss_falls_with_model_size_at_full_data", "test_loss_falls_with_data_at_largest_width",
                     "test_implied_gamma_is_sublinear"),
        "dropout": ("test_dropout_raises_the_frontier", "test_dropout_leaves_the_frontier_slope"),
        "lr_fan_in": ("test_lr_falls_with_fan_in", "test_lr_scales_as_inverse_sqrt_fan_in",
                      "test_lr_falls_slower_than_inverse_fan_in"),
        "sample_efficiency": ("test_larger_models_need_fewer_examples",),
        "checkpoints": ("test_checkpoints_extrapolate_at_least_as_well",),
        "fit_region": ("test_frontier_slope_is_stable_without_the_smallest_decade",),
    }.items():
        mod = load(name)
        for t in tests:
            outcomes[f"{name}::{t}"] = verdict(getattr(mod, t), good)
    co = load("compute_optimal")
    for a in co.APPROACHES:
        outcomes[f"gamma::{a}"] = verdict(co.test_compute_optimal_size_grows_sublinearly, good, approach=a)
    elapsed = time.perf_counter() - t0
    assert {k: v for k, v in outcomes.items() if v != "confirmed"} == {}
    assert elapsed < 60, f"the suite's statistics took {elapsed:.0f}s on a small-sized grid"


def test_compute_optimal_records_carry_the_report_plot_details(good):
    co = load("compute_optimal")
    verdict(co.test_approaches_agree, good, keep_records=True, pair=("envelope", "parametric"))
    rec = claims_module.take_records()[-1]
    assert set(rec.details["nopt_points"]) == {"envelope", "isoflop", "parametric"}
    pts = np.asarray(rec.details["nopt_points"]["isoflop"])
    assert pts.shape[1] == 2 and np.all(np.diff(pts[:, 0]) > 0)


def test_lr_records_carry_optima_for_the_report(good):
    lr = load("lr_fan_in")
    assert verdict(lr.test_lr_scales_as_inverse_sqrt_fan_in, good, keep_records=True) == "confirmed"
    rec = claims_module.take_records()[-1]
    opt = rec.details["lr_optima"]
    assert set(opt) == {"4", "11", "32"}
    for star, lo, hi in opt.values():
        assert lo <= star <= hi and 0.5 < star < 2  # the synthetic optimum is lr_mult 1 at every width
    assert rec.details["distance_from_mup"] == pytest.approx(rec.estimate + 1)


# --------------------------------------------------------------------------- violating laws refute

def test_a_flat_frontier_is_not_confirmed():
    # loss independent of compute (seed noise only): a frontier never rises, so this cannot be refuted,
    # but it must not be confirmed either
    main = reshape(small_grid(rng=1), lambda r, e: 1.0 / S.law(r.params, r.examples))
    mod = load("frontier")
    assert verdict(mod.test_frontier_loss_falls_with_compute, FakeGrid(main)) in ("inconclusive", "cannot decide")


def test_a_strongly_saturating_frontier_is_not_a_straight_line():
    # the floor dominates and both terms fall fast: the log-log frontier bends inside the compute-limited window
    main = small_grid(rng=2, law_kw=dict(E=1.0, alpha=0.5, beta=0.5))
    mod = load("frontier")
    assert verdict(mod.test_frontier_is_close_to_a_straight_line, FakeGrid(main)) == "refuted"
    assert verdict(mod.test_saturating_form_has_a_floor, FakeGrid(main)) == "confirmed"


def test_a_pure_power_law_frontier_is_straight():
    # L = A·C^−0.15 on every configuration (times the seed noise): the frontier is a straight line
    main = reshape(small_grid(rng=4), lambda r, e: 5.0 * r.flops ** -0.15 / S.law(r.params, r.examples))
    mod = load("frontier")
    assert verdict(mod.test_frontier_is_close_to_a_straight_line, FakeGrid(main)) == "confirmed"


def test_dropout_that_helps_or_bends_the_frontier_is_refuted():
    base = small_grid(rng=5)
    mod = load("dropout")
    helps = FakeGrid(dropout_scaled(base, lambda r, e: 0.9))
    assert verdict(mod.test_dropout_raises_the_frontier, helps) == "refuted"
    bends = FakeGrid(dropout_scaled(base, lambda r, e: (compute(r, e) / 1e8) ** 0.1))
    assert verdict(mod.test_dropout_leaves_the_frontier_slope, bends) == "refuted"


@pytest.mark.parametrize("s, outcome", [(-0.5, "refuted"), (0.5, "refuted")], ids=["muP", "constant-LR"])
def test_lr_laws_other_than_inverse_sqrt_are_refuted(s, outcome):
    # true slope −0.5 + s: −1 (LR ∝ 1/fan_in) or 0 (one LR for every width)
    sweep = S.make_lr_sweep(widths=(4, 11, 32), s=s, seeds=(0, 1), rng=6, mults=tuple(2.0 ** k for k in range(-4, 5)))
    mod = load("lr_fan_in")
    assert verdict(mod.test_lr_scales_as_inverse_sqrt_fan_in, FakeGrid(RunTable(), sweep)) == outcome


def test_lr_optimum_at_the_sweep_edge_is_inconclusive():
    sweep = S.make_lr_sweep(widths=(4, 11, 32), s=0.0, m0=8.0, seeds=(0, 1), rng=7)  # optimum ×8: past the ×8 edge
    mod = load("lr_fan_in")
    assert verdict(mod.test_lr_scales_as_inverse_sqrt_fan_in, FakeGrid(RunTable(), sweep)) == "inconclusive"


def test_larger_models_learning_slower_is_refuted():
    # checkpoint losses that rise with N at equal examples: larger models need more data
    main = reshape(small_grid(rng=8, seeds=(0, 1)), lambda r, e: (r.params / 1e3) ** 0.3)
    mod = load("sample_efficiency")
    assert verdict(mod.test_larger_models_need_fewer_examples, FakeGrid(main)) == "refuted"


def test_misleading_checkpoints_are_refuted():
    # mid-run losses inflated (as if the LR had not yet decayed): the checkpoint fit extrapolates worse
    main = reshape(small_grid(rng=9), lambda r, e: 1.0 + 0.6 * (1 - e / r.examples) * (r.params / 1e4) ** -0.5)
    mod = load("checkpoints")
    assert verdict(mod.test_checkpoints_extrapolate_at_least_as_well, FakeGrid(main)) == "refuted"


def test_a_kink_in_the_smallest_decade_is_refuted():
    base = small_grid(rng=10)
    c0 = min(r.flops for r in base) * 10
    main = reshape(base, lambda r, e: (min(compute(r, e), c0) / c0) ** -0.4)  # steeper below 10·C_min
    mod = load("fit_region")
    assert verdict(mod.test_frontier_slope_is_stable_without_the_smallest_decade, FakeGrid(main)) == "refuted"
