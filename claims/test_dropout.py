"""20% dropout in the one-epoch regime: a higher frontier, and (we test) unchanged exponents.

Source: the exercise (seeds/000: "Repeat your entire experiment with 20% dropout to
see how this affects the scaling exponents").

Every estimate is a paired seed
bootstrap (``paired_difference``): configurations matched on (width, fraction,
lr_mult), seed ids shared, so seed noise common to both conditions cancels.

1. Level: with one epoch nothing is seen twice, so there is no overfitting for
   dropout to prevent; it only removes capacity and adds gradient noise. Claim: the
   frontier with p = 0.2 lies above the one without, measured as the mean of
   ln L_0.2(C) − ln L_0(C) over the grid's compute values (each frontier a step
   function of compute), > 0.
2. Exponents: we claim "no material change" as equivalence, not as a failure to
   reject: Δ(frontier slope) within ±0.05 (TOL_SLOPE, about a third of the slope,
   ≈ −0.16 on Fashion-MNIST) and Δγ within ±0.2 (TOL_GAMMA, the approaches'
   agreement tolerance of test_compute_optimal: a shift smaller than the
   disagreement between estimators is not a finding). A refutation means dropout
   does change the exponent by more than that; an inconclusive verdict means the
   budget cannot tell (the likely outcome with 2 seeds).

3. Tilt: the paired slope of every configuration's Δ ln L = ln L_0.2 − ln L_0 on ln C
   (as the precision claim measures it): does dropout tilt loss against compute across the
   whole grid. It is a different estimand from Δ(frontier slope), not a sharper reading of it:
   it averages over every (width, fraction), so it mixes dropout's effect on the width and the
   data exponents, and a law can tilt the grid without tilting the frontier (their noise-free
   signs can even differ). It is free of the frontier's selection noise (which width is lowest
   at each compute), so it decides where Δ(frontier slope) cannot; TOL_SLOPE applies to it too,
   and a confirmed tilt says nothing by itself about the frontier's exponent.

The exponents are compared inside the compute-limited window both conditions share
(``window="auto"``, re-chosen in each resample); the level, a difference at equal compute,
and the tilt, a trend over every configuration, use every run.
"""

from pytest_scaling import expect
from pytest_scaling.analysis import paired_difference

#: The report's plots this module feeds (``report.PLOTS`` stems): the frontiers with and without dropout.
SCALING_PLOTS = ("dropout",)

TOL_SLOPE = 0.05
TOL_GAMMA = 0.2
N_RESAMPLES = 1000


def test_dropout_raises_the_frontier(scaling_grid):
    est = paired_difference(scaling_grid(dropout=0.2), scaling_grid(dropout=0.0), "frontier_level",
                            n_resamples=N_RESAMPLES)
    expect(est, "mean Δ ln L on the frontier (p=0.2 − 0)").above(0)


def test_dropout_leaves_the_frontier_slope(scaling_grid):
    est = paired_difference(scaling_grid(dropout=0.2), scaling_grid(dropout=0.0), "frontier_slope",
                            n_resamples=N_RESAMPLES, window="auto")
    expect(est, "Δ slope d lnL/d lnC (p=0.2 − 0)").near(0, TOL_SLOPE)


def test_dropout_leaves_the_loss_compute_tilt(scaling_grid):
    est = paired_difference(scaling_grid(dropout=0.2), scaling_grid(dropout=0.0), "compute_trend",
                            n_resamples=N_RESAMPLES)
    expect(est, "Δ ln L's slope on ln C (p=0.2 − 0)").near(0, TOL_SLOPE)


def test_dropout_leaves_gamma(scaling_grid):
    est = paired_difference(scaling_grid(dropout=0.2), scaling_grid(dropout=0.0), "compute_optimal_exponent",
                            approach="isoflop", n_resamples=N_RESAMPLES, window="auto")
    expect(est, "Δγ isoflop (p=0.2 − 0)").near(0, TOL_GAMMA)
