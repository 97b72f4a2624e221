"""Report layer on synthetic runs and records: table layout, strict JSON, plots, HTML."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from pytest_scaling import report
from pytest_scaling.runs import RunTable

from tests.unit._report_data import (
    DROPOUT, FRONTIER, LR, NOPT, SATURATING, UNDECIDED, synthetic_design, synthetic_meta, synthetic_records,
    synthetic_runs,
)

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
    # one per Holm cell, plus each raw "inconclusive" verdict and the counts line
    raw = sum(r["verdict"] == "inconclusive" for r in records)
    assert "Holm" in text and text.count("inconclusive") == len(records) + raw + 1
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


# --------------------------------------------------------------------------- terminal: a log (CI)

def _pytest_named_records() -> list[dict]:
    """The synthetic records named as the plugin names them: pytest's test names, parameters kept."""
    records = synthetic_records()
    for r in records:
        r["name"] = r["nodeid"].split("::")[-1]
    return records


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", [80, 120, 200])
def test_log_layout_puts_verdict_and_short_name_on_one_line(width, color):
    records = _pytest_named_records()
    text = report.render_summary(records, synthetic_meta(), width=width, color=color, layout="lines")
    lines = ANSI.sub("", text).splitlines()
    assert max(map(len, lines)) <= width
    heads = [line for line in lines if line.split(" ", 1)[0] in ("CONFIRMED", "REFUTED", "INCONCLUSIVE")]
    assert len(heads) == len(records)
    for r, head in zip(records, heads):
        assert head.split()[:2] == [r["verdict"].upper(), r["name"].removeprefix("test_").split()[0]]
    assert "test_" not in text
    assert "made_up[<script>]" in text and "compute_optimal_size_grows_sublinearly[isoflop]" in text
    assert ("\x1b[33mINCONCLUSIVE\x1b[0m" in text) is color


def test_log_layout_says_why_each_claim_is_undecided_and_keeps_budget_lines_whole():
    text = report.render_summary(synthetic_records(), synthetic_meta(), width=80, color=False, layout="lines")
    lines = text.splitlines()
    row = lines.index("INCONCLUSIVE  dropout shifts γ")
    assert lines[row + 1].split() == ["0.02", "[-0.06,", "0.09]", "expected", "≠", "0"]
    assert lines[row + 2] == " " * 14 + "cause: CI contains 0"
    assert lines[row + 3].startswith(" " * 14 + "to decide: ≈2.3× today's seeds")
    assert " " * 16 + "'small5: parent=small seeds=0,1,2,3,4'" in lines  # one line, to copy
    assert "no estimate" in lines[lines.index("INCONCLUSIVE  γ by IsoFLOP slices") + 1]
    assert lines[lines.index("REFUTED       a <b>made-up</b> [bold]claim[/bold]") + 2].strip() == \
        'cause: estimate <1 & "quoted"'
    assert "undecided claims" not in text  # each cause stands under its claim instead
    assert "design (main grid, dropout 0):" in lines and "4 confirmed, 1 refuted, 2 inconclusive" in lines


def test_log_layout_is_one_line_per_claim_when_the_log_is_wide_enough():
    text = report.render_summary(synthetic_records(), synthetic_meta(design=False), width=160, color=False,
                                 layout="lines")
    assert "CONFIRMED     frontier is a power law              -0.171 [-0.19, -0.15]  expected < 0" in text
    assert "CONFIRMED     compute-optimal size                   0.36 [0.29, 0.44]    expected in (0, 1)" in text


def test_log_layout_lets_only_an_unbreakable_word_run_past_the_width():
    """A word longer than the line (here a 300-character budget line) is kept whole, not cut."""
    records = synthetic_records()[:3]
    seeds = ",".join(map(str, range(80)))
    records[2]["to_decide"] = f"80 seeds: add the line `small80: parent=small seeds={seeds}` to scaling_budgets"
    lines = report.render_summary(records, synthetic_meta(), width=80, color=False, layout="lines").splitlines()
    long = [line for line in lines if len(line) > 80]
    assert [line.strip() for line in long] == [f"seeds={seeds}`"]


def test_totals_say_which_training_time_they_show():
    meta = synthetic_meta()
    assert "runs' training times summed 1m12s · wall 1m41s" in report.totals_line(meta)
    meta.update(spent_seconds=190.0, runs_missing=3)
    line = report.totals_line(meta)
    assert "(66 trained, 312 cached, 3 missing)" in line and "training 3m10s of worker time · wall 1m41s" in line


