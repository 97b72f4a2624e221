"""The plugin as a user meets it, through pytester (fake IDX data, a micro budget)."""

import json
import xml.etree.ElementTree as ET

import pytest


def test_claims_pass_skip_and_are_summarised(project):
    result = project.runpytest("-rs", "--scaling-executor=auto")  # the default: worker processes on this CPU
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["pytest-scaling · budget micro · MNIST*", "*inconclusive*"])
    assert "Traceback" not in result.stdout.str()


def test_strict_turns_inconclusive_into_failure(project):
    project.runpytest("--scaling-strict").assert_outcomes(passed=2, failed=1)


def test_second_session_uses_the_cache(project, tmp_path):
    project.runpytest()
    report_dir = tmp_path / "report"
    project.runpytest(f"--scaling-report={report_dir}").assert_outcomes(passed=2, skipped=1)
    totals = json.loads((report_dir / "report.json").read_text())["totals"]
    assert totals["runs_trained"] == 0 and totals["runs_cached"] > 0


def test_no_train_with_empty_cache_skips_with_advice(project):
    result = project.runpytest("--scaling-no-train", "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*pytest-scaling train --budget micro*"])


def test_claims_reach_junit_xml(project, tmp_path):
    xml = tmp_path / "junit.xml"
    project.runpytest(f"--junitxml={xml}")
    properties = {p.get("name"): p.get("value") for p in ET.parse(xml).iter("property")}
    assert properties["scaling.slope.verdict"] == "confirmed"
    assert float(properties["scaling.slope.estimate"]) == -0.3


