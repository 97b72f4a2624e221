"""Formatting shared by every view: numbers, CIs, durations, windows, the design lines and record access."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Bump when a key of report.json changes meaning or disappears (adding keys is fine).
#: 2: a claim's ``estimate``/``ci_low``/``ci_high`` may be null for a claim the budget could not
#: estimate (verdict inconclusive, ``reason`` says why); claims carry ``window`` and ``to_decide``;
#: top-level ``design``. Baselines of version 1 still load (``baseline.load`` reads ≤ this).
SCHEMA_VERSION = 2

#: Keys every claim object in report.json carries (the record may add more).
CLAIM_KEYS = ("name", "quantity", "estimate", "ci_low", "ci_high", "confidence", "expected", "verdict", "runs",
              "reason", "window", "to_decide")

#: Shown for a number a claim does not have (no estimate, no CI).
NO_VALUE = "—"

#: Packages whose versions decide results; read from metadata so nothing heavy is imported.
VERSIONED_PACKAGES = ("pytest-scaling", "torch", "numpy", "scipy", "statsmodels", "pytest", "matplotlib", "rich")

VERDICT_STYLE = {"confirmed": "green", "refuted": "red", "inconclusive": "yellow"}

_CHANCE_LOSS = math.log(10.0)


def fmt_num(x: Any, digits: int = 3) -> str:
    """3 significant digits, compact exponent (``3.2e14``); ``-`` for missing or non-finite."""
    if x is None:
        return "-"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    s = f"{v:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp)}"
    return s


def fmt_ci(low: Any, high: Any) -> str:
    if low is None and high is None:
        return "-"
    return f"[{fmt_num(low)}, {fmt_num(high)}]"


def fmt_duration(seconds: Any) -> str:
    """``0.8s``, ``41s``, ``1m41s``, ``2h03m``: what a person reads at a glance."""
    if seconds is None:
        return "-"
    s = float(seconds)
    if not math.isfinite(s):
        return "-"
    if s < 10:
        return f"{s:.1f}s"
    if s < 60:
        return f"{s:.0f}s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def window_of(value: Any) -> tuple[float, float] | None:
    """``[C_lo, C_hi]`` as a float pair, or None when absent or malformed."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    try:
        lo, hi = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi else None


def fmt_window(value: Any) -> str | None:
    """``2.1e9–6.1e9 FLOPs`` for a window, None without one."""
    w = window_of(value)
    return None if w is None else f"{fmt_num(w[0], 2)}–{fmt_num(w[1], 2)} FLOPs"


def design_of(meta: Mapping | None) -> dict | None:
    """``meta["design"]`` as a plain dict (a ``Design`` object is turned into its ``to_dict()``)."""
    d = meta.get("design") if isinstance(meta, Mapping) else None
    if d is not None and not isinstance(d, Mapping) and hasattr(d, "to_dict"):
        d = d.to_dict()
    return dict(d) if isinstance(d, Mapping) else None


def design_lines(design: Mapping | None) -> list[str]:
    """The design in plain words: its ``summary`` lines, or the window when it has none."""
    if not design:
        return []
    lines = [str(s) for s in design.get("summary") or () if s]
    if not lines:
        w = fmt_window(design.get("window"))
        lines.append(f"compute-limited window {w}" if w else "no compute-limited window")
    return lines


def has_estimate(record: Mapping) -> bool:
    """False for a claim the budget could not estimate (``estimate`` None)."""
    return record.get("estimate") is not None


def as_record(record: Any) -> dict:
    """Accept a dict, an object with ``to_dict()`` or a dataclass, so the plugin can pass either."""
    if isinstance(record, Mapping):
        return dict(record)
    if hasattr(record, "to_dict"):
        return dict(record.to_dict())
    if dataclasses.is_dataclass(record):
        return dataclasses.asdict(record)
    raise TypeError(f"cannot turn {type(record).__name__} into a claim record")


def holm_verdict(record: Mapping) -> str | None:
    """The family-wise (Holm) verdict, under either key the claims layer may use."""
    v = record.get("holm_verdict")
    return v if v is not None else record.get("adjusted_verdict")


def _records(records: Iterable[Any] | None) -> list[dict]:
    return [as_record(r) for r in (records or ())]


def short_name(record: Mapping) -> str:
    """A claim's name as people say it: the test name without ``test_``, parameters kept."""
    name = str(record.get("name") or record.get("nodeid") or "?")
    return name.removeprefix("test_") or name


def _header_line(meta: Mapping) -> str:
    parts = ["pytest-scaling"]
    if meta.get("budget"):
        parts.append(f"budget {meta['budget']}")
    for key in ("dataset", "device", "precision"):
        if meta.get(key):
            parts.append(str(meta[key]))
    if meta.get("torch"):
        parts.append(f"torch {meta['torch']}")
    return " · ".join(parts)


def totals_parts(meta: Mapping) -> list[str]:
    """The pieces of :func:`totals_line`, for layouts that wrap between them."""
    parts = []
    if meta.get("runs_total") is not None:
        counts = [f"{meta.get('runs_trained', 0)} trained", f"{meta.get('runs_cached', 0)} cached"]
        if meta.get("runs_missing"):
            counts.append(f"{meta['runs_missing']} missing")
        parts.append(f"{meta['runs_total']} runs ({', '.join(counts)})")
    if meta.get("total_compute_flops") is not None:
        parts.append(f"training compute {fmt_num(meta['total_compute_flops'], 2)} FLOPs")
    # Two training times exist; say which. Worker time is what training cost (N workers: ~N× the
    # wall time); the runs' own times, summed, count a chain's shared start once per run.
    if meta.get("spent_seconds") is not None:
        parts.append(f"training {fmt_duration(meta['spent_seconds'])} of worker time")
    elif meta.get("train_seconds") is not None:
        parts.append(f"runs' training times summed {fmt_duration(meta['train_seconds'])}")
    if meta.get("wall_seconds") is not None:
        parts.append(f"wall {fmt_duration(meta['wall_seconds'])}")
    return parts


def totals_line(meta: Mapping) -> str:
    """Runs (trained/cached), training compute and time, wall time — the cost of the verdicts."""
    return " · ".join(totals_parts(meta))


def _verdict_counts(records: Sequence[Mapping]) -> dict:
    counts = {"confirmed": 0, "refuted": 0, "inconclusive": 0}
    for r in records:
        v = r.get("verdict")
        counts[v] = counts.get(v, 0) + 1
    return counts
