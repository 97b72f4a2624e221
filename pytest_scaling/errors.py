"""Exceptions with messages that tell the user what to do."""

from __future__ import annotations


class ScalingError(Exception):
    """Base class: a problem the user can fix (bad option, missing data, bad cache dir)."""


class DatasetNotFound(ScalingError):
    pass


class DeviceUnavailable(ScalingError):
    pass


class UnknownBudget(ScalingError):
    pass


class ImportFailed(ScalingError):
    """A file of runs that cannot be read as runs (a missing column, a malformed row, a unit mix-up):
    the message names the row and the column."""


class CacheError(ScalingError):
    pass


class CacheFull(CacheError):
    """The run cache's filesystem is full (ENOSPC). Training stops at once: every run after this one
    would be trained only to be thrown away. Every run written before it stays in the cache."""

    def __init__(self, directory, free_bytes: int, record_bytes: int, runs_left: int = 0,
                 cached: int | None = None, trained: int = 0):
        self.directory, self.free_bytes, self.record_bytes = directory, free_bytes, record_bytes
        self.runs_left, self.cached, self.trained = runs_left, cached, trained
        needed = f"about {_size(max(1, runs_left) * record_bytes)} needed for " + (
            f"the {runs_left} runs left to train" if runs_left else "the next run")
        kept = "" if cached is None else (
            f"; it keeps its {cached} runs ({trained} trained this session), and training resumes from them")
        super().__init__(
            f"the run cache at {str(directory)!r} is full (no space left on device): {_size(free_bytes)} free "
            f"there, {needed} ({_size(record_bytes)} a run){kept}. Free some space there, or choose another "
            "place with --scaling-cache-dir=PATH or PYTEST_SCALING_CACHE=PATH.")

    def with_progress(self, runs_left: int, cached: int, trained: int) -> CacheFull:
        """The same error, told how many runs were left to train and how many the cache keeps."""
        return CacheFull(self.directory, self.free_bytes, self.record_bytes, runs_left, cached, trained)


def _size(n: float) -> str:
    units = ("bytes", "KiB", "MiB", "GiB")
    step = 0
    while n >= 1024 and step < len(units) - 1:
        n, step = n / 1024, step + 1
    return f"{n:.0f} bytes" if step == 0 else f"{n:.1f} {units[step]}"


class FitError(ScalingError, ValueError):
    """Degenerate input for a fit or a bootstrap. ``to_decide``: the design change that would give
    the fit what it lacks (shown with the inconclusive verdict)."""

    def __init__(self, message: str = "", to_decide: str = ""):
        super().__init__(message)
        self.to_decide = to_decide
