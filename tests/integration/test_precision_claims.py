"""The precision claims (claims/test_precision.py) on synthetic grids with a known bf16 effect.

The bf16 twin of each fp32 run shares its seed's effect and has noise of its own (two runs that
round differently drift apart), as a real twin does. No effect must confirm all four; a bf16
loss that tilts with compute must refute the slope and the tilt, one 5% higher the level only.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from pytest_scaling.runs import RunTable
from tests import synthetic as S
from tests.integration.test_claims_suite import SMALL_WIDTHS, FakeGrid, compute, load, reshape, verdict

CLAIMS = ("test_bf16_leaves_the_frontier_level", "test_bf16_leaves_the_frontier_slope", "test_bf16_leaves_gamma",
          "test_bf16_does_not_tilt_loss_against_compute")


def precision_grid(rng: int = 0) -> RunTable:
    effects = np.random.default_rng(rng).normal(0, 0.005, 3)
    fp32 = S.make_grid(widths=SMALL_WIDTHS, n_fractions=7, seeds=(0, 1, 2), sigma=0.01, rng=rng,
                       seed_effects=effects, checkpoints=10)
    twins = S.make_grid(widths=SMALL_WIDTHS, n_fractions=7, seeds=(0, 1, 2), sigma=0.01, rng=rng + 100,
                        seed_effects=effects, checkpoints=10)
    bf16 = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, precision="bf16")) for r in twins]
    return RunTable(list(fp32) + bf16)


def bf16_scaled(table: RunTable, factor) -> RunTable:
    return reshape(table, lambda r, e: factor(r, e) if r.spec.precision == "bf16" else 1.0)


class PrecisionGrid(FakeGrid):
    """FakeGrid with the precision filter and a budget that trains both precisions."""

    budget = SimpleNamespace(name="precision", precision="fp32", compare_precisions=("fp32", "bf16"))

    def __call__(self, dropout=None, widths=None, fractions=None, seeds=None, schedule="constant", epochs=1,
                 precision=None):
        f = {k: v for k, v in {"dropout": dropout, "width": widths, "fraction": fractions, "seed": seeds,
                               "precision": precision or "fp32"}.items() if v is not None}
        return self.main.where(**f)


@pytest.fixture(scope="module")
def claims():
    return load("precision")


def test_bf16_without_an_effect_confirms_all_four(claims):
    grid = PrecisionGrid(precision_grid())
    assert {name: verdict(getattr(claims, name), grid) for name in CLAIMS} == dict.fromkeys(CLAIMS, "confirmed")


def test_a_bf16_frontier_that_bends_refutes_the_slope(claims):
    # Slope +0.1 (twice the tolerance); the window is the dropout test's (same draw), where it has 4 points.
    grid = PrecisionGrid(bf16_scaled(precision_grid(rng=5), lambda r, e: (compute(r, e) / 1e8) ** 0.1))
    assert verdict(claims.test_bf16_leaves_the_frontier_slope, grid) == "refuted"
    assert verdict(claims.test_bf16_does_not_tilt_loss_against_compute, grid) == "refuted"


def test_a_bf16_frontier_five_percent_higher_refutes_the_level(claims):
    grid = PrecisionGrid(bf16_scaled(precision_grid(), lambda r, e: 1.05))
    assert verdict(claims.test_bf16_leaves_the_frontier_level, grid) == "refuted"
    assert verdict(claims.test_bf16_leaves_the_frontier_slope, grid) == "confirmed"  # a level shift only
    assert verdict(claims.test_bf16_does_not_tilt_loss_against_compute, grid) == "confirmed"
