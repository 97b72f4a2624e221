"""Family-wise error control holds by default: Holm within each finding (claim module), Bonferroni at
test time, the policy stated in the report; ``--scaling-family`` picks another."""

from __future__ import annotations

import json

import pytest

#: Two findings: one of three claims, one of one. Each estimate is normal (se 0.05).
FIRST = '''
from pytest_scaling import Estimate, expect

def test_a(scaling_grid):
    expect(Estimate(-0.30, "normal", runs=1, se=0.05), "a").below(0)

def test_b(scaling_grid):
    expect(Estimate(-0.11, "normal", runs=1, se=0.05), "b").below(0)

def test_c(scaling_grid):
    expect(Estimate(-0.30, "normal", runs=1, se=0.05), "c").below(0)
'''
SECOND = '''
from pytest_scaling import Estimate, expect

def test_d(scaling_grid):
    expect(Estimate(-0.11, "normal", runs=1, se=0.05), "d").below(0)
'''


def _claims(project, tmp_path, *args):
    project.makepyfile(test_claims=FIRST, test_other=SECOND)
    report = tmp_path / "r"
    result = project.runpytest(f"--scaling-report={report}", *args)
    data = json.loads((report / "report.json").read_text())
    return result, {c["name"]: c for c in data["claims"]}, data["family_wise"]


def test_by_default_each_finding_is_a_family(project, tmp_path):
    """b at −0.11 ± 0.05 clears 0 at 95% (z 2.2) but not at 1 − 0.05/3 (z 2.39): at test time, in a family
    of three, it is undecided; Holm's step-down at session end, the two others being decisive, tests it at
    α/1 and confirms it. d, alone in its finding, is confirmed at 95%."""
    result, claims, policy = _claims(project, tmp_path)
    result.assert_outcomes(passed=3, skipped=1)
    assert claims["test_b"]["confidence"] == pytest.approx(1 - 0.05 / 3)
    assert claims["test_b"]["verdict"] == "inconclusive" and claims["test_b"]["adjusted_verdict"] == "confirmed"
    assert claims["test_d"]["confidence"] == pytest.approx(0.95) and claims["test_d"]["verdict"] == "confirmed"
    assert policy["policy"] == "finding" and policy["family_sizes"]["test_claims.py"] == 3
    result.stdout.fnmatch_lines(["*family-wise: Holm within each finding*"])


def test_none_judges_each_claim_alone_and_session_pools_them(project, tmp_path):
    result, claims, _ = _claims(project, tmp_path, "--scaling-family=none")
    result.assert_outcomes(passed=4)
    assert claims["test_b"]["confidence"] == pytest.approx(0.95)
    result, claims, policy = _claims(project, tmp_path, "--scaling-family=session")
    assert claims["test_d"]["confidence"] == pytest.approx(1 - 0.05 / 4) and policy["policy"] == "session"


def test_an_unknown_policy_is_a_usage_error(project):
    result = project.runpytest("--scaling-family=everything")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--scaling-family: unknown policy 'everything'*"])
