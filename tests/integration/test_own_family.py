"""examples/own_family: a project's own model family (an MLP) and tensors, through the hooks, the cache and the
shipped claims."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "own_family"
FRONTIER = ("test_frontier_loss_falls_with_compute", "test_frontier_is_close_to_a_straight_line",
            "test_saturating_form_has_a_floor")

pytestmark = pytest.mark.slow


def _pytest(cache, report, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_SCALING_CACHE": str(cache)}
    env.pop("PYTEST_XDIST_WORKER", None)  # the example picks its own executor, as a user's project would
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
                           f"--scaling-report={report}", *args],
                          cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=600)


def test_own_family_trains_through_the_cache_and_the_shipped_claims(tmp_path):
    cache = tmp_path / "cache"
    first = _pytest(cache, tmp_path / "first")
    assert first.returncode in (0, 1), first.stdout[-3000:] + first.stderr[-2000:]
    assert " error" not in first.stdout.splitlines()[-1], first.stdout[-3000:]
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    assert report["trainer"] == {"name": "mlp", "version": "1", "builtin": False}
    assert report["dataset"] == "teacher task (16-d, 10 classes)"
    assert report["totals"]["runs_trained"] == 126 == report["totals"]["runs_total"]
    verdicts = {c["name"]: c["verdict"] for c in report["claims"]}
    assert all(verdicts[name] in ("confirmed", "refuted", "inconclusive") for name in FRONTIER), verdicts
    assert verdicts["test_frontier_loss_falls_with_compute"] == "confirmed"

    records = [json.loads(path.read_text()) for path in (cache / "runs").glob("*/*.json")]
    assert len(records) == 126
    assert {(r["context"]["trainer"], r["context"]["code_version"]) for r in records} == {("mlp", "1")}
    assert {r["result"]["params"] for r in records} == {(16 + 1) * h + (h + 1) * 10 for h in (2, 4, 8, 16, 32, 64)}

    second = _pytest(cache, tmp_path / "second")
    assert second.returncode == first.returncode, second.stdout[-3000:] + second.stderr[-2000:]
    again = json.loads((tmp_path / "second" / "report.json").read_text())
    assert (again["totals"]["runs_trained"], again["totals"]["runs_cached"]) == (0, 126)
    assert {c["name"]: c["verdict"] for c in again["claims"]} == verdicts
