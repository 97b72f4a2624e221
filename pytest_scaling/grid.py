"""What the ``scaling_grid`` fixture gives a claim: slices of the session's grid, trained (or taken
from the cache) on first use, with a failed or empty slice turned into the test's failure or skip."""

from __future__ import annotations

import pytest

from pytest_scaling.errors import ScalingError


class ScalingGrid:
    """What ``scaling_grid`` gives a test: call it for a slice of the main grid; ``.lr_sweep()`` for the sweep."""

    def __init__(self, session):
        self._session = session
        self._memo: dict = {}

    @property
    def budget(self):
        return self._session.budget

    def __call__(self, dropout=None, widths=None, fractions=None, seeds=None, schedule="constant", epochs=1,
                 precision=None):
        """Runs of the main grid; by default constant LR, one epoch, the session's precision.
        ``schedule="cooldown"``, ``epochs=4`` or ``precision="bf16"`` select a protocol the budget trains;
        None keeps them all (for precision: the session's)."""
        return self._checked(lambda: self._session.main_grid(dropout, widths, fractions, seeds, schedule, epochs,
                                                             precision), self._session.missing_axis(dropout))

    def lr_sweep(self, widths=None):
        return self._checked(lambda: self._session.lr_sweep(widths), self._session.missing_axis(sweep=True))

    def worth_runs(self):
        """The budget's worth-of-a-copy runs (``Budget.worth_specs``): U base images, then deformed copies."""
        session = self._session
        return self._checked(lambda: session.runs(session.budget.worth_specs()))

    def memo(self, key, compute):
        """``compute()`` once per session and key: claims that share an estimate (a joint bootstrap,
        one LR sweep) ask for it by name. A FitError is kept and raised again for every claim."""
        from pytest_scaling.errors import FitError

        if key not in self._memo:
            try:
                self._memo[key] = compute()
            except FitError as error:
                self._memo[key] = error
        if isinstance(self._memo[key], FitError):
            raise self._memo[key]
        return self._memo[key]

    _full_reported = False  # the first claim a full cache stops fails with why; the rest skip with it

    def _checked(self, get, missing: str = ""):
        from pytest_scaling.errors import CacheFull

        try:
            table, problem = get(), None
        except ScalingError as error:
            table, problem = None, error
        # Outside the except block, so the report shows the message alone, not the exceptions chained to it.
        if isinstance(problem, CacheFull):
            if self._full_reported:
                pytest.skip(f"training stopped: {problem}")
            self._full_reported = True
        if problem is not None:
            pytest.fail(str(problem), pytrace=False)
        if len(table) == 0 and missing:
            pytest.skip(missing)
        if len(table) == 0:
            hint = (f"run `pytest-scaling train --budget {self.budget.name}` or drop --scaling-no-train"
                    if self._session.options.no_train else "check the slice's filters against the budget")
            pytest.skip(f"no runs for this slice of budget {self.budget.name!r}: {hint}")
        return table
