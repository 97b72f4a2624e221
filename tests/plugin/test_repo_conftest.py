"""The repository's conftest.py: markers are enforced, slow is derived, cuda/browser skip with a reason."""

from __future__ import annotations

from pathlib import Path

import conftest as repo_conftest

ROOT = Path(__file__).resolve().parents[2]

TESTS = '''
import pytest

@pytest.fixture
def fake_data_dir():
    return "data"

def test_trains(fake_data_dir):
    pass

def test_fast():
    pass

@pytest.mark.cuda
def test_on_gpu():
    pass
'''


def _setup(pytester):
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    # the conftest finds Chromium through the report-render benchmark, beside it as in the repository
    pytester.mkdir("benchmarks").joinpath("render_report.py").write_text(
        (ROOT / "benchmarks" / "render_report.py").read_text(encoding="utf-8"), encoding="utf-8")
    pytester.makefile(".toml", pyproject=(ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pytester.makepyfile(test_repo=TESTS)


def test_not_slow_deselects_tests_that_use_training_fixtures(pytester):
    _setup(pytester)
    result = pytester.runpytest("-m", "not slow", "-p", "no:scaling", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("deselected") == 1
    assert outcomes.get("passed") == (2 if repo_conftest.cuda_device_name() else 1)


def test_cuda_tests_skip_with_the_reason_without_a_device(pytester):
    _setup(pytester)
    result = pytester.runpytest("-k", "on_gpu", "-p", "no:scaling", "-rs")
    if repo_conftest.cuda_device_name() is None:
        result.assert_outcomes(skipped=1, deselected=2)
        result.stdout.fnmatch_lines(["*needs a CUDA device*"])
    else:
        result.assert_outcomes(passed=1, deselected=2)


def test_an_unknown_marker_is_an_error(pytester):
    _setup(pytester)
    pytester.makepyfile(test_typo="import pytest\n\n@pytest.mark.slwo\ndef test_x():\n    pass\n")
    result = pytester.runpytest("test_typo.py", "-p", "no:scaling")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'slwo' not found in `markers` configuration option*"])