@pytest.mark.parametrize("args, fragment", [
    (["--scaling-budget=huge"], "unknown budget 'huge'; valid budgets: tiny, small, decide, decide4, medium, full"),
    (["--scaling-dataset=cifar"], "choose one of: auto, mnist, fashion-mnist"),
    (["--scaling-confidence=2"], "--scaling-confidence must be a number in [0.5, 1)"),
    (["--scaling-device=tpu"], "unknown device 'tpu'"),
    (["--scaling-group-size=0"], "--scaling-group-size must be a positive integer"),
    (["--scaling-precision=fp16"], "--scaling-precision: unknown precision 'fp16'; choose one of: fp32, bf16, auto"),
    (["--scaling-executor=slurm"], "--scaling-executor: unknown executor 'slurm'; choose one of: auto, local"),
    (["--scaling-workers=x"], "--scaling-workers must be a positive integer, got 'x'"),
    (["--scaling-compare-fail=gamma:0.05"], "needs --scaling-compare"),
])
def test_bad_options_are_usage_errors(project, args, fragment):
    result = project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fragment in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_missing_dataset_is_a_usage_error_with_advice(project, tmp_path):
    result = project.runpytest(f"--scaling-data-dir={tmp_path / 'nowhere'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "apt-get install dataset-fashion-mnist" in result.stderr.str()


def test_unwritable_cache_dir_is_a_usage_error(project, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = project.runpytest(f"--scaling-cache-dir={blocker / 'cache'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot write the run cache" in result.stderr.str()


def test_unrelated_projects_are_untouched(pytester):
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest("--scaling-data-dir=/nowhere")
    result.assert_outcomes(passed=1)


def test_xdist_workers_share_the_grid(project, tmp_path):
    pytest.importorskip("xdist")
    report_dir = tmp_path / "report"
    result = project.runpytest_subprocess("-n", "2", f"--scaling-report={report_dir}")
    result.assert_outcomes(passed=2, skipped=1)
    report = json.loads((report_dir / "report.json").read_text())
    cached_records = list((tmp_path / "cache" / "runs").glob("*/*.json"))
    # Every run trained exactly once between the two workers (a run trained twice would count twice),
    # and counted once: each worker also saw the runs the other trained.
    assert report["totals"]["runs_trained"] == len(cached_records) == report["totals"]["runs_total"]
    assert report["totals"]["runs_cached"] == 0
    result.stdout.fnmatch_lines([f"{len(cached_records)} runs ({len(cached_records)} trained, 0 cached)*"])
    import torch

    from pytest_scaling.auto_precision import resolve_precision

    precision = resolve_precision("auto", torch.device("cpu"))
    result.stdout.fnmatch_lines([f"pytest-scaling · cpu, 2 xdist workers × * · {precision}* · torch *"])
    assert {c["verdict"] for c in report["claims"]} == {"confirmed", "inconclusive"}


UNDECIDABLE = '''
from pytest_scaling.errors import FitError

def test_needs_more_seeds(scaling_grid):
    scaling_grid(dropout=0.0)
    raise FitError("a seed bootstrap needs ≥2 seeds", to_decide="train ≥2 seeds")

def test_not_a_claim():
    raise FitError("plain tests keep their errors")
'''


def test_a_budget_that_cannot_decide_is_inconclusive_and_recorded(project, tmp_path):
    """A claim whose fit cannot run is still a claim: it is in report.json (so a baseline sees it),
    with its cause and what would decide it."""
    project.makepyfile(test_claims=UNDECIDABLE)
    result = project.runpytest("-rs", f"--scaling-report={tmp_path / 'r'}")
    result.assert_outcomes(skipped=1, failed=1)
    result.stdout.fnmatch_lines(["*this budget cannot decide: a seed bootstrap needs*to decide: train ≥2 seeds*"])
    (claim,) = json.loads((tmp_path / "r" / "report.json").read_text())["claims"]
    assert claim["verdict"] == "inconclusive" and claim["estimate"] is None
    assert "a seed bootstrap needs" in claim["reason"] and claim["to_decide"] == "train ≥2 seeds"
    project.runpytest("--scaling-strict").assert_outcomes(failed=2)


def test_an_inconclusive_claim_prescribes_seeds_as_a_budget_line(project, tmp_path):
    """'Shift > 0' at 0.05 ± 0.1: the seeds that would decide it, as a line for scaling_budgets (each
    claim at 95%: no family-wise correction, so the factor is the formula's at z_0.975)."""
    project.runpytest(f"--scaling-report={tmp_path / 'r'}", "--scaling-family=none").assert_outcomes(
        passed=2, skipped=1)
    claims = {c["name"]: c for c in json.loads((tmp_path / "r" / "report.json").read_text())["claims"]}
    undecided = claims["test_undecided"]
    assert undecided["verdict"] == "inconclusive" and claims["test_claim"]["to_decide"] == ""
    factor = undecided["details"]["seeds_factor"]  # ((1.96 + 0.84)/1.96 · 1.96·0.1 / 0.05)² ≈ 31
    assert factor == pytest.approx(((1.959964 + 0.841621) * 0.1 / 0.05) ** 2, rel=1e-3)
    assert "seeds alone will not decide" in undecided["to_decide"]  # 2 seeds × 31 is past the practical 20


SHIFTING = '''
import os
from pytest_scaling import Estimate, expect

def test_claim(scaling_grid):
    runs = scaling_grid(dropout=0.0)
    expect(Estimate(float(os.environ["SLOPE"]), "normal", runs=len(runs), se=0.01), "slope").below(0)
'''


def test_baseline_save_compare_and_fail_on_regression(project, tmp_path, monkeypatch):
    project.makepyfile(test_claims=SHIFTING)
    baselines = tmp_path / "baselines"
    monkeypatch.setenv("SLOPE", "-0.30")
    project.runpytest("--scaling-save=main", f"--scaling-baseline-dir={baselines}").assert_outcomes(passed=1)
    assert (baselines / "main.json").is_file()
    compare = ["--scaling-compare=main", f"--scaling-baseline-dir={baselines}", "--scaling-compare-fail=slope:0.05"]
    monkeypatch.setenv("SLOPE", "-0.32")  # moved by 0.02: within tolerance
    assert project.runpytest(*compare).ret == pytest.ExitCode.OK
    monkeypatch.setenv("SLOPE", "-0.40")  # moved by 0.10: a regression, although the claim still passes
    result = project.runpytest(*compare)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*REGRESSION*slope*"])


def test_header_counts_cached_runs(project):
    first = project.runpytest()
    first.stdout.fnmatch_lines(["pytest-scaling · budget micro · MNIST*0 of 3? runs cached, 3? to train"])
    project.runpytest().stdout.fnmatch_lines(["pytest-scaling · budget micro · MNIST*3? of 3? runs cached, 0 to train"])