def test_summary_header_names_device_precision_and_torch():
    meta = dict(synthetic_meta(), device="cpu, 2 workers × 1 thread", precision="fp32", torch="2.14.1")
    for layout in ("table", "lines"):
        text = report.render_summary(synthetic_records(), meta, width=80, color=False, layout=layout)
        assert _words(text).startswith("pytest-scaling · budget small · Fashion-MNIST · cpu, 2 workers × 1 thread "
                                       "· fp32 · torch 2.14.1")
        head = text.splitlines()[:2]  # broken between parts, the first line ending in the separator
        assert head == ["pytest-scaling · budget small · Fashion-MNIST · cpu, 2 workers × 1 thread ·",
                        "  fp32 · torch 2.14.1"]


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
    monkeypatch.setattr(report.plots, "PLOTS", plots)
    with pytest.warns(UserWarning, match="dropout.*kaputt"):
        paths = report.write_report(tmp_path, synthetic_records(), synthetic_meta(), runs)
    names = {p.name for p in paths}
    assert "dropout.png" not in names and "compute_loss.png" in names and "report.json" in names


# --------------------------------------------------------------------------- plots

def _line(fig, gid):
    lines = [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == gid]
    assert len(lines) == 1, [line.get_gid() for ax in fig.axes for line in ax.get_lines()]
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
    _, fy = _line(fig, "frontier").get_data()
    assert 0.05 not in list(fy)
    assert 91 not in report.main_grid(RunTable(list(runs) + [extra])).column("width")


# --------------------------------------------------------------------------- design, windows, undecided claims

def _words(text: str) -> str:
    """Whitespace-normalised text, so a sentence rich wrapped across lines still matches."""
    return " ".join(ANSI.sub("", text).split())


def _inconclusive_with_fix(records):
    return [r for r in records if r["verdict"] == "inconclusive" and r.get("to_decide")]


def test_design_fixture_is_a_real_diagnosis_with_a_window():
    design = synthetic_design()
    lo, hi = design["window"]
    assert 0 < lo < hi and design["window_decides"]
    bindings = {p["binding"] for p in design["frontier"]}
    assert {"interior", "data_cap", "smallest_width"} <= bindings  # several edges bind: the legend has work


def test_report_json_carries_design_window_and_bindings(runs):
    from pytest_scaling.estimators.design import BINDINGS

    meta = synthetic_meta()
    back = json.loads(json.dumps(report.build_report_json(synthetic_records(), meta, runs), allow_nan=False))
    assert back["schema_version"] == report.SCHEMA_VERSION >= 2
    design = back["design"]
    np.testing.assert_allclose(design["window"], meta["design"]["window"])
    assert len(design["frontier"]) == len(meta["design"]["frontier"])
    for got, want in zip(design["frontier"], meta["design"]["frontier"]):
        assert got["binding"] in BINDINGS and got["binding"] == want["binding"]
        np.testing.assert_allclose([got[k] for k in ("compute", "width", "fraction")],
                                   [want[k] for k in ("compute", "width", "fraction")])
    assert design["summary"] == meta["design"]["summary"]
    for claim, rec in zip(back["claims"], synthetic_records()):
        assert "window" in claim and "to_decide" in claim
        assert claim["window"] == (None if rec["window"] is None else pytest.approx(rec["window"]))
        assert claim["to_decide"] == rec["to_decide"]
    assert report.build_report_json([], {}, None)["design"] is None


def test_report_json_accepts_a_design_object():
    from pytest_scaling.estimators.design import Design, FrontierPoint

    d = Design(frontier=(FrontierPoint(1e9, 4.0, 0.5, 1.2, "interior"), FrontierPoint(4e9, 8.0, 1.0, 0.9, "data_cap")),
               slices=(), window=None, data_cap_from=4e9, largest_fraction=1.0, largest_examples=60000.0,
               widths=(4.0, 8.0))
    back = report.build_report_json([], {"design": d}, None)
    assert back["design"]["window"] is None
    assert [p["binding"] for p in back["design"]["frontier"]] == ["interior", "data_cap"]
    assert back["design"] == json.loads(json.dumps(d.to_dict()))


