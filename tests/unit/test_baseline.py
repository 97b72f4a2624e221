"""Baselines: atomic save/load with clear errors, claim-by-claim comparison, fail rules."""

from __future__ import annotations

import json
import re

import pytest

from pytest_scaling import baseline, report
from pytest_scaling.baseline import BaselineError, Delta

from tests.unit._report_data import synthetic_meta, synthetic_records

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _report(**estimates) -> dict:
    rep = report.build_report_json(synthetic_records(), synthetic_meta(), None)
    for claim in rep["claims"]:
        if claim["name"] in estimates:
            claim["estimate"] = estimates[claim["name"]]
    return rep


def _claim(name, quantity, estimate, lo=None, hi=None, verdict="confirmed"):
    return {"name": name, "quantity": quantity, "estimate": estimate, "ci_low": lo, "ci_high": hi,
            "verdict": verdict}


# --------------------------------------------------------------------------- storage

def test_save_load_round_trip(tmp_path):
    rep = _report()
    path = baseline.save(rep, "main", tmp_path / ".scaling")
    assert path == tmp_path / ".scaling" / "main.json"
    assert baseline.load("main", tmp_path / ".scaling") == json.loads(json.dumps(rep))
    assert [p.name for p in path.parent.iterdir()] == ["main.json"]  # no temp files left behind
    baseline.save(_report(), "v0.2-gpu_1", tmp_path / ".scaling")
    assert baseline.available(tmp_path / ".scaling") == ["main", "v0.2-gpu_1"]


def test_save_defaults_to_dot_scaling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert baseline.save(_report(), "x").resolve() == (tmp_path / ".scaling" / "x.json").resolve()
    assert baseline.load("x")["schema_version"] == report.SCHEMA_VERSION


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "a b", "ünï", "x" * 201])
def test_bad_names_are_rejected(tmp_path, name):
    with pytest.raises(ValueError, match="letters, digits"):
        baseline.save(_report(), name, tmp_path)
    assert not any(tmp_path.iterdir())


def test_missing_baseline_lists_what_exists(tmp_path):
    assert issubclass(BaselineError, ValueError)  # the plugin turns ValueErrors into a clear failure
    with pytest.raises(BaselineError, match="no baselines saved"):
        baseline.load("main", tmp_path)
    baseline.save(_report(), "alpha", tmp_path)
    baseline.save(_report(), "beta", tmp_path)
    with pytest.raises(BaselineError, match=r"'main' not found.*alpha, beta.*--scaling-save"):
        baseline.load("main", tmp_path)


