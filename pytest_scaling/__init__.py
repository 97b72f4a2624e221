"""pytest-scaling: scaling-law findings as statistical pytest tests.

The names below load on first use (PEP 562): pytest imports this package for the plugin in
every session, and a project without claims must not pay for numpy, scipy or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_scaling.budgets import Budget, get_budget
    from pytest_scaling.claims import ClaimRecord, Estimate, expect
    from pytest_scaling.errors import FitError, ScalingError
    from pytest_scaling.fits import fit_chinchilla, fit_power_law, fit_saturating, frontier
    from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

__all__ = [
    "Budget", "Checkpoint", "ClaimRecord", "Estimate", "FitError", "RunResult", "RunSpec", "RunTable",
    "ScalingError", "expect", "fit_chinchilla", "fit_power_law", "fit_saturating", "frontier", "get_budget",
]
_HOME = {"Budget": "budgets", "get_budget": "budgets", "ClaimRecord": "claims", "Estimate": "claims",
         "expect": "claims", "FitError": "errors", "ScalingError": "errors", "fit_chinchilla": "fits",
         "fit_power_law": "fits", "fit_saturating": "fits", "frontier": "fits", "Checkpoint": "runs",
         "RunResult": "runs", "RunSpec": "runs", "RunTable": "runs"}


def __getattr__(name: str):
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Not cached here: read through sys.modules, so a name follows its module when an in-process
    # pytester run forgets and re-imports it (a cached ``expect`` would record into the forgotten one).
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
