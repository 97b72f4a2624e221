"""pytest-scaling: scaling-law findings as statistical pytest tests."""

from pytest_scaling.budgets import Budget, get_budget
from pytest_scaling.claims import ClaimRecord, Estimate, expect
from pytest_scaling.errors import FitError, ScalingError
from pytest_scaling.fits import fit_chinchilla, fit_power_law, fit_saturating, frontier
from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

__all__ = [
    "Budget", "Checkpoint", "ClaimRecord", "Estimate", "FitError", "RunResult", "RunSpec", "RunTable",
    "ScalingError", "expect", "fit_chinchilla", "fit_power_law", "fit_saturating", "frontier", "get_budget",
]
