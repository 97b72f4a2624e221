"""The protocol claims (claims/test_schedules.py, claims/test_repetition.py) on synthetic grids.

A cooldown that lowers the loss more on longer runs must confirm the gain and the steeper
frontier; one that hurts at small budgets must refute the gain (tests/plugin/test_scaling_needs.py
checks that a budget without the protocol runs skips them).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np

from pytest_scaling.runs import RunTable
from tests import synthetic as S
from tests.integration.test_claims_suite import FakeGrid, load, verdict
from tests.unit.test_protocols import repetition_grid

WIDTHS = (2, 3, 4, 6, 8, 11, 16, 23, 32)


def schedules_grid(gain_small: float, gain_large: float, rng: int = 0) -> RunTable:
    """Constant runs from the law, and cooldown twins sharing their seed noise, whose loss is lower by a
    factor going from ``gain_small`` (smallest fraction) to ``gain_large`` (all the data) in ln L."""
    effects = np.random.default_rng(rng).normal(0, 0.005, 3)
    constant = S.make_grid(widths=WIDTHS, n_fractions=7, seeds=(0, 1, 2), sigma=0.01, rng=rng, seed_effects=effects,
                           checkpoints=10)
    twins = []
    for r in constant:
        t = 1 + np.log2(r.spec.fraction) / 6  # 0 at 1/64, 1 at all the data
        shift = np.exp(gain_small + t * (gain_large - gain_small))
        ck = tuple(dataclasses.replace(c, val_loss=c.val_loss * shift) for c in r.checkpoints)
        twins.append(dataclasses.replace(r, spec=dataclasses.replace(r.spec, schedule="cooldown"),
                                         val_loss=r.val_loss * shift, checkpoints=ck))
    return RunTable(list(constant) + twins)


class ProtocolGrid(FakeGrid):
    """FakeGrid with the protocol filters and a budget that trains them."""

    budget = SimpleNamespace(name="protocols", schedules=("constant", "cooldown"), epochs=(1, 2, 4, 8))

    def __call__(self, dropout=None, widths=None, fractions=None, seeds=None, schedule="constant", epochs=1):
        f = {k: v for k, v in {"dropout": dropout, "width": widths, "fraction": fractions, "seed": seeds,
                               "schedule": schedule, "epochs": epochs}.items() if v is not None}
        return self.main.where(**f)


def _outcome(module: str, test: str, grid: FakeGrid) -> str:
    mod = load(module)
    value = getattr(mod, "schedules" if module == "schedules" else "repeated").__wrapped__(grid)
    return verdict(lambda _grid: getattr(mod, test)(value), grid)


def test_a_cooldown_that_helps_more_on_longer_runs_confirms_gain_and_steeper_frontier():
    grid = ProtocolGrid(schedules_grid(-0.01, -0.08))
    assert _outcome("schedules", "test_cooldown_lowers_the_loss_at_every_data_budget", grid) == "confirmed"
    assert _outcome("schedules", "test_cooldown_steepens_the_frontier", grid) == "confirmed"
    assert _outcome("schedules", "test_single_run_protocol_overstates_gamma", grid) in (
        "confirmed", "refuted", "inconclusive")


def test_a_cooldown_that_hurts_small_budgets_refutes_the_gain():
    grid = ProtocolGrid(schedules_grid(0.05, -0.05))
    assert _outcome("schedules", "test_cooldown_lowers_the_loss_at_every_data_budget", grid) == "refuted"


def test_repetition_claims_on_a_known_r_star():
    """R* = 6: epochs 2–4 are worth 0.80 of fresh ones (> 0.75 is not resolved at this noise, so the first
    claim may stay inconclusive but must not be refuted); returns diminish; R* is in (1.54, 154)."""
    grid = ProtocolGrid(repetition_grid(np.random.default_rng(0), r_star=6.0))
    assert _outcome("repetition", "test_up_to_four_epochs_repeats_are_almost_fresh", grid) in ("confirmed",
                                                                                                  "inconclusive")
    assert _outcome("repetition", "test_beyond_four_epochs_returns_diminish", grid) == "confirmed"
    assert _outcome("repetition", "test_repetition_half_life_is_near_muennighoffs", grid) == "confirmed"


def test_repeats_worth_little_refute_almost_fresh():
    grid = ProtocolGrid(repetition_grid(np.random.default_rng(1), r_star=0.5))
    assert _outcome("repetition", "test_up_to_four_epochs_repeats_are_almost_fresh", grid) == "refuted"
