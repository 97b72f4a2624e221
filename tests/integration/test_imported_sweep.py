"""examples/imported_sweep: another family's sweep, imported by column mapping, through the shipped claims."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "imported_sweep"
COLUMNS = "N=n_params D=tokens_seen loss=eval_loss seed=run_seed"


def _pytest(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_SCALING_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "pytest", "claims/", "-p", "no:cacheprovider", "-q", "-rs", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_every_applicable_claim_is_decided_or_explained(tmp_path):
    sweep = tmp_path / "sweep.csv"
    subprocess.run([sys.executable, str(EXAMPLE / "make_sweep.py"), "--out", str(sweep)], check=True)
    out = _pytest(tmp_path, f"--scaling-import={sweep}", f"--scaling-columns={COLUMNS}",
                  f"--scaling-report={tmp_path / 'report'}")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    imported = report["imported"]
    assert (imported["runs"], imported["sizes"], imported["seeds"]) == (108, 6, 2)
    assert imported["trajectories"] == "assembled from final losses"
    verdicts = {c["name"]: c["verdict"] for c in report["claims"]}
    assert verdicts["test_frontier_loss_falls_with_compute"] == "confirmed"
    assert verdicts["test_compute_optimal_size_grows_sublinearly[isoflop]"] == "confirmed"
    # what the sweep lacks is named, not failed: dropout, an LR sweep, the engine's protocols
    assert "the imported sweep has no dropout: map a column with dropout=COLUMN" in out.stdout
    assert "the imported sweep has no LR sweep" in out.stdout


def test_a_missing_column_is_a_usage_error_naming_it(tmp_path):
    sweep = tmp_path / "sweep.csv"
    subprocess.run([sys.executable, str(EXAMPLE / "make_sweep.py"), "--out", str(sweep)], check=True)
    out = _pytest(tmp_path, f"--scaling-import={sweep}", "--scaling-columns=N=n_params D=tokens loss=eval_loss")
    assert out.returncode == 4, out.stdout[-2000:]
    assert "no column 'tokens' (D)" in out.stderr and "Traceback" not in out.stderr
