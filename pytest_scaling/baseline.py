"""Saved reports as baselines, compared like pytest-benchmark's ``--benchmark-save/compare``.

A baseline is a ``report.json`` stored as ``.scaling/NAME.json`` (a directory the user
can commit). Comparing matches claims by (name, quantity): the finding, not the test
file it lives in, so moving a claim between files keeps its history.
Fail rules (``--scaling-compare-fail``) say how far an estimate may move:
``gamma:0.05`` (absolute), ``gamma:10%`` (relative), ``*:0.1`` (every claim).

Baselines of any schema version up to :data:`~pytest_scaling.report.SCHEMA_VERSION` load; a
claim without an estimate (``estimate`` null: the budget could not decide it) compares as
"no estimate", with its reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_scaling.fileio import atomic_write
from pytest_scaling.report import SCHEMA_VERSION, VERDICT_STYLE, dumps_report, fmt_ci, fmt_num

DEFAULT_DIR = Path(".scaling")

_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


class BaselineError(ValueError):
    """A baseline that cannot be used: missing, unreadable, or from a newer schema.

    A ValueError, so callers that treat bad user input uniformly catch it too."""


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 200:
        raise ValueError(
            f"invalid baseline name {name!r}: use letters, digits, '-', '_' and '.' "
            "(not starting with '.'), e.g. 'main' or 'v0.2-gpu'"
        )
    return name


def check_name(name: str) -> str:
    """``name`` if it can name a baseline file (a trailing ``.json`` allowed); else ValueError with the rules."""
    return _check_name(name[:-5] if isinstance(name, str) and name.endswith(".json") else name)


def _path(name: str, directory: Path | str | None) -> Path:
    base = name[:-5] if name.endswith(".json") else name
    return Path(directory if directory is not None else DEFAULT_DIR) / f"{_check_name(base)}.json"


def available(directory: Path | str | None = None) -> list[str]:
    """Saved baseline names, oldest first (so ``available()[-1]`` is the latest)."""
    d = Path(directory if directory is not None else DEFAULT_DIR)
    if not d.is_dir():
        return []
    files = [p for p in d.glob("*.json") if _NAME.match(p.stem)]
    return [p.stem for p in sorted(files, key=lambda p: (p.stat().st_mtime, p.name))]


def save(report: Mapping, name: str, directory: Path | str | None = None) -> Path:
    """Store ``report`` as ``directory/NAME.json`` atomically (temp file + ``os.replace``)."""
    path = _path(name, directory)
    if not isinstance(report, Mapping) or not isinstance(report.get("claims"), list):
        raise ValueError("a baseline must be a report dict with a 'claims' list (from report.build_report_json)")
    atomic_write(path, dumps_report(report).encode("utf-8"))
    return path


def load(name: str, directory: Path | str | None = None) -> dict:
    """Read a saved baseline; the error says which baselines exist and how to make one."""
    directory = Path(directory if directory is not None else DEFAULT_DIR)
    path = _path(name, directory)
    if not path.is_file():
        names = available(directory)
        have = f"available baselines in {directory}: {', '.join(names)}" if names else \
            f"no baselines saved in {directory} yet"
        raise BaselineError(f"baseline {name!r} not found ({path}); {have}. "
                            "Save one with --scaling-save=NAME.")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {name!r} at {path} is unreadable ({exc}); "
                            "delete it or save it again with --scaling-save") from exc
    if not isinstance(report, dict) or not isinstance(report.get("claims"), list):
        raise BaselineError(f"baseline {name!r} at {path} is not a pytest-scaling report (no 'claims' list)")
    version = report.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise BaselineError(f"baseline {name!r} has schema_version {version!r}; this pytest-scaling reads "
                            f"<= {SCHEMA_VERSION}. Upgrade pytest-scaling or save the baseline again.")
    return report


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class Delta:
    """One claim's change between baseline and current. ``status``: both, added or removed."""

    name: str
    quantity: str
    status: str
    old: float | None = None
    new: float | None = None
    old_ci: tuple[float | None, float | None] | None = None
    new_ci: tuple[float | None, float | None] | None = None
    old_verdict: str | None = None
    new_verdict: str | None = None
    #: Why the current claim has no estimate (its record's reason), when it has none.
    new_reason: str | None = None

    @property
    def abs_change(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def rel_change(self) -> float | None:
        """(new − old)/|old|; None when old is 0 or either side is missing."""
        if self.abs_change is None or self.old == 0:
            return None
        return self.abs_change / abs(self.old)

    @property
    def ci_overlap(self) -> bool | None:
        """Whether the two CIs share any value; None when either is missing."""
        if not self.old_ci or not self.new_ci or None in self.old_ci or None in self.new_ci:
            return None
        return max(self.old_ci[0], self.new_ci[0]) <= min(self.old_ci[1], self.new_ci[1])

    @property
    def label(self) -> str:
        return f"{self.name} ({self.quantity})" if self.quantity else self.name


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _keyed(report: Mapping) -> dict[tuple[str, str], Mapping]:
    out: dict[tuple[str, str], Mapping] = {}
    for c in report.get("claims") or ():
        key = (str(c.get("name", c.get("nodeid", "?"))), str(c.get("quantity", "")))
        if key in out:  # the same finding twice (e.g. parametrized): tell them apart by node id
            key = (f"{key[0]} [{c.get('nodeid', len(out))}]", key[1])
        out[key] = c
    return out


def compare(current: Mapping, baseline: Mapping) -> list[Delta]:
    """Claims in both reports (in current order), then claims only in current, then only in baseline."""
    cur, old = _keyed(current), _keyed(baseline)

    def ci(c):
        return (_finite(c.get("ci_low")), _finite(c.get("ci_high")))

    def why(c):
        return (c.get("reason") or None) if _finite(c.get("estimate")) is None else None

    deltas = []
    for key, c in cur.items():
        b = old.get(key)
        if b is None:
            deltas.append(Delta(key[0], key[1], "added", new=_finite(c.get("estimate")), new_ci=ci(c),
                                new_verdict=c.get("verdict"), new_reason=why(c)))
        else:
            deltas.append(Delta(key[0], key[1], "both", old=_finite(b.get("estimate")), new=_finite(c.get("estimate")),
                                old_ci=ci(b), new_ci=ci(c), old_verdict=b.get("verdict"),
                                new_verdict=c.get("verdict"), new_reason=why(c)))
    for key, b in old.items():
        if key not in cur:
            deltas.append(Delta(key[0], key[1], "removed", old=_finite(b.get("estimate")), old_ci=ci(b),
                                old_verdict=b.get("verdict")))
    return deltas


# --------------------------------------------------------------------------- fail rules

#: Greek letters by name, so ``gamma:0.05`` matches a quantity written ``γ`` and vice versa.
_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
    "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω",
}

