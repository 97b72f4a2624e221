"""The compute-efficient frontier is a power law in compute.

Source: the exercise ("the compute-efficient frontier should follow an approximate
power law"); Kaplan et al. 2020, §3 and Fig. 1 (L(C) ∝ C^−0.050 for language models).
The frontier is the lower envelope of seed-averaged (width, data) configurations in
(compute, validation loss); its log-log slope is seed-bootstrapped through the whole
pipeline, because OLS on frontier points ignores that the frontier is a minimum.
"""

from pytest_scaling import expect
from pytest_scaling.analysis import frontier_slope


def test_frontier_loss_falls_with_compute(scaling_grid):
    runs = scaling_grid(dropout=0.0)
    expect(frontier_slope(runs), "slope d lnL/d lnC").below(0)
