"""pytest-scaling's hook specifications, registered in ``pytest_addhooks``: implement them in a
conftest.py or a plugin, as pytest-xdist's ``newhooks`` are."""

import pytest


@pytest.hookspec
def pytest_scaling_update_report_json(config: pytest.Config, report: dict) -> None:
    """Add to (or change) the session's report dict before it is written as report.json, saved as a
    baseline or compared with one: e.g. the commit of the training code under test, or the tracker
    run a sweep came from. Called once, on the controller (never on an xdist worker)."""