FAIL_EXPR_HELP = (
    "accepted forms: PATTERN:TOLERANCE, e.g. 'gamma:0.05' (estimate may move by at most 0.05), "
    "'gamma:10%' (at most 10% of the baseline value), '*:0.1' (every claim); PATTERN is a "
    "case-insensitive substring of the claim name or quantity (Greek names also match their symbol: "
    "gamma ↔ γ)"
)


@dataclass(frozen=True)
class FailRule:
    """How far matching estimates may move from the baseline before the session fails."""

    pattern: str  # "*" matches every claim
    tolerance: float
    relative: bool
    text: str = ""

    def _needles(self) -> set[str]:
        p = self.pattern.casefold()
        needles = {p}
        for word, symbol in _GREEK.items():
            if word in p:
                needles.add(p.replace(word, symbol))
            if symbol in p:
                needles.add(p.replace(symbol, word))
        return needles

    def matches(self, delta: Delta) -> bool:
        if self.pattern == "*":
            return True
        hay = f"{delta.name}\n{delta.quantity}".casefold()
        return any(n in hay for n in self._needles())

    def violated_by(self, delta: Delta) -> bool:
        """True when a claim in both reports moved more than allowed (or lost a finite estimate)."""
        if delta.status != "both" or delta.old is None:
            return False
        if delta.new is None:
            return True
        if self.relative:
            if delta.old == 0:
                return delta.new != 0
            return abs(delta.rel_change) > self.tolerance / 100.0
        return abs(delta.abs_change) > self.tolerance

    def __str__(self) -> str:
        return self.text or f"{self.pattern}:{fmt_num(self.tolerance)}{'%' if self.relative else ''}"


