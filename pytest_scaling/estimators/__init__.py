"""Estimators: a RunTable in, an :class:`~pytest_scaling.claims.Estimate` out, one module per finding.

Every estimator is a *pipeline on seed-averaged configurations* (cells):
seed-average (in log space) → [frontier / iso-compute slices / sweep optimum]
→ fit → number. Its uncertainty is the seed bootstrap of the whole pipeline
(:mod:`pytest_scaling.bootstrap`), vectorised over resamples. Each estimate
records the runs it used, the fit region, and (in ``details``) what a reader
needs to judge it. The modules mirror ``claims/``; ``design`` holds the design
diagnostics (binding constraints, the compute-limited window) the others use.
"""

from pytest_scaling.estimators.checkpoints import extrapolation_are, extrapolation_are_difference
from pytest_scaling.estimators.common import cells_from_runs, ols_slope, small_chinchilla_grid
from pytest_scaling.estimators.compute_optimal import compute_optimal_exponent, compute_optimal_exponents
from pytest_scaling.estimators.dropout import paired_difference
from pytest_scaling.estimators.fit_region import fit_region_shift
from pytest_scaling.estimators.frontier import (accuracy_frontier_slope, frontier_curvature, frontier_slope,
                                                saturating_frontier)
from pytest_scaling.estimators.lr_fan_in import lr_fan_in_slope
from pytest_scaling.estimators.per_axis import per_axis_exponents, per_axis_gamma
from pytest_scaling.estimators.protocols import (diminishing_returns, repeat_worth, repetition_r_star, schedule_gain,
                                                 single_run_window)
from pytest_scaling.estimators.sample_efficiency import sample_efficiency_slope

__all__ = [
    "frontier_slope", "accuracy_frontier_slope", "saturating_frontier", "compute_optimal_exponent",
    "per_axis_exponents", "lr_fan_in_slope", "paired_difference", "extrapolation_are", "ols_slope",
    "cells_from_runs", "compute_optimal_exponents", "frontier_curvature", "extrapolation_are_difference",
    "sample_efficiency_slope", "fit_region_shift", "per_axis_gamma", "small_chinchilla_grid",
    "schedule_gain", "single_run_window", "repetition_r_star", "repeat_worth", "diminishing_returns",
]
