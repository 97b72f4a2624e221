"""pytest-scaling: scaling-law findings as statistical pytest tests."""

from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

__all__ = ["Checkpoint", "RunResult", "RunSpec", "RunTable"]
