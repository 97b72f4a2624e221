"""``@pytest.mark.scaling_needs(protocol)``: a claim a budget cannot run is skipped at collection,
names the budget that has the runs, and stays out of the family-wise correction's family."""

from __future__ import annotations

import json

NEEDS = '''
import pytest
from pytest_scaling import Estimate, expect

@pytest.mark.scaling_needs("cooldown")
def test_needs_cooldown(scaling_grid):
    raise AssertionError("must not run on a budget without cooldown runs")

def test_plain(scaling_grid):
    expect(Estimate(-0.3, "normal", runs=1, se=0.05), "slope").below(0)
'''


def test_a_claim_needing_cooldown_runs_skips_on_a_budget_without_them(project, tmp_path):
    project.makepyfile(test_claims=NEEDS)
    report = tmp_path / "report"
    result = project.runpytest("-rs", "--scaling-family-wise", f"--scaling-report={report}")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*budget 'micro' trains no cooldown runs*--scaling-budget=protocols*"])
    (claim,) = json.loads((report / "report.json").read_text())["claims"]
    assert claim["details"]["family_size"] == 1  # the skipped claim is no member of the family


def test_an_unknown_protocol_is_a_usage_error(project):
    project.makepyfile(test_claims=NEEDS.replace('scaling_needs("cooldown")', 'scaling_needs("cosine")'))
    result = project.runpytest()
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*scaling_needs: unknown protocol 'cosine'*"])


def test_a_precision_claim_names_the_budget_that_trains_both_precisions(project):
    project.makepyfile(test_claims=NEEDS.replace('scaling_needs("cooldown")', 'scaling_needs("precision")'))
    result = project.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*trains no precision runs*--scaling-budget=precision*compare_precisions=fp32,bf16*"])
