"""This repository's own pytest setup, shared by ``tests/`` and ``claims/``.

- ``pytester`` is enabled here: pytest only honours ``pytest_plugins`` in the top-level conftest.
- Markers (declared in pyproject.toml, enforced with ``--strict-markers``):
  ``slow`` is put on every test that trains or loads a dataset (it uses ``fake_data_dir``
  or runs a pytest session with ``pytester``), so ``pytest tests/ -m "not slow"`` is the
  fast loop while editing statistics or the report; ``cuda`` tests skip, with the reason,
  on a machine without a CUDA device; ``browser`` tests skip when no Chromium is on PATH.
- The report header says which of these optional parts this machine can run, so a CI log
  shows why a test skipped without reading every skip reason.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: Fixtures whose users train models or run a whole pytest session: the slow tests.
TRAINING_FIXTURES = frozenset({"fake_data_dir", "fake_dataset", "pytester"})
RENDER_REPORT = Path(__file__).resolve().parent / "benchmarks" / "render_report.py"


@cache
def cuda_device_name() -> str | None:
    """The first CUDA device's name, or None (no torch import until a test asks)."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


@cache
def render_report():
    """benchmarks/render_report.py as a module: the browser tests drive it, and it knows where Chromium is."""
    spec = importlib.util.spec_from_file_location("render_report", RENDER_REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def chromium_path() -> str | None:
    return render_report().find_chromium()


def pytest_report_header(config: pytest.Config) -> str:
    return (f"repo extras: chromium {chromium_path() or 'not found (browser tests skip)'} · "
            f"CUDA {cuda_device_name() or 'none (cuda tests skip)'}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if TRAINING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("cuda") and cuda_device_name() is None:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device; torch.cuda.is_available() is False"))
        if item.get_closest_marker("browser") and chromium_path() is None:
            item.add_marker(pytest.mark.skip(reason="needs Chromium on PATH (apt-get install chromium)"))
