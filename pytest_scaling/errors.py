"""Exceptions with messages that tell the user what to do."""


class ScalingError(Exception):
    """Base class: a problem the user can fix (bad option, missing data, bad cache dir)."""


class DatasetNotFound(ScalingError):
    pass


class DeviceUnavailable(ScalingError):
    pass


class UnknownBudget(ScalingError):
    pass


class CacheError(ScalingError):
    pass


class FitError(ScalingError, ValueError):
    """Degenerate input for a fit or a bootstrap. ``to_decide``: the design change that would give
    the fit what it lacks (shown with the inconclusive verdict)."""

    def __init__(self, message: str = "", to_decide: str = ""):
        super().__init__(message)
        self.to_decide = to_decide
