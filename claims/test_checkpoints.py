"""Fitting intermediate checkpoints predicts the largest model at least as well as final losses only.

Source: Choshen, Zhang & Andreas 2024, "A Hitchhiker's Guide to Scaling Law
Estimation" (seed 001): "fitting scaling laws to intermediate checkpoints of training
runs (and not just their final losses) substantially improves accuracy" (their
recommendation also drops the earliest checkpoints; we keep those after 10% of a run).

Estimate: L = E + A/N^α + B/D^β is fitted on every width but the largest, once on final
losses and once on final + intermediate checkpoints (D = examples seen so far), and each
predicts the largest width's final loss at its largest data fraction. ΔARE =
ARE(checkpoints) − ARE(final), both fits redone on the same seed resamples (paired).

Claim (non-inferiority): ΔARE < 0.01, i.e. checkpoints are not worse by more than one
percentage point of relative error. We do not claim ΔARE < 0 ("substantially
improves"): the guide's effect is measured over many model families, and a single
extrapolation from 2–3 seeds cannot resolve a gain of that size; ARE values for both
strategies are in the record's details. The parametric fits start from
``small_chinchilla_grid()`` (432 starts) to keep the refits cheap.
"""

from pytest_scaling import expect
from pytest_scaling.analysis import extrapolation_are_difference, small_chinchilla_grid

MARGIN = 0.01


def test_checkpoints_extrapolate_at_least_as_well(scaling_grid):
    est = extrapolation_are_difference(scaling_grid(dropout=0.0), n_resamples=200, starts=small_chinchilla_grid())
    expect(est, "ΔARE (checkpoints − final only)").below(MARGIN)