def _undecided_record():
    """A real ClaimRecord of a claim the budget could not estimate (what the plugin records on FitError)."""
    from pytest_scaling.claims import ClaimRecord

    return ClaimRecord(nodeid="claims/test_x.py::test_gamma_by_isoflop", name="test_gamma_by_isoflop",
                       quantity="test_gamma_by_isoflop", estimate=None, ci_low=None, ci_high=None, confidence=0.95,
                       method="", n_resamples=None, expected="", verdict="inconclusive", runs=0, p_value=None,
                       reason="this budget cannot decide: no IsoFLOP slice has 3 widths <around> its optimum",
                       details={"flagged": True}, to_decide="widen the grid: smaller widths (1) & more data per run")


@pytest.mark.parametrize("width", [40, 100, 400])
def test_record_without_estimate_renders_in_the_summary(width):
    rec = _undecided_record()
    records = synthetic_records()[:2] + [rec]
    text = report.render_summary(records, synthetic_meta(), width=width, color=False)
    assert max(len(line) for line in text.splitlines()) <= width
    words = _words(text)
    name = rec.name.removeprefix("test_")  # the summary names claims without pytest's prefix
    assert name in words and _words(rec.reason) in words and _words(rec.to_decide) in words
    assert "1 inconclusive" in words
    if width == 400:  # the table row: no numbers, a dash in each number column, the verdict whole
        row = next(line for line in text.splitlines() if line.startswith(name))
        assert row.split()[1:] == [report.NO_VALUE] * 4 + ["inconclusive", report.NO_VALUE]


def test_record_without_estimate_in_json_and_html(tmp_path, runs):
    rec = _undecided_record()
    paths = report.write_report(tmp_path, synthetic_records() + [rec], synthetic_meta(), runs)
    back = json.loads((tmp_path / "report.json").read_text())
    claim = back["claims"][-1]
    assert claim["name"] == rec.name and claim["verdict"] == "inconclusive"
    assert claim["estimate"] is None and claim["ci_low"] is None and claim["ci_high"] is None
    assert claim["reason"] == rec.reason and claim["to_decide"] == rec.to_decide and claim["window"] is None
    page = (tmp_path / "index.html").read_text()
    body = _claim_body(page, rec.nodeid)
    assert f'<td class="num">{report.NO_VALUE}</td>' in body and html.escape(rec.reason) in body
    assert "compute window" not in body  # no estimate: nothing used, so no window is claimed
    assert "<svg" not in body  # no CI to draw
    assert "compute_loss.png" in {p.name for p in paths}


def test_inconclusive_claims_show_cause_and_what_would_decide_in_the_summary():
    records = synthetic_records()
    todo = _inconclusive_with_fix(records)
    assert len(todo) == 2
    for width in (64, 120):
        text = report.render_summary(records, synthetic_meta(), width=width, color=False)
        words = _words(text)
        for r in todo:
            assert _words(f"{r['name']}: {r['reason']}") in words
            assert _words(f"to decide: {r['to_decide']}") in words
        assert words.count("to decide:") == len(todo)  # decided claims get no such line
    colored = report.render_summary(records, synthetic_meta(), width=120, color=True)
    assert all(_words(r["to_decide"]) in _words(colored) for r in todo)


def test_summary_design_section_says_what_binds_where():
    meta = synthetic_meta()
    lines = meta["design"]["summary"]
    assert len(lines) >= 3
    words = _words(report.render_summary(synthetic_records(), meta, width=100, color=False))
    for line in lines:
        assert _words(line) in words
    without = report.render_summary(synthetic_records(), synthetic_meta(design=False), width=100, color=False)
    assert not any(_words(line) in _words(without) for line in lines)
    # a design without summary lines still states its window
    bare = {"window": meta["design"]["window"], "frontier": []}
    text = report.render_summary(synthetic_records(), dict(meta, design=bare), width=200, color=False)
    assert report.fmt_window(bare["window"]) in text
    # the totals stay the last line
    assert "378 runs" in text.strip().splitlines()[-1]


