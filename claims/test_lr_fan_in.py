"""The Adam learning rate should scale as 1/sqrt(fan_in).

Source: the exercise (seeds/000: "for Adam, the learning rate should be proportional
to the initialization scale, i.e. 1/sqrt(fan_in) for the standard Kaiming He
initialization").

The LR sweep multiplies c/sqrt(fan_in) by powers of 2 at a few
widths; each width's optimum LR* is the vertex of a parabola in ln LR around the best
swept value (never the raw argmin), fitted to the points within 0.3 nats of ln loss of
the width's minimum (weights falling smoothly to 0 at that level), so that the
divergence wall above LR* stays out of the fit. The slope of ln LR* on ln fan_in is
seed-bootstrapped (≥ 2 sweep seeds needed; fewer → "budget cannot decide"); with 2
seeds the residual pool is the cells within the same 0.3 nats (the wall's cells, where
one seed may collapse, resample their own seeds). The record's details carry the slope
with the level halved and doubled (``window_sensitivity``).

Claims: the slope is negative (the LR must shrink with width at all), and it is within
±0.25 of −0.5 (TOL). 0.25 is half the distance to both alternatives: 0 (one LR for all
widths) and −1 (the μP-style LR ∝ 1/fan_in for Adam hidden layers); a CI inside
[−0.75, −0.25] therefore tells −0.5 apart from both. The distance from −1 is in the
record's details and claimed separately (slope > −1). An optimum at a sweep edge makes
every claim here inconclusive: a slope fitted to edge optima reproduces the sweep's
design, not the optimum.
"""

from pytest_scaling import expect
from pytest_scaling.analysis import lr_fan_in_slope

#: The report's plots this module feeds (``report.PLOTS`` stems): the LR sweep.
SCALING_PLOTS = ("lr_sweep",)

TOL = 0.25


def _slope(scaling_grid):
    return scaling_grid.memo("lr: fan_in slope", lambda: lr_fan_in_slope(scaling_grid.lr_sweep(), n_resamples=1000))


def test_lr_falls_with_fan_in(scaling_grid):
    expect(_slope(scaling_grid), "slope d lnLR*/d ln fan_in").below(0)


def test_lr_scales_as_inverse_sqrt_fan_in(scaling_grid):
    expect(_slope(scaling_grid), "slope d lnLR*/d ln fan_in").near(-0.5, TOL)


def test_lr_falls_slower_than_inverse_fan_in(scaling_grid):
    """The μP-style alternative LR ∝ 1/fan_in (slope −1) is excluded."""
    expect(_slope(scaling_grid), "slope d lnLR*/d ln fan_in").above(-1)
