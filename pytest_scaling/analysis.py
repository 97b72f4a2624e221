"""The estimators' public names in one place (they live in :mod:`pytest_scaling.estimators`)."""

from pytest_scaling.estimators import *  # noqa: F403
from pytest_scaling.estimators import __all__
from pytest_scaling.estimators.compute_optimal import _optimum_stat  # noqa: F401  (tests)
from pytest_scaling.estimators.frontier import _frontier_level_stat  # noqa: F401  (tests)
from pytest_scaling.estimators.worth import copy_worth

__all__ = [*__all__, "copy_worth"]