def test_index_html_shows_design_windows_and_what_would_decide(written):
    out, _ = written
    page = (out / "index.html").read_text()
    design = synthetic_design()
    assert "<h2>Design</h2>" in page
    for line in design["summary"]:
        assert f"<li>{html.escape(line)}</li>" in page
    frontier_table = page[page.index('<details class="frontier">'):]
    frontier_table = frontier_table[:frontier_table.index("</details>")]
    assert frontier_table.count("<tr>") == len(design["frontier"]) + 1  # + header
    records = synthetic_records()
    windowed = [r for r in records if r["window"]]
    # every claim with an estimate states its compute range; one without (None, or NaN: null in JSON) none
    estimated = [r for r in records if r["estimate"] is not None and np.isfinite(r["estimate"])]
    assert page.count("compute window: ") == len(estimated)
    assert page.count("compute window: all runs") == len(estimated) - len(windowed)
    for r in windowed:
        assert f"compute window: {html.escape(report.fmt_window(r['window']))}" in page
    decide_lines = re.findall(r'<p class="decide">(.*?)</p>', page, flags=re.S)
    todo = _inconclusive_with_fix(records)
    assert len(decide_lines) == len(todo)
    for r in todo:  # the page orders claims by finding, so match each to its own line
        assert sum(html.escape(r["to_decide"]) in line for line in decide_lines) == 1
    # each sits beneath its own claim's row, in a row of its own across the claim's width
    for r in todo:
        body = _claim_body(page, r["nodeid"])
        main_row, detail = body.split("</tr>", 1)
        assert r["to_decide"] and html.escape(r["to_decide"]) not in main_row
        assert detail.startswith('<tr class="detail"><td></td><td colspan="') and html.escape(r["to_decide"]) in detail
        assert html.escape(r["reason"]) in detail


def _claim_body(page: str, nodeid: str) -> str:
    """The ``<tbody>`` that holds one claim (its row, and its reason and what would decide it)."""
    at = page.index(html.escape(nodeid))
    start = page.rindex('<tbody class="claim">', 0, at)
    return page[start + len('<tbody class="claim">'):page.index("</tbody>", at)]


def _section(page: str, heading: str) -> str:
    """The ``<section>`` headed by ``heading`` (escaped here)."""
    at = page.index(f"<h2>{html.escape(heading)}</h2>")
    return page[page.rindex("<section", 0, at):page.index("</section>", at)]


def test_index_html_leads_with_verdicts_then_groups_claims_by_finding(written):
    """Verdict counts first; then one section per claim module, headed by its finding and source
    (records from the plugin) or by the nodeid's file (records without those keys)."""
    out, _ = written
    page = (out / "index.html").read_text()
    records = synthetic_records()
    counts = re.search(r'<p class="verdicts">(.*?)</p>', page).group(1)
    assert page.index(counts) < page.index('<dl class="meta">') < page.index("<section")
    for verdict in ("confirmed", "refuted", "inconclusive"):
        n = sum(r["verdict"] == verdict for r in records)
        assert f'<span class="verdict {verdict}">{n} {verdict}</span>' in counts
    # then the findings, each with its verdicts, linking to its section
    contents = re.findall(r'<li>(.*?)<a href="#([^"]+)">(.*?)</a></li>', page)
    assert [title for _, _, title in contents] == [
        html.escape(t) for t in (records[FRONTIER]["finding"], records[NOPT]["finding"], "claims/test_dropout.py",
                                 "claims/test_lr.py", records[-1]["finding"])]
    assert all(f'<section id="{anchor}">' in page for _, anchor, _ in contents)
    assert contents[0][0].strip() == '<span class="verdict confirmed">2 confirmed</span>'
    frontier = records[FRONTIER]
    section = _section(page, frontier["finding"])
    assert f"Source: {html.escape(frontier['source'])}" in section
    assert section.count('<tbody class="claim">') == 2  # the power law and the saturating form
    assert html.escape(records[SATURATING]["nodeid"]) in section
    # the nopt record names its module; the undecided one only its nodeid: the same file, one group
    nopt = _section(page, records[NOPT]["finding"])
    assert html.escape(records[UNDECIDED]["nodeid"]) in nopt and html.escape(records[NOPT]["nodeid"]) in nopt
    dropout = _section(page, "claims/test_dropout.py")  # no finding: headed by its file
    assert html.escape(records[DROPOUT]["nodeid"]) in dropout and "Source:" not in dropout
    # a finding is text, like everything else
    assert "<i>made-up" not in page and "&lt;i&gt;made-up&lt;/i&gt; finding &amp; its &quot;quotes&quot;" in page
    # claims of one module stay together, in order of their module's first claim
    order = [page.index(html.escape(r["nodeid"])) for r in records]
    assert order[FRONTIER] < order[SATURATING] < order[NOPT] < order[UNDECIDED] < order[DROPOUT] < order[LR]
    # each section's table has the same columns, in the order a reader wants them
    heads = re.findall(r'<table class="claims">.*?<thead><tr>(.*?)</tr></thead>', page)
    assert len(heads) == page.count("<section") == 5 and len(set(heads)) == 1  # frontier, nopt, dropout, lr, bad
    assert re.findall(r"<th[^>]*>([^<]*)</th>", heads[0]) == [
        "verdict", "claim · quantity", "estimate", "CI · expected region", "runs"]


