"""What a session prints in a CI log, and the mistakes it reports before training instead of after."""

import pytest

from pytest_scaling import baseline


def _summary(stdout: str) -> list[str]:
    """The lines of the pytest-scaling section, up to pytest's closing line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if " pytest-scaling " in line and line.startswith("="))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    return lines[start + 1:end]


def test_a_log_gets_progress_lines_and_one_line_per_claim(project, monkeypatch):
    """Piped (as in CI), training reports every tenth of its runs, and the summary holds at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--scaling-family=none")  # each claim at 95%
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines([
        "pytest-scaling: training 24 runs",  # the main grid (12 runs a dropout)
        "pytest-scaling: 3/24 runs (12%) · * elapsed · ~* left",
        "pytest-scaling: 24/24 runs (100%) · * elapsed",
        "pytest-scaling: training 13 runs",  # then the LR sweep, when a claim first asks for it
    ])
    progress = [line for line in result.stdout.lines if line.startswith("pytest-scaling: ") and "/" in line]
    assert len(progress) == 10 + 10  # one per tenth: 24 and 13 runs cross every tenth once
    summary = _summary(result.stdout.str())
    assert max(map(len, summary)) <= 80, "\n".join(summary)
    assert "CONFIRMED     claim      -0.3 [-0.398, -0.202]  expected < 0" in summary
    assert "INCONCLUSIVE  undecided  0.05 [-0.146, 0.246]   expected > 0" in summary
    causes = [line.strip() for line in summary if line.startswith(" " * 14)]
    assert causes[0] == "cause: the 0.95 CI [-0.146, 0.246] straddles > 0"
    assert causes[1].startswith("to decide: ≈31.4× today's seeds")
    assert not any("test_" in line for line in summary)
    totals = " ".join(summary[summary.index(next(x for x in summary if x.startswith("37 runs"))):])
    assert totals.startswith("37 runs (37 trained, 0 cached) · training compute ")
    assert "of worker time · wall" in totals


def test_header_names_the_resolved_device_precision_and_torch(project):
    import torch

    from pytest_scaling.auto_precision import resolve_precision
    from pytest_scaling.precision import native_bf16

    precision = resolve_precision("auto", torch.device("cpu"))  # the default: fp32 here, bf16 on bf16 CPUs
    result = project.runpytest()
    result.stdout.fnmatch_lines([f"pytest-scaling · cpu, 1 process × * · {precision}* · torch {torch.__version__} "
                                 "· cache *"])
    assert "device auto" not in result.stdout.str() and "· auto ·" not in result.stdout.str()
    arithmetic = "native" if native_bf16(torch.device("cpu")) else "rounded"  # bf16 hardware, or fp32 kernels
    project.runpytest("--co", "--scaling-precision=bf16").stdout.fnmatch_lines(
        [f"pytest-scaling · cpu, * · bf16 ({arithmetic}) · *"])


def _trained_nothing(project, tmp_path):
    return not list((tmp_path / "cache").glob("runs/*/*.json"))


@pytest.mark.parametrize("args, message", [
    (["--scaling-report={blocker}/report"], "--scaling-report: cannot write into '{blocker}/report' (*); "
                                            "give a directory you can write, e.g. --scaling-report=*"),
    (["--scaling-compare=nosuchbaseline", "--scaling-baseline-dir={baselines}"],
     "--scaling-compare: baseline 'nosuchbaseline' not found (*); available baselines in {baselines}: main. "
     "Save one with --scaling-save=NAME."),
    (["--scaling-save=.hidden"], "--scaling-save: invalid baseline name '.hidden': *"),
    (["--scaling-save=main", "--scaling-baseline-dir={blocker}/b"], "--scaling-baseline-dir: cannot write into *"),
])
def test_what_is_used_after_training_is_checked_before_it(project, tmp_path, args, message):
    blocker, baselines = tmp_path / "blocker", tmp_path / "baselines"
    blocker.write_text("a file, so no directory can be made under it")
    baseline.save({"schema_version": 2, "claims": []}, "main", baselines)
    names = {"blocker": blocker, "baselines": baselines}
    result = project.runpytest(*(arg.format(**names) for arg in args))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message.format(**names)}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert _trained_nothing(project, tmp_path)


def test_a_missing_report_directory_is_created_at_the_start(project, tmp_path):
    report_dir = tmp_path / "new" / "report"
    project.runpytest("--collect-only", f"--scaling-report={report_dir}").assert_outcomes()
    assert report_dir.is_dir() and _trained_nothing(project, tmp_path)
