"""Installed but unused, the plugin costs nothing: no numpy, torch or scipy, no dataset, no header, no
summary, no report, until a claim is collected or a --scaling-* option is given."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_scaling

REPO = Path(pytest_scaling.__file__).resolve().parents[1]
HEAVY = ("torch", "scipy", "statsmodels", "matplotlib", "numpy")

#: In a fresh interpreter: import the plugin, then run pytest in-process on a project without claims
#: (only this plugin loaded, so another plugin's imports cannot mask or fake ours).
IMPORT_CHECK = '''
import json, sys
import pytest_scaling.plugin
after_import = [m for m in {heavy!r} if m in sys.modules]

class Probe:
    def pytest_configure(self, config):
        self.loaded = config.pluginmanager.has_plugin("pytest_scaling.plugin")

import pytest
probe = Probe()
code = pytest.main([{project!r}, "-q", "-p", "no:cacheprovider", "-p", "pytest_scaling.plugin"], plugins=[probe])
print(json.dumps({{"after_import": after_import, "code": int(code), "loaded": probe.loaded,
                   "after_session": [m for m in {heavy!r} if m in sys.modules]}}))
'''


def _plain(pytester, report_dir=None):
    """One trivial test, and an ini that sets scaling keys (they must not warn, nor wake the plugin)."""
    pytester.makeini(f"""
        [pytest]
        scaling_budget = tiny
        scaling_report = {report_dir or ''}
    """)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")


def test_a_project_without_claims_gets_no_scaling_line_and_no_report(pytester, tmp_path):
    report_dir = tmp_path / "report"
    _plain(pytester, report_dir)
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1)
    output = result.stdout.lines + result.stderr.lines
    # The plugins line names every installed plugin (and rootdir this test); nothing else may say "scaling".
    mentions = [line for line in output if "scaling" in line.lower() and not line.startswith(("plugins:", "rootdir:"))]
    assert not mentions, output
    assert "PytestConfigWarning" not in result.stdout.str()  # the ini keys are registered
    assert not report_dir.exists()


def test_help_still_lists_the_options_of_an_unused_plugin(pytester):
    _plain(pytester)
    result = pytester.runpytest("--help")
    assert "--scaling-budget" in result.stdout.str() and "scaling_budgets" in result.stdout.str()


def test_a_bad_scaling_option_is_a_usage_error_without_claims(pytester):
    _plain(pytester)
    result = pytester.runpytest("--scaling-budget=huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown budget 'huge'" in result.stderr.str() and "Traceback" not in result.stderr.str()


def test_neither_import_nor_an_unrelated_session_loads_torch_or_scipy(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    script = IMPORT_CHECK.format(heavy=HEAVY, project=str(project))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["loaded"] and outcome["code"] == 0
    assert outcome["after_import"] == [] and outcome["after_session"] == [], outcome


def test_a_collected_claim_gets_the_header_after_collection(project):
    """No --scaling-* option: the claims are what put the plugin to use, so the header follows
    pytest's 'collected' line (a header before collection would cost every other project)."""
    result = project.runpytest("--co")
    result.stdout.fnmatch_lines(["collected 3 items", "pytest-scaling · budget micro · MNIST · 0 of 3? runs cached*",
                                 "pytest-scaling · cpu, * · cache *"])
    assert result.stdout.str().count("runs cached") == 1


def test_a_scaling_option_puts_the_header_first(project):
    result = project.runpytest("--co", "--scaling-no-train")
    header = next(i for i, line in enumerate(result.stdout.lines) if line.startswith("pytest-scaling · budget"))
    collected = next(i for i, line in enumerate(result.stdout.lines) if line.startswith("collected"))
    assert header < collected and result.stdout.str().count("runs cached") == 1


def test_a_bad_ini_value_is_a_usage_error_once_a_claim_is_collected(project):
    ini = project.path / "tox.ini"
    ini.write_text(ini.read_text() + "\nscaling_confidence = 2\n")
    result = project.runpytest("--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--scaling-confidence must be a number in [0.5, 1)" in result.stderr.str()


def test_xdist_without_options_still_summarises_the_claims(project):
    """The controller collects nothing: it learns the plugin is used from the workers' claim records."""
    pytest.importorskip("xdist")
    result = project.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*= pytest-scaling =*", "*CONFIRMED*claim*",
                                 "*1 confirmed, 0 refuted, 1 inconclusive*"])