def test_index_html_puts_each_plot_with_the_claims_it_supports(written):
    out, _ = written
    page = (out / "index.html").read_text()
    records = synthetic_records()
    frontier = _section(page, records[FRONTIER]["finding"])
    # no accuracy claim here, so the error-rate frontier joins the loss frontier
    assert re.findall(r'<figure id="([^"]+)"', frontier) == ["compute_loss", "compute_error"]
    assert re.findall(r'<figure id="([^"]+)"', _section(page, records[NOPT]["finding"])) == ["nopt"]
    assert re.findall(r'<figure id="([^"]+)"', _section(page, "claims/test_dropout.py")) == ["dropout"]
    # the LR record names no plot it feeds (an old record): lr_sweep goes to the final Plots
    rest = page[page.index("<h2>Plots</h2>"):]
    assert re.findall(r'<figure id="([^"]+)"', rest) == ["lr_sweep"]
    assert page.index("<h2>Design</h2>") < page.index("<h2>Plots</h2>")
    for stem, caption, _ in report.PLOTS:  # every plot once, with its caption
        assert page.count(f'<figure id="{stem}">') == 1
        assert f"<figcaption>{html.escape(caption)}</figcaption>" in page


def test_a_plot_goes_to_the_group_that_names_it_first():
    """The page knows no claim module: each record says which plots it feeds (its module's SCALING_PLOTS),
    and a plot two groups name goes to the one that lists it earliest (on a tie, the first on the page)."""
    from tests.unit._report_data import origin

    records = synthetic_records()
    accuracy = dict(records[FRONTIER], **origin("test_accuracy"), nodeid="claims/test_accuracy.py::test_error",
                    name="error rate falls")
    assert origin("test_frontier")["plots"] == ["compute_loss", "compute_error"]
    assert origin("test_accuracy")["plots"] == ["compute_error"]
    images = {stem: f"{stem}.png" for stem, _, _ in report.PLOTS}
    page = report.render_html({"claims": records + [accuracy]}, images)
    assert re.findall(r'<figure id="([^"]+)"', _section(page, records[FRONTIER]["finding"])) == ["compute_loss"]
    assert re.findall(r'<figure id="([^"]+)"', _section(page, accuracy["finding"])) == ["compute_error"]
    renamed = [dict(r, module="my_" + (r.get("module") or "x"), nodeid="elsewhere/" + r["nodeid"]) for r in records]
    page = report.render_html({"claims": renamed}, images)  # grouping follows the records, not file names
    assert re.findall(r'<figure id="([^"]+)"', _section(page, records[FRONTIER]["finding"])) == [
        "compute_loss", "compute_error"]
    tie = [dict(r, plots=["nopt"]) for r in records[:2]]  # two groups name nopt first: the first group gets it
    page = report.render_html({"claims": tie}, {"nopt": "nopt.png"})
    assert re.findall(r'<figure id="([^"]+)"', _section(page, records[FRONTIER]["finding"])) == ["nopt"]


def test_index_html_groups_records_without_module_or_nodeid_under_claims():
    rep = {"claims": [dict(r, nodeid="", module=None, finding=None, plots=None) for r in synthetic_records()[:2]]}
    page = report.render_html(rep, {"nopt": "nopt.png"})
    assert page.count("<section") == 1 and "<h2>Claims</h2>" in page
    assert '<figure id="nopt">' in page[page.index("<h2>Plots</h2>"):]
    empty = report.render_html({"claims": []}, {})
    assert "No scaling claims ran." in empty and "<section" not in empty


def test_index_html_is_static(written):
    out, _ = written
    page = (out / "index.html").read_text()
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert not re.search(r"\son[a-z]+=", page)  # no event handlers
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere


@pytest.mark.parametrize("name, words", [
    ("test_gamma_approaches_agree[envelope-isoflop]", "gamma approaches agree [envelope-isoflop]"),
    ("test_lr_falls_with_fan_in", "lr falls with fan in"),
    ("test_x[a_b]", "x [a_b]"),  # parameters as they are
    ("frontier is a power law", "frontier is a power law"),  # a name given as words stays
    ("N_opt grows", "N_opt grows"),
    (None, ""),
])
def test_claim_words(name, words):
    from pytest_scaling.report.page import claim_words

    assert claim_words(name) == words


