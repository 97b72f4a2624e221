"""bf16 arithmetic leaves the scaling estimates where fp32 puts them.

Source: none we know of tests it; every scaling study on accelerators trains in bf16 or TF32
and compares its exponents with studies that did not. Here the grid's forward passes run in
bf16 (convolutions and matmuls on bf16 operands with fp32 accumulation, their results and
gradients rounded to bf16; weights, Adam's state and the loss in fp32: ``precision.py``),
against the same grid in fp32.

Each bf16 run has an fp32 twin with the same initialisation and data order, so every estimate
here is a paired seed bootstrap of bf16 − fp32 (``paired_difference``): what the seeds share
cancels, and what remains is what the arithmetic changes, chaos included (two runs that differ
in rounding drift apart step by step).

We claim "no material change" as equivalence, with the materiality thresholds of the dropout
claims (test_dropout.py), so that "precision does not matter" and "dropout does not matter"
mean the same thing:

1. Frontier slope: Δ within ±0.05 (about a third of the slope, ≈ −0.16 on Fashion-MNIST).
2. γ (IsoFLOP, compute-optimal width ∝ C^γ): Δ within ±0.2, the approaches' agreement
   tolerance of test_compute_optimal; a shift smaller than the estimators' disagreement is
   not a finding.
3. Level: the mean of ln L_bf16(C) − ln L_fp32(C) over the grid's compute values within
   ±0.02, i.e. bf16 costs or gains less than 2% of the loss at equal compute; a baseline
   saved in one precision is then a fair reference for runs in the other.
4. Tilt: the slope of each configuration's Δ ln L (bf16 − fp32) on ln C within ±0.05, the
   slope tolerance. This is the frontier slope's question without the frontier: if bf16
   changed the loss by a factor C^t, every curve read off these runs (the frontier included)
   would tilt by t. The frontier's own Δ slope rests on its few points inside the window and
   on which configuration is lowest at each compute, which the rounding reshuffles: on
   ``precision`` its CI was ±0.086 wide, the tilt's ±0.008, on the same 22 configurations.

The slope and γ are compared inside the compute-limited window both precisions share
(``window="auto"``). Runs on a budget that trains the main grid in both precisions
(``--scaling-budget=precision``); on other budgets these claims are skipped at collection.
"""

import pytest

from pytest_scaling import expect
from pytest_scaling.analysis import paired_difference

TOL_SLOPE = 0.05
TOL_GAMMA = 0.2
TOL_LEVEL = 0.02
N_RESAMPLES = 1000
pytestmark = pytest.mark.scaling_needs("precision")


def _pair(scaling_grid):
    return scaling_grid(dropout=0.0, precision="bf16"), scaling_grid(dropout=0.0, precision="fp32")


def test_bf16_leaves_the_frontier_level(scaling_grid):
    est = paired_difference(*_pair(scaling_grid), "frontier_level", n_resamples=N_RESAMPLES)
    expect(est, "mean Δ ln L on the frontier (bf16 − fp32)").near(0, TOL_LEVEL)


def test_bf16_leaves_the_frontier_slope(scaling_grid):
    est = paired_difference(*_pair(scaling_grid), "frontier_slope", n_resamples=N_RESAMPLES, window="auto")
    expect(est, "Δ slope d lnL/d lnC (bf16 − fp32)").near(0, TOL_SLOPE)


def test_bf16_leaves_gamma(scaling_grid):
    est = paired_difference(*_pair(scaling_grid), "compute_optimal_exponent", approach="isoflop",
                            n_resamples=N_RESAMPLES, window="auto")
    expect(est, "Δγ isoflop (bf16 − fp32)").near(0, TOL_GAMMA)


def test_bf16_does_not_tilt_loss_against_compute(scaling_grid):
    est = paired_difference(*_pair(scaling_grid), "compute_trend", n_resamples=N_RESAMPLES, window="auto")
    expect(est, "slope of Δ ln L on ln C (bf16 − fp32)").near(0, TOL_SLOPE)
