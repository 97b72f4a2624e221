"""report.json: the claims, the session meta, versions and machine facts as plain JSON."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

import numpy as np

from pytest_scaling.report.format import (
    CLAIM_KEYS,
    SCHEMA_VERSION,
    VERSIONED_PACKAGES,
    _records,
    _verdict_counts,
    design_of,
)
from pytest_scaling.runs import RunTable


def _jsonable(x: Any) -> Any:
    """Strict JSON: numpy → Python, non-finite floats → None (``NaN`` is not JSON)."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, Path):
        return str(x)
    if x is None or isinstance(x, (str, int)):
        return x
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return _jsonable(dataclasses.asdict(x))
    return str(x)


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name.replace("-", "_")] = None
    return out


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
    }


def git_commit(cwd: str | Path | None = None, timeout: float = 5.0) -> str | None:
    """HEAD of the repository containing ``cwd``, or None without git / outside a repo."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd or os.getcwd(), capture_output=True, text=True,
            timeout=timeout, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) >= 40 else None


def runs_summary(runs: RunTable | None) -> dict | None:
    """What the verdicts rest on, compactly: counts and the grid's axes."""
    if runs is None:
        return None
    ok = np.array([r.ok for r in runs], dtype=bool)
    col = runs.column

    def axis(name):
        return sorted(set(col(name).tolist())) if len(runs) else []

    def counts(name, kind):
        return {kind(v): int(n) for v, n in zip(*np.unique(col(name), return_counts=True))} if len(runs) else {}

    return {
        "count": len(runs),
        "usable": int(ok.sum()),
        "diverged": int(sum(r.diverged for r in runs)),
        "collapsed": int(sum(r.collapsed for r in runs)),
        "widths": axis("width"),
        "fractions": axis("fraction"),
        "seeds": axis("seed"),
        "dropouts": axis("dropout"),
        "lr_mults": axis("lr_mult"),
        "lr_scales": axis("lr_scale"),
        # the training protocols, with how many runs each (every run's own are in runs.csv)
        "schedules": counts("schedule", str),
        "epochs": counts("epochs", int),
        "precisions": counts("precision", str),
        # where each run's training examples came from: the base images only, or past them a deformed stream
        "data_sources": _data_sources(runs),
        "total_flops": float(col("flops").sum()) if len(runs) else 0.0,
    }


def _data_sources(runs: RunTable) -> dict:
    """Runs per data source: "base images" (fraction ≤ 1: the training split itself) or the deformed stream's
    key (fraction > 1: the split, then deformed copies of it — not i.i.d. fresh images)."""
    out: dict[str, int] = {}
    for r in runs:
        source = getattr(r.spec, "stream", "") or "base images"
        out[source] = out.get(source, 0) + 1
    return out


def build_report_json(records: Iterable[Any], meta: Mapping, runs: RunTable | None) -> dict:
    """Everything needed to judge or reproduce the verdicts later, as strict-JSON-able data."""
    records = _records(records)
    claims = []
    for r in records:
        claim = {k: r.get(k) for k in CLAIM_KEYS}
        claim.update({k: v for k, v in r.items() if k not in claim})
        claim["reason"] = claim.get("reason") or ""
        claim["to_decide"] = claim.get("to_decide") or ""
        claims.append(claim)
    totals = {
        k: meta.get(k)
        for k in ("runs_total", "runs_cached", "runs_trained", "train_seconds", "spent_seconds", "total_compute_flops",
                  "wall_seconds")
    }
    totals["claims"] = len(records)
    totals.update(_verdict_counts(records))
    report = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "budget": meta.get("budget"),
        "dataset": meta.get("dataset"),
        "device": meta.get("device"),
        "precision": meta.get("precision"),
        "torch": meta.get("torch"),
        "cache_dir": meta.get("cache_dir"),
        "machine": machine_info(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "totals": totals,
        "runs": runs_summary(runs),
        "design": design_of(meta),
        "family_wise": family_wise_of(records),
        "claims": claims,
    }
    if meta.get("trainer"):  # who trained the runs: name, version, whether it is the built-in CNN engine
        report["trainer"] = dict(meta["trainer"])
    if meta.get("imported"):  # runs of another family, read from a file: what was read and assumed
        report["imported"] = dict(meta["imported"])
    return _jsonable(report)


_POLICY_WORDS = {"finding": "Holm within each finding (the claims of one module), Bonferroni at test time",
                 "session": "Holm over every claim of the session, Bonferroni at test time",
                 "none": "none: each claim at the nominal level"}


def family_wise_of(records: list[Mapping]) -> dict | None:
    """The family-wise policy the records were judged under, in words, with each finding's family size."""
    policies = {(r.get("details") or {}).get("family_policy") for r in records} - {None}
    if not policies:
        return None
    policy = policies.pop() if len(policies) == 1 else "mixed"
    families = {}
    for r in records:
        fam = str(r.get("nodeid") or "").split("::", 1)[0]
        families[fam] = (r.get("details") or {}).get("family_size")
    return {"policy": policy, "words": _POLICY_WORDS.get(policy, policy), "family_sizes": families,
            "deep_tails": "an interval end with fewer than 10 resamples beyond it is the 95% percentile end scaled "
                          "by z_level/z_0.95 about the estimate (claims.MIN_TAIL)"}


def dumps_report(report: Mapping) -> str:
    return json.dumps(_jsonable(report), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