@pytest.mark.parametrize("expected, region", [
    ("< 0", (-np.inf, 0.0)), ("> -1", (-1.0, np.inf)), ("≤ 0.01", (-np.inf, 0.01)), ("in (0, 1)", (0.0, 1.0)),
    ("within 0.2 of -0.5", (-0.7, -0.3)), ("within ±0.5", (-0.5, 0.5)), ("within 0.25 of −0.5", (-0.75, -0.25)),
    ("< 1e+10", (-np.inf, 1e10)), ("≠ 0", None), ("", None), (None, None), ("about 3", None),
])
def test_expected_region_parses_what_claims_write(expected, region):
    from pytest_scaling.report.page import expected_region

    got = expected_region(expected)
    assert got == pytest.approx(region) if region else got is None


def test_interval_is_drawn_against_the_expected_region():
    from pytest_scaling.report.page import _interval_svg

    claim = {"estimate": -0.17, "ci_low": -0.2, "ci_high": -0.1, "expected": "within 0.05 of -0.1"}
    svg = _interval_svg(claim, "inconclusive")
    assert svg.startswith('<svg class="interval inconclusive"') and "<script" not in svg
    region = re.search(r'<rect class="region" x="([\d.]+)" y="1" width="([\d.]+)"', svg)
    ci_low, ci_high = (float(v) for v in re.findall(r'<line x1="([\d.]+)"', svg)[-2:])  # the CI's end ticks
    dot = float(re.search(r'<circle cx="([\d.]+)"', svg).group(1))
    lo, hi = float(region.group(1)), float(region.group(1)) + float(region.group(2))
    # CI [-0.2, -0.1] straddles the region's lower edge -0.15: on the drawing too
    assert 0 <= ci_low < dot < lo < ci_high < hi <= 168
    assert "<rect" not in _interval_svg(dict(claim, expected="≠ 0"), "confirmed")  # no region: CI only
    assert _interval_svg(dict(claim, ci_low=None, ci_high=None), "confirmed") == ""
    assert _interval_svg(dict(claim, ci_low=float("nan")), "confirmed") == ""


def test_origin_keys_come_from_every_claim_modules_docstring():
    """What the plugin adds to each record: every shipped claim module states a finding and a source."""
    import ast
    from pathlib import Path

    from pytest_scaling.claims import module_finding

    for path in sorted((Path(__file__).resolve().parents[2] / "claims").glob("test_*.py")):
        finding, source = module_finding(ast.parse(path.read_text()).body[0].value.value)
        assert finding and finding.endswith((".", "!", "?")) and "\n" not in finding, path
        assert source and not source.startswith("Source") and "  " not in source, path
    doc = "One finding, et al. 2020.  Second sentence.\n\nSource:  a\n   b.\n\nMore."
    assert module_finding(doc) == ("One finding, et al. 2020.", "a b.")
    assert module_finding("Just a finding") == ("Just a finding", None)
    assert module_finding(None) == (None, None)


def _window_extent(ax, gid="window"):
    patches = [p for p in ax.patches if p.get_gid() == gid]
    assert len(patches) == 1, [p.get_gid() for p in ax.patches]
    p = patches[0]
    x = np.asarray(p.get_xy(), float)[:, 0] if hasattr(p, "get_xy") and not hasattr(p, "get_width") else \
        np.array([p.get_x(), p.get_x() + p.get_width()])
    return p, float(x.min()), float(x.max())


def test_compute_plot_shades_the_window_and_marks_bindings(runs):
    design = synthetic_design()
    fig = report.plot_compute_loss(runs, synthetic_records(), design=design)
    ax = fig.axes[0]
    patch, lo, hi = _window_extent(ax)
    np.testing.assert_allclose([lo, hi], design["window"], rtol=1e-9)
    assert patch.get_label() == "compute-limited window"
    by_binding = {}
    for p in design["frontier"]:
        by_binding.setdefault(p["binding"], []).append((p["compute"], p["loss"]))
    drawn = {c.get_gid(): c for c in ax.collections if str(c.get_gid()).startswith("binding-")}
    assert set(drawn) == {f"binding-{b}" for b in by_binding}
    for b, pts in by_binding.items():
        np.testing.assert_allclose(np.asarray(drawn[f"binding-{b}"].get_offsets()), np.asarray(pts))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "compute-limited window" in legend
    for b in by_binding:
        assert any(report.BINDING_STYLE[b][2] in t for t in legend), (b, legend)
    # markers differ per binding, so the legend tells them apart without colour
    assert len({report.BINDING_STYLE[b][0] for b in by_binding}) == len(by_binding)