@pytest.mark.parametrize("content", ['{"claims": [', "[1, 2]", '{"schema_version": 1}', "\xff\xfe"])
def test_corrupt_baseline_gives_clear_error(tmp_path, content):
    (tmp_path / "main.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(BaselineError, match="main"):
        baseline.load("main", tmp_path)


def test_newer_schema_is_refused(tmp_path):
    rep = _report()
    rep["schema_version"] = report.SCHEMA_VERSION + 1
    baseline.save(rep, "future", tmp_path)
    with pytest.raises(BaselineError, match="schema_version"):
        baseline.load("future", tmp_path)


def test_save_refuses_non_reports(tmp_path):
    with pytest.raises(ValueError, match="claims"):
        baseline.save({"hello": 1}, "x", tmp_path)


# --------------------------------------------------------------------------- compare

def test_compare_matches_by_name_and_quantity():
    old = {"claims": [_claim("a", "γ", 1.0, 0.9, 1.1), _claim("gone", "q", 2.0)]}
    new = {"claims": [_claim("a", "γ", 1.2, 1.15, 1.3, "refuted"), _claim("fresh", "q", 3.0)]}
    d = {x.name: x for x in baseline.compare(new, old)}
    assert d["a"].status == "both"
    assert d["a"].abs_change == pytest.approx(0.2) and d["a"].rel_change == pytest.approx(0.2)
    assert d["a"].ci_overlap is False
    assert (d["a"].old_verdict, d["a"].new_verdict) == ("confirmed", "refuted")
    assert d["fresh"].status == "added" and d["fresh"].abs_change is None
    assert d["gone"].status == "removed" and d["gone"].old == 2.0
    assert [x.status for x in baseline.compare(new, old)] == ["both", "added", "removed"]


def test_ci_overlap_and_missing_values():
    assert Delta("a", "q", "both", 1, 1.05, (0.9, 1.1), (1.0, 1.2)).ci_overlap is True
    assert Delta("a", "q", "both", 1, 1.05, (0.9, 1.1), (None, None)).ci_overlap is None
    assert Delta("a", "q", "both", 0.0, 0.5).rel_change is None


def test_same_name_different_quantity_are_different_claims():
    old = {"claims": [_claim("a", "slope", 1.0), _claim("a", "intercept", 5.0)]}
    new = {"claims": [_claim("a", "slope", 1.0), _claim("a", "intercept", 6.0)]}
    changes = {d.quantity: d.abs_change for d in baseline.compare(new, old)}
    assert changes == {"slope": 0.0, "intercept": 1.0}


# --------------------------------------------------------------------------- fail rules

@pytest.mark.parametrize("text, pattern, tol, relative", [
    ("gamma:0.05", "gamma", 0.05, False), ("gamma:10%", "gamma", 10.0, True), ("*:0.1", "*", 0.1, False),
    ("γ:0.05", "γ", 0.05, False), (" slope d lnL : 5 % ", "slope d lnL", 5.0, True),
])
def test_parse_fail_expr(text, pattern, tol, relative):
    rule = baseline.parse_fail_expr(text)
    assert (rule.pattern, rule.tolerance, rule.relative) == (pattern, tol, relative)


@pytest.mark.parametrize("text", ["gamma", ":0.05", "gamma:", "gamma:abc", "gamma:-1", "gamma:nan", "gamma:%", ""])
def test_bad_fail_expr_shows_accepted_forms(text):
    with pytest.raises(ValueError, match=r"accepted forms.*gamma:0\.05.*gamma:10%.*\*:0\.1"):
        baseline.parse_fail_expr(text)


def _gamma_delta(old, new):
    [d] = baseline.compare({"claims": [_claim("compute-optimal size", "γ in N_opt ∝ C^γ", new)]},
                           {"claims": [_claim("compute-optimal size", "γ in N_opt ∝ C^γ", old)]})
    return d


def test_absolute_tolerance_six_percent_trips_four_does_not():
    rule = baseline.parse_fail_expr("gamma:0.05")  # name says "γ", the rule says "gamma"
    assert baseline.violations([_gamma_delta(1.0, 1.06)], [rule])
    assert baseline.violations([_gamma_delta(1.0, 0.94)], [rule])
    assert not baseline.violations([_gamma_delta(1.0, 1.04)], [rule])


def test_relative_tolerance():
    rule = baseline.parse_fail_expr("gamma:5%")
    assert baseline.violations([_gamma_delta(0.36, 0.36 * 1.06)], [rule])
    assert not baseline.violations([_gamma_delta(0.36, 0.36 * 1.04)], [rule])
    # 0.05 absolute on 0.36 would be 14%: relative and absolute really differ
    assert not baseline.violations([_gamma_delta(0.36, 0.40)], [baseline.parse_fail_expr("gamma:0.05")])
    assert baseline.violations([_gamma_delta(0.36, 0.40)], [rule])


def test_rule_matching():
    d = _gamma_delta(1.0, 2.0)
    assert baseline.parse_fail_expr("GAMMA:0.1").matches(d)
    assert baseline.parse_fail_expr("N_opt:0.1").matches(d)
    assert baseline.parse_fail_expr("*:0.1").matches(d)
    assert not baseline.parse_fail_expr("alpha:0.1").matches(d)
    assert not baseline.violations([d], [baseline.parse_fail_expr("dropout:0.01")])
    symbol = baseline.parse_fail_expr("γ:0.05")
    [other] = baseline.compare({"claims": [_claim("gamma exponent", "slope", 2.0)]},
                               {"claims": [_claim("gamma exponent", "slope", 1.0)]})
    assert symbol.matches(other)


def test_violation_lines_name_claim_values_and_rule():
    [line] = baseline.violations([_gamma_delta(1.0, 1.06)], [baseline.parse_fail_expr("gamma:0.05")])
    assert "compute-optimal size" in line and "gamma:0.05" in line and "1.06" in line and "+6.0%" in line


def test_lost_estimate_is_a_violation_but_added_or_removed_claims_are_not():
    rule = baseline.parse_fail_expr("*:0.1")
    assert baseline.violations([_gamma_delta(1.0, float("nan"))], [rule])
    deltas = baseline.compare({"claims": [_claim("new", "q", 1.0)]}, {"claims": [_claim("old", "q", 1.0)]})
    assert baseline.violations(deltas, [rule]) == []


# --------------------------------------------------------------------------- rendering

@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", [40, 80, 140])
def test_render_comparison_fits_width(width, color):
    cur = _report(**{"compute-optimal size": 0.45, "frontier is a power law": -0.2})
    cur["claims"].append(_claim("brand new claim", "q", 1.0))
    deltas = baseline.compare(cur, _report())
    text = baseline.render_comparison(deltas, width=width, color=color, baseline_name="main")
    plain = ANSI.sub("", text)
    assert max(len(line) for line in plain.splitlines()) <= width
    assert ("\x1b[" in text) is color
    if width >= 140:
        for d in deltas:
            assert d.name in plain
        assert "added" in plain and "main" in plain


def test_render_comparison_empty():
    assert "no claims" in baseline.render_comparison([], width=80, color=False)


def test_a_baseline_from_other_settings_is_compared_with_them_named():
    saved = {**_report(gamma=0.5), "device": "cpu, 2 workers × 1 thread", "precision": "fp32", "budget": "small"}
    now = {**_report(gamma=0.52), "device": "cuda:0 NVIDIA H200", "precision": "bf16", "budget": "small"}
    changes = baseline.setting_changes(now, saved)
    assert changes == ["device cpu, 2 workers × 1 thread → cuda:0 NVIDIA H200", "precision fp32 → bf16"]
    unnamed = {**_report(), **dict.fromkeys(baseline.SETTINGS)}  # an older report that does not say
    assert baseline.setting_changes(saved, saved) == [] and baseline.setting_changes(now, unnamed) == []
    text = baseline.render_comparison(baseline.compare(now, saved), width=120, color=False, changes=changes)
    assert "settings differ from the baseline: device cpu" in text and "precision fp32 → bf16" in text
    assert "claims/test_precision.py" in text
    assert "settings differ" not in baseline.render_comparison(baseline.compare(now, saved), width=120, color=False)