def parse_fail_expr(text: str) -> FailRule:
    """``PATTERN:TOL`` or ``PATTERN:TOL%`` → :class:`FailRule`; ValueError shows the accepted forms."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"invalid --scaling-compare-fail expression {text!r}; {FAIL_EXPR_HELP}")
    pattern, _, tol = text.strip().rpartition(":")
    pattern, tol = pattern.strip(), tol.strip()
    relative = tol.endswith("%")
    number = tol[:-1].strip() if relative else tol
    try:
        tolerance = float(number)
    except ValueError:
        tolerance = float("nan")
    if not pattern or not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"invalid --scaling-compare-fail expression {text!r}; {FAIL_EXPR_HELP}")
    return FailRule(pattern=pattern, tolerance=tolerance, relative=relative, text=text.strip())


def violations(deltas: Iterable[Delta], rules: Sequence[FailRule]) -> list[str]:
    """One line per (claim, rule) whose tolerance was exceeded, saying by how much."""
    lines = []
    for d in deltas:
        for rule in rules:
            if rule.matches(d) and rule.violated_by(d):
                if d.new is None:
                    why = f": {d.new_reason}" if d.new_reason else ""
                    lines.append(f"{d.label}: estimate {fmt_num(d.old)} in the baseline, none now{why} (rule {rule})")
                    continue
                rel = "" if d.rel_change is None else f", {d.rel_change * 100:+.1f}%"
                lines.append(f"{d.label}: {fmt_num(d.old)} -> {fmt_num(d.new)} "
                             f"({d.abs_change:+.3g}{rel}) exceeds {rule}")
    return lines


def _comparison_cells(d: Delta) -> tuple[str, str, str, str]:
    change = "-"
    if d.abs_change is not None:
        change = f"{d.abs_change:+.3g}" + ("" if d.rel_change is None else f" ({d.rel_change * 100:+.1f}%)")
    elif d.status != "both":
        change = d.status
    def cell(value, ci, present):
        if not present:
            return "-"
        if value is None and (ci is None or ci == (None, None)):
            return "no estimate"
        return fmt_num(value) + ("" if ci is None else f"\n{fmt_ci(*ci)}")

    old = cell(d.old, d.old_ci, d.status != "added")
    new = cell(d.new, d.new_ci, d.status != "removed")
    return old, new, change, {True: "yes", False: "no", None: "-"}[d.ci_overlap]


def _verdict_text(d: Delta, color: bool):
    from rich.text import Text

    verdict = Text(str(d.old_verdict or "-"))
    if d.new_verdict != d.old_verdict:
        verdict.append(" -> ")
        verdict.append(str(d.new_verdict or "-"), style=VERDICT_STYLE.get(d.new_verdict, "") if color else "")
    return verdict


#: What a report says it ran on; a baseline saved on other settings is still compared, with them named.
SETTINGS = ("budget", "dataset", "device", "precision", "torch")


def setting_changes(current: Mapping, baseline: Mapping) -> list[str]:
    """``precision fp32 → bf16``, one per setting both reports name and that differs."""
    return [f"{key} {baseline[key]} → {current[key]}" for key in SETTINGS
            if current.get(key) and baseline.get(key) and current[key] != baseline[key]]


def render_comparison(deltas: Sequence[Delta], *, width: int, color: bool,
                      baseline_name: str | None = None, changes: Sequence[str] = ()) -> str:
    """A rich table of old vs new estimates, rendered to a string for pytest's terminal reporter.
    ``changes``: the settings that differ from the baseline's (:func:`setting_changes`), named first."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from pytest_scaling.report import _make_console, _plain_box

    console = _make_console(max(int(width), 20), color)
    console.print(Text(f"pytest-scaling · compared with baseline {baseline_name}" if baseline_name
                       else "pytest-scaling · compared with baseline", style="bold" if color else ""))
    if changes:
        note = ("; claims/test_precision.py bounds what precision moves"
                if any(c.startswith("precision ") for c in changes) else "")
        console.print(Text(f"settings differ from the baseline: {'; '.join(changes)}{note}"))
    if not deltas:
        console.print(Text("no claims to compare"))
        return console.file.getvalue().rstrip(" ")
    rows = [_comparison_cells(d) for d in deltas]
    if width < 90:  # too narrow for seven columns: one short block per claim, nothing cut off
        from rich.padding import Padding

        for d, (old, new, change, overlap) in zip(deltas, rows):
            console.print(Text(d.label))
            line = Text(f"{old.replace(chr(10), ' ')} -> {new.replace(chr(10), ' ')}; {change}; "
                        f"CIs overlap {overlap}; ")
            line.append_text(_verdict_text(d, color))
            console.print(Padding(line, (0, 0, 0, 2)))
        return "\n".join(line.rstrip(" ") for line in console.file.getvalue().split("\n"))
    table = Table(box=box.SIMPLE_HEAD if color else _plain_box(), show_edge=False, pad_edge=False,
                  collapse_padding=True, header_style="bold" if color else "")
    for h in ("claim", "quantity", "baseline", "now", "change", "CIs overlap", "verdict"):
        table.add_column(h, overflow="fold", justify="right" if h in ("baseline", "now", "change") else "left")
    for d, (old, new, change, overlap) in zip(deltas, rows):
        table.add_row(
            Text(d.name), Text(d.quantity), Text(old), Text(new), Text(change),
            Text(overlap, style=("red" if d.ci_overlap is False else "") if color else ""), _verdict_text(d, color),
        )
    console.print(table)
    return "\n".join(line.rstrip(" ") for line in console.file.getvalue().split("\n"))