def test_compute_plot_without_design_has_no_window_or_bindings(runs):
    ax = report.plot_compute_loss(runs, synthetic_records()).axes[0]
    assert not [p for p in ax.patches if p.get_gid() == "window"]
    assert not [c for c in ax.collections if str(c.get_gid()).startswith("binding-")]


def test_too_narrow_window_is_labelled_so(runs):
    design = dict(synthetic_design(), window_decides=False)
    patch, _, _ = _window_extent(report.plot_compute_loss(runs, [], design=design).axes[0])
    assert "too narrow to decide" in patch.get_label()


def test_saturating_fit_is_drawn_from_the_claim_record(runs):
    """Without a window the claim's saturating fit is drawn; with one (below), the claim's fit is a
    window fit, and the plot shows the whole frontier against the saturating form fitted to all of it."""
    records = synthetic_records()
    sat = records[SATURATING]
    fig = report.plot_compute_loss(runs, records, design=None)
    x, y = (np.asarray(a, float) for a in _line(fig, "frontier-saturating").get_data())
    E, A, alpha = sat["details"]["E"], sat["details"]["A"], sat["estimate"]
    np.testing.assert_allclose(y, E + A * x ** -alpha, rtol=1e-12)
    fx, _ = _line(fig, "frontier").get_data()
    assert x.min() == pytest.approx(min(fx)) and x.max() == pytest.approx(max(fx))
    assert _line(fig, "frontier-fit")  # the straight power law stays beside it


def test_with_a_window_the_power_law_is_drawn_inside_it_and_the_saturating_form_over_all(runs):
    design = synthetic_design()
    fig = report.plot_compute_loss(runs, synthetic_records(), design=design)
    lx, _ = _line(fig, "frontier-fit").get_data()
    assert min(lx) == pytest.approx(design["window"][0]) and max(lx) == pytest.approx(design["window"][1])
    sx, _ = _line(fig, "frontier-saturating").get_data()
    fx, _ = _line(fig, "frontier").get_data()
    assert min(sx) == pytest.approx(min(fx)) and max(sx) == pytest.approx(max(fx))


def test_saturating_fit_is_refitted_on_the_frontier_without_a_record(runs):
    from pytest_scaling import fits

    records = [r for i, r in enumerate(synthetic_records()) if i != SATURATING]
    fig = report.plot_compute_loss(runs, records)
    fx, fy = (np.asarray(a, float) for a in _line(fig, "frontier").get_data())
    f = fits.fit_saturating(fx, fy)
    x, y = (np.asarray(a, float) for a in _line(fig, "frontier-saturating").get_data())
    np.testing.assert_allclose(y, f.predict(x), rtol=1e-9)
    assert "(refit)" in _line(fig, "frontier-saturating").get_label()
    # an undecided saturating claim (no estimate) is not drawn from: the refit is used
    broken = dict(synthetic_records()[SATURATING], estimate=None, ci_low=None, ci_high=None)
    fig2 = report.plot_compute_loss(runs, records + [broken])
    np.testing.assert_allclose(_line(fig2, "frontier-saturating").get_data()[1], y)


def test_nopt_plot_shades_the_window_its_claim_used(runs):
    records = synthetic_records()
    ax = report.plot_nopt(runs, records, design=synthetic_design()).axes[0]
    _, lo, hi = _window_extent(ax)
    np.testing.assert_allclose([lo, hi], records[NOPT]["window"], rtol=1e-9)
    # no window on the record: the design's; neither: none
    records[NOPT]["window"] = None
    design = dict(synthetic_design(), window=[2e9, 3e11])
    _, lo, hi = _window_extent(report.plot_nopt(runs, records, design=design).axes[0])
    np.testing.assert_allclose([lo, hi], [2e9, 3e11], rtol=1e-9)
    assert not report.plot_nopt(runs, records).axes[0].patches


