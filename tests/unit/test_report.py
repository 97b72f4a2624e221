"""Report layer on synthetic runs and records: table layout, strict JSON, plots, HTML."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from pytest_scaling import report
from pytest_scaling.runs import RunTable

from tests.unit._report_data import synthetic_meta, synthetic_records, synthetic_runs

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def runs() -> RunTable:
    return synthetic_runs()


@pytest.fixture(scope="module")
def written(tmp_path_factory, runs):
    out = tmp_path_factory.mktemp("report")
    return out, report.write_report(out, synthetic_records(), synthetic_meta(), runs)


# --------------------------------------------------------------------------- formatting

@pytest.mark.parametrize("value, text", [
    (-0.17123, "-0.171"), (0.36, "0.36"), (3.2e14, "3.2e14"), (1.234e-5, "1.23e-5"), (12345.0, "1.23e4"),
    (0, "0"), (None, "-"), (float("nan"), "nan"),
])
def test_fmt_num_three_significant_digits(value, text):
    assert report.fmt_num(value) == text


def test_fmt_ci_and_duration():
    assert report.fmt_ci(-0.19, -0.15) == "[-0.19, -0.15]"
    assert report.fmt_ci(None, None) == "-"
    assert report.fmt_duration(101) == "1m41s"
    assert report.fmt_duration(3 * 3600 + 125) == "3h02m"


# --------------------------------------------------------------------------- terminal

@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", [30, 50, 64, 80, 100, 160])
def test_summary_fits_width_and_shows_every_verdict(width, color):
    records = synthetic_records()
    text = report.render_summary(records, synthetic_meta(), width=width, color=color)
    plain = ANSI.sub("", text)
    lines = plain.splitlines()
    assert max(len(line) for line in lines) <= width
    # A verdict may never be folded across lines: each appears whole, once per claim, plus
    # once in the closing counts line ("3 confirmed, 1 refuted, 1 inconclusive").
    for verdict in ("confirmed", "refuted", "inconclusive"):
        whole = sum(line.count(verdict) for line in lines)
        assert whole == sum(r["verdict"] == verdict for r in records) + 1, (verdict, plain)
    assert ("\x1b[" in text) is color


def test_summary_colours_verdicts_when_asked():
    text = report.render_summary(synthetic_records(), synthetic_meta(), width=160, color=True)
    green, red, yellow = "\x1b[32m", "\x1b[31m", "\x1b[33m"
    assert f"{green}confirmed" in text and f"{red}refuted" in text and f"{yellow}inconclusive" in text


def test_summary_does_not_interpret_markup_and_has_totals():
    text = report.render_summary(synthetic_records(), synthetic_meta(), width=400, color=False)
    assert "a <b>made-up</b> [bold]claim[/bold]" in text
    totals = text.strip().splitlines()[-1]
    assert "378 runs" in totals and "66 trained" in totals and "312 cached" in totals and "3.2e14" in totals
    assert "[-0.19, -0.15]" in text  # CI format


def test_summary_table_column_holds_numbers_on_one_line():
    text = report.render_summary(synthetic_records()[:4], synthetic_meta(), width=100, color=False)
    row = next(line for line in text.splitlines() if "-0.171" in line)
    assert "[-0.19, -0.15]" in row and "confirmed" in row and "252" in row


def test_summary_holm_column_and_empty_session():
    records = synthetic_records()
    for r in records:
        r["holm_verdict"] = "inconclusive"
    text = report.render_summary(records, synthetic_meta(), width=200, color=False)
    # one per Holm cell, plus the one raw "inconclusive" verdict and the counts line
    assert "Holm" in text and text.count("inconclusive") == len(records) + 2
    for r in records:  # claims.ClaimRecord spells it adjusted_verdict (None when Holm is off)
        r["adjusted_verdict"] = r.pop("holm_verdict")
    assert report.render_summary(records, synthetic_meta(), width=200, color=False) == text
    for r in records:
        r["adjusted_verdict"] = None
    assert "Holm" not in report.render_summary(records, synthetic_meta(), width=200, color=False)
    empty = report.render_summary([], {"budget": "tiny"}, width=80, color=False)
    assert "no scaling claims ran" in empty and "tiny" in empty


def test_summary_accepts_objects_with_to_dict():
    class Rec:
        def __init__(self, d):
            self.d = d

        def to_dict(self):
            return self.d

    text = report.render_summary([Rec(r) for r in synthetic_records()], {}, width=200, color=False)
    assert "compute-optimal size" in text


# --------------------------------------------------------------------------- JSON

def test_report_json_is_strict_and_complete(runs):
    rep = report.build_report_json(synthetic_records(), synthetic_meta(), runs)
    text = json.dumps(rep, allow_nan=False)  # raises on NaN/inf
    back = json.loads(text)
    for key in ("schema_version", "generated_at", "budget", "dataset", "device", "machine", "packages",
                "git_commit", "totals", "claims"):
        assert key in back
    assert isinstance(back["schema_version"], int) and back["schema_version"] >= 1
    assert {"platform", "python", "cpu_count"} <= set(back["machine"])
    assert {"pytest_scaling", "torch", "numpy", "scipy", "statsmodels", "pytest"} <= set(back["packages"])
    assert back["packages"]["numpy"] == np.__version__
    assert len(back["claims"]) == len(synthetic_records())
    for claim, rec in zip(back["claims"], synthetic_records()):
        assert set(report.CLAIM_KEYS) <= set(claim)
        assert claim["nodeid"] == rec["nodeid"] and claim["verdict"] == rec["verdict"]
    bad = back["claims"][-1]
    assert bad["estimate"] is None  # NaN is not JSON
    assert bad["details"]["arr"] == [0, 1, 2]
    assert back["claims"][3]["details"]["lr_optima"] == {"4": 2.0, "8": [1.0, 0.8, 1.3], "16": 0.5}
    assert back["totals"]["runs_trained"] == 66 and back["totals"]["refuted"] == 1
    assert back["runs"]["count"] == len(runs)
    assert back["runs"]["diverged"] == sum(r.diverged for r in runs) > 0


def test_git_commit_inside_and_outside_a_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert report.build_report_json([], {}, None)["git_commit"] is None
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path), "PATH": __import__("os").environ["PATH"]}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=tmp_path, check=True, env=env)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True,
                          env=env).stdout.strip()
    assert report.build_report_json([], {}, None)["git_commit"] == head


def test_git_missing_does_not_crash(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on PATH
    assert report.git_commit() is None


# --------------------------------------------------------------------------- files

def test_write_report_files(written):
    out, paths = written
    names = {p.name for p in paths}
    assert {"report.json", "runs.csv", "index.html", "compute_loss.png", "compute_error.png", "nopt.png",
            "dropout.png", "lr_sweep.png"} == names
    assert paths[-1].name == "index.html"
    for p in paths:
        assert p.is_file() and p.stat().st_size > 0
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp"))  # atomic writes leave no temp files
    rep = json.loads((out / "report.json").read_text())
    assert [c["name"] for c in rep["claims"]] == [r["name"] for r in synthetic_records()]
    assert len(RunTable.from_csv((out / "runs.csv").read_text())) == rep["runs"]["count"]


def test_index_html_escapes_and_links_existing_images(written, runs):
    out, _ = written
    page = (out / "index.html").read_text()
    assert f"{sum(r.ok for r in runs)} of {len(runs)} runs usable" in page
    assert "<b>made-up" not in page and "&lt;b&gt;made-up&lt;/b&gt;" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    for verdict in ("confirmed", "refuted", "inconclusive"):
        assert f'class="verdict {verdict}"' in page
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert len(srcs) == 5
    for src in srcs:
        assert "/" not in src and (out / src).is_file()  # relative, next to index.html
    assert "<style>" in page and "<link" not in page  # self-contained


def test_write_report_without_runs_still_writes_json_and_html(tmp_path):
    paths = report.write_report(tmp_path, synthetic_records(), synthetic_meta(), None)
    assert {p.name for p in paths} == {"report.json", "index.html", "nopt.png"}


def test_a_failing_plot_does_not_lose_the_report(tmp_path, monkeypatch, runs):
    def boom(*a, **k):
        raise RuntimeError("kaputt")

    plots = tuple((stem, cap, boom if stem == "dropout" else fn) for stem, cap, fn in report.PLOTS)
    monkeypatch.setattr(report, "PLOTS", plots)
    with pytest.warns(UserWarning, match="dropout.*kaputt"):
        paths = report.write_report(tmp_path, synthetic_records(), synthetic_meta(), runs)
    names = {p.name for p in paths}
    assert "dropout.png" not in names and "compute_loss.png" in names and "report.json" in names


# --------------------------------------------------------------------------- plots

def _line(fig, gid):
    lines = [l for ax in fig.axes for l in ax.get_lines() if l.get_gid() == gid]
    assert len(lines) == 1, [l.get_gid() for ax in fig.axes for l in ax.get_lines()]
    return lines[0]


def test_frontier_is_the_lower_envelope_of_seed_means_and_the_fit_is_its_power_law(runs):
    fig = report.plot_compute_loss(runs)
    fx, fy = (np.asarray(a, float) for a in _line(fig, "frontier").get_data())
    # Independent: seed-average the dropout-0, lr 1, usable runs by config, brute-force the envelope.
    grid = [r for r in runs if r.ok and r.spec.dropout == 0 and r.spec.lr_mult == 1]
    configs = {}
    for r in grid:
        configs.setdefault((r.spec.width, r.spec.fraction), []).append(r)
    cx = np.array([np.mean([r.flops for r in v]) for v in configs.values()])
    cy = np.array([np.mean([r.val_loss for r in v]) for v in configs.values()])
    on = [i for i in range(len(cx)) if not np.any((cx <= cx[i]) & (cy < cy[i]) & (np.arange(len(cx)) != i))]
    order = np.argsort(cx[on])
    np.testing.assert_allclose(fx, cx[on][order])
    np.testing.assert_allclose(fy, cy[on][order])
    assert 3 <= len(fx) < len(cx)
    # The dashed line is y = k·x^slope from an OLS of ln y on ln x over exactly those points.
    slope, icept = np.polyfit(np.log(fx), np.log(fy), 1)
    gx, gy = (np.asarray(a, float) for a in _line(fig, "frontier-fit").get_data())
    np.testing.assert_allclose(gy, np.exp(icept) * gx ** slope, rtol=1e-8)
    assert gx.min() == pytest.approx(fx.min()) and gx.max() == pytest.approx(fx.max())
    assert slope < 0


def test_error_plot_uses_error_rate(runs):
    fig = report.plot_compute_error(runs)
    _, fy = _line(fig, "frontier").get_data()
    assert np.all((np.asarray(fy) > 0) & (np.asarray(fy) < 1))


def test_nopt_plot_needs_points_and_uses_given_or_fitted_lines(runs):
    assert report.plot_nopt(runs, []) is None
    records = synthetic_records()
    fig = report.plot_nopt(runs, records)
    gx, gy = (np.asarray(a, float) for a in _line(fig, "nopt-isoflop-fit").get_data())
    np.testing.assert_allclose(gy, 0.024 * gx ** 0.4)  # the record's own fit, not a refit
    pts = np.asarray(records[1]["details"]["nopt_points"]["envelope"])
    ex, ey = (np.asarray(a, float) for a in _line(fig, "nopt-envelope-fit").get_data())
    slope, icept = np.polyfit(np.log(pts[:, 0]), np.log(pts[:, 1]), 1)
    np.testing.assert_allclose(ey, np.exp(icept) * ex ** slope, rtol=1e-8)


def test_dropout_plot_draws_one_frontier_per_condition(runs):
    fig = report.plot_dropout(runs)
    assert _line(fig, "frontier-p0") and _line(fig, "frontier-p0.2")
    assert report.plot_dropout(synthetic_runs(dropouts=(0.0,), lr_sweep=False)) is None


def test_lr_sweep_plot_marks_optima_and_failed_runs(runs):
    records = json.loads(json.dumps(report.build_report_json(synthetic_records(), {}, None)))["claims"]
    fig = report.plot_lr_sweep(runs, records)  # keys are strings after the JSON round trip
    for width, star in ((4, 2.0), (8, 1.0), (16, 0.5)):
        x, _ = _line(fig, f"lr-opt-w{width}").get_data()
        assert np.allclose(x, star)
        mx, _ = _line(fig, f"lr-w{width}").get_data()
        assert len(mx) >= 5
    failed = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "lr-failed"]
    assert sum(len(c.get_offsets()) for c in failed) == sum(not r.ok for r in runs)
    assert report.plot_lr_sweep(synthetic_runs(lr_sweep=False), records) is None


def test_sweep_only_widths_stay_out_of_the_main_figure(runs):
    from pytest_scaling.runs import RunResult, RunSpec

    extra = RunResult(spec=RunSpec(width=91, fraction=0.25, seed=0), params=10**6, flops_per_example=4 * 10**7,
                      examples=15000, val_loss=0.05, val_acc=0.99)  # would dominate the frontier
    fig = report.plot_compute_loss(RunTable(list(runs) + [extra]))
    fx, fy = _line(fig, "frontier").get_data()
    assert 0.05 not in list(fy)
    assert 91 not in report.main_grid(RunTable(list(runs) + [extra])).column("width")