def test_write_report_draws_the_compute_plot_with_the_design_window(tmp_path, runs, monkeypatch):
    seen = {}
    original = report.plot_compute_loss

    def spy(runs, records=(), design=None):
        fig = original(runs, records, design=design)
        seen["window"] = _window_extent(fig.axes[0])[1:]
        return fig

    plots = tuple((stem, cap, spy if stem == "compute_loss" else fn) for stem, cap, fn in report.PLOTS)
    monkeypatch.setattr(report.plots, "PLOTS", plots)
    paths = report.write_report(tmp_path, synthetic_records(), synthetic_meta(), runs)
    png = tmp_path / "compute_loss.png"
    assert png in paths and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_allclose(seen["window"], synthetic_design()["window"], rtol=1e-9)


# --------------------------------------------------------------------------- baselines with the new records

def test_older_baseline_loads_and_compares_with_an_undecided_claim(tmp_path):
    from pytest_scaling import baseline

    current = report.build_report_json(synthetic_records(), synthetic_meta(), None)
    old = json.loads(json.dumps(current))
    old["schema_version"] = 1  # before design / window / to_decide existed
    old.pop("design")
    for c in old["claims"]:
        c.pop("window"), c.pop("to_decide")
    undecided = synthetic_records()[UNDECIDED]
    old["claims"][UNDECIDED].update(estimate=0.41, ci_low=0.3, ci_high=0.52, verdict="confirmed")
    baseline.save(old, "v1", tmp_path)
    loaded = baseline.load("v1", tmp_path)
    deltas = {d.name: d for d in baseline.compare(current, loaded)}
    d = deltas[undecided["name"]]
    assert d.status == "both" and d.old == 0.41 and d.new is None and d.new_reason == undecided["reason"]
    [line] = baseline.violations([d], [baseline.parse_fail_expr("*:0.1")])
    assert undecided["reason"] in line and "0.41" in line
    for width in (40, 140):
        text = baseline.render_comparison(list(deltas.values()), width=width, color=False, baseline_name="v1")
        assert max(len(x) for x in text.splitlines()) <= width
        assert "no estimate" in text and "inconclusive" in _words(text)
    # and the current report saved as a baseline compares with itself
    baseline.save(current, "v2", tmp_path)
    assert all(x.abs_change in (0, None) for x in baseline.compare(current, baseline.load("v2", tmp_path)))


def test_log_layout_says_a_shared_cause_once():
    """A narrow window makes many claims inconclusive for one reason: the log prints it under the
    first and points back to it from the others."""
    base = next(r for r in synthetic_records() if r.get("verdict") == "inconclusive")
    cause, remedy = "the compute-limited window has 2 slices (a claim needs ≥3)", "widen the grid: larger fractions"
    records = [dict(base, name=f"test_claim_{i}", reason=cause, to_decide=remedy) for i in range(3)]
    text = report.render_summary(records, synthetic_meta(), width=100, color=False, layout="lines")
    assert text.count(cause) == 1 and text.count(remedy) == 1
    assert text.count("cause: as for claim_0 above") == 2
    assert text.count("to decide: as for claim_0 above") == 2


def test_a_grid_in_two_precisions_plots_the_sessions_and_keeps_both_in_the_files(tmp_path, runs, monkeypatch):
    """The precision budget trains the main grid in fp32 and bf16: the plots show the session's precision
    (one frontier, not two interleaved), runs.csv and report.json's counts keep every run."""
    import dataclasses

    import pytest_scaling.report as report_package

    twins = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, precision="bf16")) for r in runs]
    both = RunTable(list(runs) + twins)
    plotted = []
    real = report_package.make_plots
    monkeypatch.setattr(report_package, "make_plots", lambda table, *a: plotted.append(table) or real(table, *a))
    report.write_report(tmp_path, synthetic_records(), {**synthetic_meta(), "precision": "fp32"}, both)
    assert {r.spec.precision for r in plotted[0]} == {"fp32"} and len(plotted[0]) == len(runs)
    assert len(RunTable.from_csv((tmp_path / "runs.csv").read_text())) == 2 * len(runs)
    assert json.loads((tmp_path / "report.json").read_text())["runs"]["precisions"] == {"bf16": len(runs),
                                                                                       "fp32": len(runs)}


def test_report_records_each_runs_data_source(runs):
    """Runs past the base images read a deformed stream; report.json says how many read which source."""
    import dataclasses

    from pytest_scaling.report.data import runs_summary

    past = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, fraction=2.0)) for r in list(runs)[:3]]
    sources = runs_summary(RunTable(list(runs) + past))["data_sources"]
    assert sources["base images"] == len(runs)
    (key,) = [k for k in sources if k != "base images"]
    assert key.startswith("elastic") and sources[key] == 3
