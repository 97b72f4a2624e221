"""The reporting layer: terminal table, ``report.json``, PNG plots and ``index.html``.

Everything here consumes plain claim-record dicts (the keys of ``ClaimRecord.to_dict()``),
the session ``meta`` dict from the plugin and a :class:`~pytest_scaling.runs.RunTable`,
so it can be tested on synthetic data and never depends on how runs were trained.

Plots use :class:`matplotlib.figure.Figure` directly (never ``pyplot``): no global
backend switch, no global figure registry, safe under xdist and inside a user's
own matplotlib session.

Record ``details`` keys that the plots understand (all optional):

``details["nopt_points"]``
    ``{approach: [[C, N_opt], ...]}`` for the N_opt-vs-C plot, e.g. approaches
    ``"envelope"``, ``"isoflop"``, ``"parametric"``.
``details["nopt_fits"]``
    ``{approach: {"slope": γ, "prefactor": k}}`` (N_opt = k·C^γ); when an approach
    has points but no fit, the plot fits a power law to its points.
``details["lr_optima"]``
    ``{width: lr_mult_star}`` (keys may be strings after a JSON round trip; a value
    may also be ``[star, low, high]``) for the LR-sweep plot.
``details["E"]``, ``details["A"]`` with the estimate α
    on the record of ``test_saturating_form_has_a_positive_exponent`` (quantity
    ``α in L = E + A·C^−α``): the saturating fit drawn on the compute-vs-loss plot
    (refitted on the plotted frontier when no such record exists).

Record keys ``window`` (``[C_lo, C_hi]``, the compute range the estimate used, or None
for every run) and ``to_decide`` (inconclusive only: the smallest change that would
decide the claim) are shown per claim. A record with ``estimate`` None is a claim this
budget could not estimate at all: it is inconclusive, ``reason`` says why, and every
view shows "—" for its numbers.

``meta["design"]`` (None, a dict from ``estimators.design.Design.to_dict()``, or a
``Design``) is the design diagnosis of the main grid: the compute-limited window, which
edge of the grid binds each frontier point, and plain-language ``summary`` lines. It is
copied to report.json (``design``), summarised in the terminal and the HTML, and drawn
on the plots (the window shaded, frontier points marked by binding).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import io
import json
import math
import os
import platform
import subprocess
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from pytest_scaling.fileio import atomic_write

from pytest_scaling.runs import RunTable

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


# --------------------------------------------------------------------------- formatting


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


def _header_line(meta: Mapping) -> str:
    parts = ["pytest-scaling"]
    if meta.get("budget"):
        parts.append(f"budget {meta['budget']}")
    for key in ("dataset", "device"):
        if meta.get(key):
            parts.append(str(meta[key]))
    return " · ".join(parts)


def totals_line(meta: Mapping) -> str:
    """Runs (trained/cached), training compute and time, wall time — the cost of the verdicts."""
    parts = []
    if meta.get("runs_total") is not None:
        parts.append(
            f"{meta['runs_total']} runs ({meta.get('runs_trained', 0)} trained, {meta.get('runs_cached', 0)} cached)"
        )
    if meta.get("total_compute_flops") is not None:
        parts.append(f"training compute {fmt_num(meta['total_compute_flops'], 2)} FLOPs")
    if meta.get("train_seconds") is not None:
        parts.append(f"training {fmt_duration(meta['train_seconds'])}")
    if meta.get("wall_seconds") is not None:
        parts.append(f"wall {fmt_duration(meta['wall_seconds'])}")
    return " · ".join(parts)


def _verdict_counts(records: Sequence[Mapping]) -> dict:
    counts = {"confirmed": 0, "refuted": 0, "inconclusive": 0}
    for r in records:
        v = r.get("verdict")
        counts[v] = counts.get(v, 0) + 1
    return counts


# --------------------------------------------------------------------------- terminal


def _make_console(width: int, color: bool):
    from rich.console import Console

    return Console(
        file=io.StringIO(), width=width, force_terminal=color, color_system="standard" if color else None,
        no_color=not color, highlight=False, emoji=False, markup=False, legacy_windows=False,
        force_jupyter=False, force_interactive=False,
    )


#: A ruled header without vertical lines (like DESIGN §1), in ASCII for non-terminals.
def _plain_box():
    from rich.box import Box

    return Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


def _summary_rows(records: Sequence[Mapping]) -> tuple[list[str], list[list[str]]]:
    """Header and cell strings shared by the table and the stacked layout."""
    levels = {r.get("confidence") for r in records}
    single_level = len(levels) == 1 and None not in levels
    ci_header = f"{fmt_num(100 * float(next(iter(levels))))}% CI" if single_level else "CI"
    holm = any(holm_verdict(r) is not None for r in records)
    header = ["claim", "quantity", "estimate", ci_header, "expected", "verdict"] + (["Holm"] if holm else []) + ["runs"]
    rows = []
    for r in records:
        name = str(r.get("name", r.get("nodeid", "?")))
        if r.get("ci_low") is None and r.get("ci_high") is None:
            ci = NO_VALUE
        else:
            ci = fmt_ci(r.get("ci_low"), r.get("ci_high"))
            if not single_level and r.get("confidence") is not None:
                ci += f" ({fmt_num(100 * float(r['confidence']))}%)"
        if has_estimate(r):
            quantity, estimate, runs = str(r.get("quantity", "")), fmt_num(r.get("estimate")), r.get("runs")
        else:  # the budget could not estimate it: no number, no runs used
            quantity = str(r.get("quantity") or "")
            quantity = NO_VALUE if quantity in ("", name) else quantity
            estimate, runs = NO_VALUE, r.get("runs") or None
        row = [name, quantity, estimate, ci, str(r.get("expected") or NO_VALUE), str(r.get("verdict", "?"))]
        if holm:
            row.append("-" if holm_verdict(r) is None else str(holm_verdict(r)))
        row.append(NO_VALUE if runs is None else str(runs))
        rows.append(row)
    return header, rows


def undecided(records: Sequence[Mapping]) -> list[Mapping]:
    """Inconclusive claims that say why (``reason``) or what would decide them (``to_decide``)."""
    return [r for r in records if r.get("verdict") == "inconclusive" and (r.get("reason") or r.get("to_decide"))]


#: Columns that may wrap; the others (numbers, CI, verdicts) must stay on one line.
_WRAPPING = {"claim", "quantity", "expected"}
_MIN_WRAP = 8


def render_summary(records: Iterable[Any], meta: Mapping, *, width: int, color: bool) -> str:
    """The session's claims as one table, rendered to a string for pytest's terminal reporter.

    Numbers, CIs and verdicts never wrap; names and descriptions do. When even that
    does not fit ``width``, each claim becomes a short block of lines instead, so a
    verdict is never cut off. All text goes in as :class:`rich.text.Text`, so claim
    names with ``[brackets]`` are not read as rich markup. Without colour the rules are
    ASCII, because the reporter may be writing to a file or a CI log.
    """
    from rich import box
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    records = _records(records)
    width = max(int(width), 20)
    console = _make_console(width, color)

    def styled(text: str, column: str) -> Text:
        if color and column in ("verdict", "Holm"):
            return Text(text, style=VERDICT_STYLE.get(text, ""))
        return Text(text)

    console.print(Text(_header_line(meta), style="bold" if color else ""))
    if not records:
        console.print(Text("no scaling claims ran"))
    else:
        header, rows = _summary_rows(records)
        fixed = sum(
            max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header) if h not in _WRAPPING
        )
        needed = fixed + _MIN_WRAP * sum(h in _WRAPPING for h in header) + 2 * (len(header) - 1)
        if needed <= width:
            table = Table(
                box=box.SIMPLE_HEAD if color else _plain_box(), show_edge=False, pad_edge=False,
                header_style="bold" if color else "", expand=False, safe_box=True, collapse_padding=True,
            )
            for h in header:
                wraps = h in _WRAPPING
                table.add_column(
                    h, overflow="fold", no_wrap=not wraps, min_width=_MIN_WRAP if wraps else None,
                    justify="right" if h in ("estimate", "runs") else "left",
                )
            for row in rows:
                table.add_row(*(styled(cell, h) for cell, h in zip(row, header)))
            console.print(table)
        else:
            for row in rows:
                cell = dict(zip(header, row))
                line = Text(cell["claim"] + ": ")
                line.append_text(styled(cell["verdict"], "verdict"))
                if "Holm" in cell:
                    line.append(" (Holm: ")
                    line.append_text(styled(cell["Holm"], "Holm"))
                    line.append(")")
                console.print(line)
                if cell["estimate"] == NO_VALUE:
                    detail = ("" if cell["quantity"] == NO_VALUE else f"{cell['quantity']}: ") + \
                        "no estimate (cause below)"
                else:
                    detail = (f"{cell['quantity']} = {cell['estimate']} {header[3]} {cell[header[3]]}; "
                              f"expected {cell['expected']}; {cell['runs']} runs")
                console.print(Padding(Text(detail), (0, 0, 0, 2)))
        counts = _verdict_counts(records)
        console.print(Text(", ".join(f"{n} {v}" for v, n in counts.items() if n or v in VERDICT_STYLE)))
        _print_design(console, design_of(meta), color)
        _print_undecided(console, records, color)
    totals = totals_line(meta)
    if totals:
        console.print(Text(totals))
    return "\n".join(line.rstrip(" ") for line in console.file.getvalue().split("\n"))


def _print_design(console, design: Mapping | None, color: bool) -> None:
    """The design section: the compute-limited window and which edge of the grid binds where."""
    from rich.padding import Padding
    from rich.text import Text

    lines = design_lines(design)
    if not lines:
        return
    console.print(Text("design (main grid, dropout 0):", style="bold" if color else ""))
    for line in lines:
        console.print(Padding(Text(line), (0, 0, 0, 2)))


def _print_undecided(console, records: Sequence[Mapping], color: bool) -> None:
    """Each undecided claim's cause and the smallest change that would decide it."""
    from rich.padding import Padding
    from rich.text import Text

    todo = undecided(records)
    if not todo:
        return
    console.print(Text("undecided claims: cause, and what would decide them", style="bold" if color else ""))
    for r in todo:
        head = Text(str(r.get("name", r.get("nodeid", "?"))) + (":" if r.get("reason") else ""))
        if r.get("reason"):
            head.append(" " + str(r["reason"]))
        console.print(Padding(head, (0, 0, 0, 2)))
        if r.get("to_decide"):
            line = Text("to decide: ", style="bold" if color else "")
            line.append(str(r["to_decide"]))
            console.print(Padding(line, (0, 0, 0, 4)))


# --------------------------------------------------------------------------- JSON


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
        "total_flops": float(col("flops").sum()) if len(runs) else 0.0,
    }


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
        for k in ("runs_total", "runs_cached", "runs_trained", "train_seconds", "total_compute_flops", "wall_seconds")
    }
    totals["claims"] = len(records)
    totals.update(_verdict_counts(records))
    report = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "budget": meta.get("budget"),
        "dataset": meta.get("dataset"),
        "device": meta.get("device"),
        "cache_dir": meta.get("cache_dir"),
        "machine": machine_info(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "totals": totals,
        "runs": runs_summary(runs),
        "design": design_of(meta),
        "claims": claims,
    }
    return _jsonable(report)


def dumps_report(report: Mapping) -> str:
    return json.dumps(_jsonable(report), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- frontier (via fits)


def _fit_functions() -> tuple[Callable, Callable]:
    """``fits.frontier`` and ``fits.fit_power_law`` — the same code the claims use."""
    from pytest_scaling import fits

    return fits.frontier, fits.fit_power_law


def _power_law_line(fit, xs: np.ndarray) -> np.ndarray:
    return np.asarray(fit.predict(np.asarray(xs, dtype=float)), dtype=float)


@dataclasses.dataclass(frozen=True)
class Frontier:
    """Seed-averaged configs, which of them form the lower envelope, and its power-law fit."""

    compute: np.ndarray  # per config (mean over seeds)
    value: np.ndarray  # per config (mean over seeds)
    width: np.ndarray
    index: np.ndarray  # frontier configs, sorted by compute
    fit: Any  # fits.fit_power_law result, or None with < 3 frontier points


def config_means(runs: RunTable, value: str = "val_loss") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean compute and ``value`` per (width, fraction, dropout, lr) config: the frontier is over
    configs, not single seeds, so one lucky seed cannot define it."""
    groups: dict[tuple, list] = {}
    for r in runs:
        s = r.spec
        groups.setdefault((s.width, s.fraction, s.dropout, s.lr_mult, s.lr_scale, s.batch_size), []).append(r)
    compute, val, width = [], [], []
    for key, rs in sorted(groups.items()):
        compute.append(np.mean([r.flops for r in rs]))
        val.append(np.mean([r.row()[value] if value != "val_err" else 1.0 - r.val_acc for r in rs]))
        width.append(key[0])
    return np.asarray(compute, float), np.asarray(val, float), np.asarray(width, int)


def frontier_of(runs: RunTable, value: str = "val_loss") -> Frontier | None:
    compute, val, width = config_means(runs, value)
    keep = np.isfinite(val) & (val > 0) & (compute > 0)
    compute, val, width = compute[keep], val[keep], width[keep]
    if len(compute) < 2:
        return None
    frontier, fit_power_law = _fit_functions()
    idx = np.asarray(frontier(compute, val), dtype=int)
    fit = fit_power_law(compute[idx], val[idx]) if len(idx) >= 3 else None
    return Frontier(compute, val, width, idx, fit)


def main_grid(runs: RunTable, dropout: float | None = 0.0) -> RunTable:
    """Usable runs at the default LR (lr_mult 1); the LR sweep is plotted on its own.

    A width trained at lr_mult 1 at a single data fraction only is the LR sweep's
    centre point, not part of the main grid (a lone point that would bend the frontier).
    """
    runs = runs.usable().where(lr_mult=1.0)
    fractions: dict[int, set] = {}
    for r in runs:
        fractions.setdefault(r.spec.width, set()).add(r.spec.fraction)
    sweep_only = {w for w, f in fractions.items() if len(f) < 2} if len(fractions) > 1 else set()
    if sweep_only and len(sweep_only) < len(fractions):
        runs = RunTable(r for r in runs if r.spec.width not in sweep_only)
    return runs.where(dropout=dropout) if dropout is not None else runs


# --------------------------------------------------------------------------- plots


def _figure(size=(7.0, 5.0)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.11, top=0.92)
    return fig, fig.add_subplot()


def _width_colors(widths: np.ndarray):
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm, Normalize

    lo, hi = float(np.min(widths)), float(np.max(widths))
    norm = LogNorm(vmin=lo, vmax=hi) if hi > lo and lo > 0 else Normalize(vmin=lo - 1, vmax=hi + 1)
    return ScalarMappable(norm=norm, cmap=colormaps["viridis"])


def _width_colorbar(fig, ax, sm, widths) -> None:
    """Colour bar labelled with the widths actually present (not 3×10^1)."""
    ticks = sorted(set(np.asarray(widths).tolist()))
    cb = fig.colorbar(sm, ax=ax, label="width", fraction=0.05, pad=0.02)
    cb.ax.minorticks_off()
    cb.set_ticks(ticks)
    cb.set_ticklabels([str(int(t)) for t in ticks])


def _readable_log_axes(ax) -> None:
    """Plain decimals on a log y axis spanning less than ~1.5 decades (losses, error rates)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo < 30:
        fmt = FuncFormatter(lambda v, _: f"{v:.3g}")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt if hi / lo < 10 else NullFormatter())


def _draw_frontier(ax, fr: Frontier, *, color: str, label: str, gid: str, fit_label: str) -> None:
    x, y = fr.compute[fr.index], fr.value[fr.index]
    ax.plot(x, y, "-o", color=color, lw=1.5, ms=4, label=label, gid=gid, zorder=4)
    if fr.fit is not None:
        xs = np.geomspace(x.min(), x.max(), 50)
        ax.plot(xs, _power_law_line(fr.fit, xs), "--", color=color, lw=1.2, alpha=0.9,
                label=f"{fit_label} ∝ C^{fr.fit.slope:.3f}", gid=gid + "-fit", zorder=5)


#: How a frontier point is marked by the edge of the grid that binds it: (marker, colour, legend words).
BINDING_STYLE = {
    "interior": ("o", "#2ca02c", "interior (no edge binds)"),
    "data_cap": ("s", "#d62728", "data cap (all the data)"),
    "smallest_width": ("v", "#1f77b4", "smallest width"),
    "largest_width": ("^", "#9467bd", "largest width"),
    "smallest_fraction": ("D", "#ff7f0e", "smallest fraction"),
}

#: The claim whose record carries the saturating fit (details E, A; the estimate is α).
SATURATING_CLAIM = "test_saturating_form_has_a_positive_exponent"
SATURATING_QUANTITY = "α in L = E + A·C^−α"


def _shade_window(ax, window: Any, design: Mapping | None = None) -> bool:
    """Shade [C_lo, C_hi] (labelled); True when drawn. The label says when it is too narrow to decide."""
    w = window_of(window)
    if w is None:
        return False
    label = "compute-limited window"
    if design is not None and design.get("window_decides") is False and window_of(design.get("window")) == w:
        label += " (too narrow to decide)"
    ax.axvspan(w[0], w[1], color="#f4b942", alpha=0.18, lw=0, label=label, gid="window", zorder=0)
    return True


def _mark_bindings(ax, design: Mapping | None) -> int:
    """Design frontier points, one marker and colour per binding edge; returns the points drawn."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for p in (design or {}).get("frontier") or ():
        try:
            c, loss = float(p["compute"]), float(p["loss"])
        except (KeyError, TypeError, ValueError):
            continue
        if c > 0 and loss > 0 and math.isfinite(c) and math.isfinite(loss):
            groups.setdefault(str(p.get("binding", "?")), []).append((c, loss))
    order = list(BINDING_STYLE) + sorted(set(groups) - set(BINDING_STYLE))
    for b in order:
        if b not in groups:
            continue
        marker, color, words = BINDING_STYLE.get(b, ("X", "0.5", b))
        xy = np.asarray(groups[b])
        ax.scatter(xy[:, 0], xy[:, 1], marker=marker, s=34, facecolor=color, edgecolor="black", linewidths=0.5,
                   label=f"frontier: {words}", gid=f"binding-{b}", zorder=6)
    return sum(len(v) for v in groups.values())


def saturating_params(records: Sequence[Mapping], fr: Frontier | None = None) -> tuple[float, float, float, str] | None:
    """(E, A, α, source) of L = E + A·C^−α: from the saturating claim's record, else refitted on the
    frontier ``fr`` with ``fits.fit_saturating`` (source "refit"); None when neither works."""
    for r in records:
        named = SATURATING_CLAIM in str(r.get("name", "")) or SATURATING_CLAIM in str(r.get("nodeid", ""))
        if not (named or str(r.get("quantity", "")).startswith(SATURATING_QUANTITY)):
            continue
        d = r.get("details") or {}
        try:
            E, A, alpha = float(d["E"]), float(d["A"]), float(r["estimate"])
        except (KeyError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in (E, A, alpha)) and A > 0:
            return E, A, alpha, "claim"
    if fr is None or len(fr.index) < 4:
        return None
    from pytest_scaling import fits
    from pytest_scaling.errors import FitError

    try:
        f = fits.fit_saturating(fr.compute[fr.index], fr.value[fr.index])
    except (FitError, ValueError, FloatingPointError):
        return None
    return f.E, f.A, f.alpha, "refit"


def plot_compute_loss(runs: RunTable, records: Sequence[Mapping] = (), design: Mapping | None = None) -> Any | None:
    """(a) The exercise's main figure: every usable run, the frontier of seed-averaged configs, its
    power-law fit and the saturating fit L = E + A·C^−α; with a design, the compute-limited window
    shaded and the frontier points marked by the edge of the grid that binds them."""
    grid = main_grid(runs)
    fr = frontier_of(grid)
    if fr is None:
        return None
    fig, ax = _figure()
    _shade_window(ax, (design or {}).get("window"), design)
    sm = _width_colors(grid.column("width"))
    ax.scatter(grid.column("flops"), grid.column("val_loss"), c=sm.to_rgba(grid.column("width")), s=14,
               alpha=0.7, edgecolors="none", gid="runs")
    window = (design or {}).get("window")
    if window:  # the claims' power law holds inside the window only: draw it there
        x, y = fr.compute[fr.index], fr.value[fr.index]
        ax.plot(x, y, "-o", color="black", lw=1.5, ms=4, label="frontier (seed means)", gid="frontier", zorder=4)
        inside = (x >= window[0] * (1 - 1e-9)) & (x <= window[1] * (1 + 1e-9))
        if inside.sum() >= 3:
            from pytest_scaling import fits

            line = fits.fit_power_law(x[inside], y[inside])
            xs = np.geomspace(window[0], window[1], 30)
            ax.plot(xs, _power_law_line(line, xs), "--", color="black", lw=1.4,
                    label=f"power law in the window: L ∝ C^{line.slope:.3f}", gid="frontier-fit", zorder=5)
        # the whole frontier, bend and cap included, against the saturating form fitted to all of it
        sat = saturating_params((), fr)
    else:
        _draw_frontier(ax, fr, color="black", label="frontier (seed means)", gid="frontier", fit_label="fit: L")
        sat = saturating_params(records, fr)
    if sat is not None:
        E, A, alpha, source = sat
        x = fr.compute[fr.index]
        xs = np.geomspace(x.min(), x.max(), 80)
        words = "all frontier points" if window else ("refit" if source == "refit" else "")
        ax.plot(xs, E + A * xs ** -alpha, "-.", color="#c0392b", lw=1.3,
                label=f"saturating: L = {fmt_num(E)} + A·C^−{alpha:.3f}" + (f" ({words})" if words else ""),
                gid="frontier-saturating", zorder=5)
    _mark_bindings(ax, design)
    ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="validation loss")
    lr_scales = sorted(set(grid.column("lr_scale").tolist()))
    ax.set_title(f"Compute vs loss (dropout 0, LR c = {', '.join(fmt_num(c) for c in lr_scales)}/√fan_in)")
    _width_colorbar(fig, ax, sm, grid.column("width"))
    _readable_log_axes(ax)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    ax.grid(True, which="both", alpha=0.2)
    return fig


def plot_compute_error(runs: RunTable, records: Sequence[Mapping] = (), design: Mapping | None = None) -> Any | None:
    """(b) Error rate vs compute: the loss frontier in the unit people quote."""
    grid = main_grid(runs)
    fr = frontier_of(grid, value="val_err")
    if fr is None:
        return None
    fig, ax = _figure()
    sm = _width_colors(grid.column("width"))
    ax.scatter(grid.column("flops"), 1.0 - grid.column("val_acc"), c=sm.to_rgba(grid.column("width")), s=14,
               alpha=0.7, edgecolors="none", gid="runs")
    _draw_frontier(ax, fr, color="black", label="frontier (seed means)", gid="frontier", fit_label="fit: err")
    ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="validation error rate",
           title="Compute vs error rate (dropout 0)")
    _width_colorbar(fig, ax, sm, grid.column("width"))
    _readable_log_axes(ax)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, which="both", alpha=0.2)
    return fig


def _detail(records: Sequence[Mapping], key: str) -> tuple[Mapping, Any] | None:
    for r in records:
        d = r.get("details") or {}
        if isinstance(d, Mapping) and d.get(key):
            return r, d[key]
    return None


def plot_nopt(runs: RunTable | None, records: Sequence[Mapping] = (), design: Mapping | None = None) -> Any | None:
    """(c) N_opt vs C per approach (from ``details["nopt_points"]``); None when no claim gave points.

    The compute window the claim used (its record's ``window``, else the design's) is shaded."""
    found = _detail(records, "nopt_points")
    if found is None:
        return None
    record, points = found
    fits_given = (record.get("details") or {}).get("nopt_fits") or {}
    _, fit_power_law = _fit_functions()
    fig, ax = _figure()
    drew = False
    for i, (approach, pts) in enumerate(sorted(points.items())):
        arr = np.asarray(pts, dtype=float).reshape(-1, 2)
        arr = arr[np.all(np.isfinite(arr), axis=1) & np.all(arr > 0, axis=1)]
        if not len(arr):
            continue
        color = f"C{i}"
        ax.scatter(arr[:, 0], arr[:, 1], color=color, s=22, label=f"{approach}", gid=f"nopt-{approach}")
        xs = np.geomspace(arr[:, 0].min(), arr[:, 0].max(), 50)
        given = fits_given.get(approach)
        if given and given.get("slope") is not None and given.get("prefactor") is not None:
            slope, ys = float(given["slope"]), float(given["prefactor"]) * xs ** float(given["slope"])
        elif len(arr) >= 3:
            fit = fit_power_law(arr[:, 0], arr[:, 1])
            slope, ys = fit.slope, _power_law_line(fit, xs)
        else:
            slope = ys = None
        if ys is not None:
            ax.plot(xs, ys, "--", color=color, label=f"{approach}: N ∝ C^{slope:.3f}", gid=f"nopt-{approach}-fit")
        drew = True
    if not drew:
        return None
    _shade_window(ax, record.get("window") or (design or {}).get("window"), design)
    title = "Compute-optimal size"
    if record.get("estimate") is not None:
        title += f" — claim: {record.get('quantity', '')} = {fmt_num(record['estimate'])} " \
                 f"{fmt_ci(record.get('ci_low'), record.get('ci_high'))}"
    ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="N_opt (parameters)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.2)
    return fig


def plot_dropout(runs: RunTable, records: Sequence[Mapping] = (), design: Mapping | None = None) -> Any | None:
    """(d) The frontier with and without dropout on the same axes; None with only one condition."""
    grid = main_grid(runs, dropout=None)
    dropouts = sorted(set(grid.column("dropout").tolist())) if len(grid) else []
    if len(dropouts) < 2:
        return None
    fig, ax = _figure()
    drew = 0
    for i, p in enumerate(dropouts):
        sub = grid.where(dropout=p)
        fr = frontier_of(sub)
        if fr is None:
            continue
        color = f"C{i}"
        ax.scatter(sub.column("flops"), sub.column("val_loss"), color=color, s=8, alpha=0.25, edgecolors="none")
        _draw_frontier(ax, fr, color=color, label=f"dropout {fmt_num(p)} frontier", gid=f"frontier-p{p:g}",
                       fit_label=f"p={fmt_num(p)}: L")
        drew += 1
    if drew < 2:
        return None
    ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="validation loss",
           title="Dropout vs none")
    _readable_log_axes(ax)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.2)
    return fig


def lr_sweep_runs(runs: RunTable) -> RunTable:
    """The LR sweep: widths that were trained at lr_mult ≠ 1, at the sweep's (most common) fraction."""
    swept = [r for r in runs if not math.isclose(r.spec.lr_mult, 1.0) and r.spec.dropout == 0.0]
    if not swept:
        return RunTable()
    fractions = [r.spec.fraction for r in swept]
    fraction = max(set(fractions), key=fractions.count)
    widths = {r.spec.width for r in swept if r.spec.fraction == fraction}
    return RunTable(r for r in runs if r.spec.width in widths and r.spec.fraction == fraction and r.spec.dropout == 0.0)


def plot_lr_sweep(runs: RunTable, records: Sequence[Mapping] = (), design: Mapping | None = None) -> Any | None:
    """(e) Loss vs LR multiplier per width (seed means, seeds as dots, failed runs as ×), optima if given."""
    sweep = lr_sweep_runs(runs)
    if not len(sweep):
        return None
    found = _detail(records, "lr_optima")
    optima = {}
    if found is not None:
        for k, v in found[1].items():
            try:
                optima[int(float(k))] = v
            except (TypeError, ValueError):
                continue
    fig, ax = _figure()
    widths = sorted(set(sweep.column("width").tolist()))
    sm = _width_colors(np.asarray(widths))
    failed_label = True
    for w in widths:
        sub = sweep.where(width=w)
        color = sm.to_rgba(w)
        ok = sub.usable()
        if len(ok):
            mults = ok.column("lr_mult")
            loss = ok.column("val_loss")
            ax.scatter(mults, loss, color=color, s=10, alpha=0.5, edgecolors="none")
            xs = np.array(sorted(set(mults.tolist())))
            ax.plot(xs, [loss[np.isclose(mults, x)].mean() for x in xs], "-", color=color, label=f"width {w}",
                    gid=f"lr-w{w}")
        bad = [r for r in sub if not r.ok]
        if bad:
            ax.scatter([r.spec.lr_mult for r in bad], [_CHANCE_LOSS] * len(bad), marker="x", color=color, s=30,
                       label="diverged/collapsed" if failed_label else None, gid="lr-failed")
            failed_label = False
        if w in optima:
            v = optima[w]
            star = v[0] if isinstance(v, (list, tuple)) else v
            if star is not None and np.isfinite(float(star)) and float(star) > 0:
                ax.axvline(float(star), color=color, ls=":", lw=1.2, gid=f"lr-opt-w{w}")
                if isinstance(v, (list, tuple)) and len(v) >= 3 and None not in v[1:3]:
                    ax.axvspan(float(v[1]), float(v[2]), color=color, alpha=0.08)
    fraction = sweep[0].spec.fraction
    c = sorted(set(sweep.column("lr_scale").tolist()))
    ax.set_xscale("log", base=2)
    ax.set(xlabel=f"LR multiplier (× c/√fan_in, c = {', '.join(fmt_num(x) for x in c)})", ylabel="validation loss",
           title=f"LR sweep at data fraction {fmt_num(fraction)}" + ("; dotted: fitted optima" if optima else ""))
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.2)
    return fig


#: (file stem, caption, function) in the order the HTML shows them.
PLOTS: tuple[tuple[str, str, Callable], ...] = (
    ("compute_loss", "Compute vs validation loss: all usable runs (colour = width), the compute-efficient "
                     "frontier of seed-averaged configs with its power-law fit (dashed) and the saturating fit "
                     "L = E + A·C^−α (dash-dot); shaded: the compute-limited window; frontier points marked by "
                     "the edge of the grid that binds them.", plot_compute_loss),
    ("compute_error", "Compute vs validation error rate, with its frontier.", plot_compute_error),
    ("nopt", "Compute-optimal model size N_opt vs compute, per estimation approach; shaded: the compute "
             "window the estimate used.", plot_nopt),
    ("dropout", "Frontier with and without dropout.", plot_dropout),
    ("lr_sweep", "Learning-rate sweep: validation loss vs LR multiplier per width.", plot_lr_sweep),
)


def make_plots(runs: RunTable | None, records: Sequence[Mapping], design: Mapping | None = None) -> dict[str, Any]:
    """Figures keyed by file stem; plots without data are left out rather than drawn empty."""
    out = {}
    for stem, _, fn in PLOTS:
        if runs is None and fn is not plot_nopt:
            continue
        try:
            fig = fn(runs, records, design=design)
        except Exception as exc:  # one bad plot must not cost the user report.json
            warnings.warn(f"pytest-scaling: skipped plot {stem!r}: {type(exc).__name__}: {exc}", stacklevel=2)
            continue
        if fig is not None:
            out[stem] = fig
    return out


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{padding:.35em .6em;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.ci{white-space:nowrap;font-variant-numeric:tabular-nums}
.verdict{font-weight:600;border-radius:4px;padding:.1em .45em;white-space:nowrap}
.confirmed{background:#d9f5e0;color:#11622b} .refuted{background:#fbdada;color:#8f1414}
.inconclusive{background:#fff3c4;color:#7a5a00}
.reason{color:#555;font-size:.85em;overflow-wrap:anywhere}
tr.decide td{border-bottom:1px solid #e4e4e4;padding-top:0;color:#5a4500;font-size:.88em}
tr.has-decide td{border-bottom:none}
ul.design{margin:.3em 0;padding-left:1.3em;font-size:.92em} ul.design li{margin:.15em 0}
details.frontier{font-size:.85em;margin:.4em 0} details.frontier table{width:auto}
.bind{font-weight:600}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em;font-size:.9em}
dl.meta dt{font-weight:600} dl.meta dd{margin:0}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1em}
figure{margin:.5em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9em} footer{margin-top:3em;color:#777;font-size:.8em}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _method(claim: Mapping) -> str:
    method, n = claim.get("method"), claim.get("n_resamples")
    return ", ".join(str(x) for x in (method, f"{n} resamples" if n else None) if x)


def _grid_line(summary: Mapping | None) -> str | None:
    """What the verdicts rest on, in one line: axes of the grid and how many runs failed."""
    if not summary or not summary.get("count"):
        return None
    widths, fractions = summary.get("widths") or [], summary.get("fractions") or []
    parts = []
    if widths:
        parts.append(f"widths {fmt_num(min(widths))}–{fmt_num(max(widths))} ({len(widths)})")
    if fractions:
        parts.append(f"data fractions {fmt_num(min(fractions))}–{fmt_num(max(fractions))} ({len(fractions)})")
    parts.append(f"{len(summary.get('seeds') or [])} seeds")
    if summary.get("dropouts"):
        parts.append("dropout " + ", ".join(fmt_num(p) for p in summary["dropouts"]))
    parts.append(f"{summary.get('usable', 0)} of {summary['count']} runs usable "
                 f"({summary.get('diverged', 0)} diverged, {summary.get('collapsed', 0)} collapsed)")
    return " · ".join(parts)


def _design_html(design: Mapping | None) -> list[str]:
    """The design section: the plain-language lines, the window rule, the frontier points by binding."""
    if not design:
        return []
    parts = ["<h2>Design</h2>", '<ul class="design">', *(f"<li>{_e(line)}</li>" for line in design_lines(design)),
             "</ul>"]
    if design.get("window_rule"):
        parts.append(f'<p class="reason">window rule: {_e(design["window_rule"])}</p>')
    frontier = [p for p in design.get("frontier") or () if isinstance(p, Mapping)]
    if frontier:
        counts: dict[str, int] = {}
        for p in frontier:
            counts[str(p.get("binding"))] = counts.get(str(p.get("binding")), 0) + 1
        summary = ", ".join(f"{n} {b}" for b, n in counts.items())
        parts.append(f'<details class="frontier"><summary>frontier points by binding edge ({len(frontier)}: '
                     f"{_e(summary)})</summary><table><thead><tr><th>compute (FLOPs)</th><th>width</th>"
                     "<th>fraction</th><th>loss</th><th>binding</th></tr></thead><tbody>")
        for p in frontier:
            color = BINDING_STYLE.get(str(p.get("binding")), ("", "#555", ""))[1]
            parts.append(f'<tr><td class="num">{_e(fmt_num(p.get("compute")))}</td>'
                         f'<td class="num">{_e(fmt_num(p.get("width")))}</td>'
                         f'<td class="num">{_e(fmt_num(p.get("fraction")))}</td>'
                         f'<td class="num">{_e(fmt_num(p.get("loss")))}</td>'
                         f'<td><span class="bind" style="color:{color}">{_e(p.get("binding"))}</span></td></tr>')
        parts.append("</tbody></table></details>")
    return parts


def render_html(report: Mapping, plots: Mapping[str, str]) -> str:
    """Self-contained page (inline CSS; images by relative path) from the report dict.

    ``plots`` maps file stem → image file name, in display order.
    """
    totals = report.get("totals") or {}
    meta_rows = [
        ("budget", report.get("budget")), ("dataset", report.get("dataset")), ("device", report.get("device")),
        ("runs", totals_line(totals) or None), ("grid", _grid_line(report.get("runs"))),
        ("git commit", report.get("git_commit")),
        ("generated", report.get("generated_at")), ("cache", report.get("cache_dir")),
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(_header_line(report))}</title><style>{_CSS}</style></head><body>",
        "<h1>pytest-scaling report</h1>",
        '<dl class="meta">',
        *(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta_rows if v not in (None, "")),
        "</dl>",
        "<h2>Claims</h2>",
    ]
    claims = report.get("claims") or []
    if claims:
        holm = any(holm_verdict(c) is not None for c in claims)
        parts.append("<table><thead><tr><th>claim</th><th>quantity</th><th>estimate</th><th>CI</th>"
                     "<th>expected</th><th>verdict</th>" + ("<th>Holm</th>" if holm else "")
                     + "<th>runs</th></tr></thead><tbody>")
        columns = 7 + holm
        for c in claims:
            v = str(c.get("verdict", ""))
            level = c.get("confidence")
            if c.get("ci_low") is None and c.get("ci_high") is None:
                ci = NO_VALUE
            else:
                ci = fmt_ci(c.get("ci_low"), c.get("ci_high"))
                if level is not None:
                    ci += f" ({fmt_num(100 * float(level))}%)"
            reason = c.get("reason")
            window = fmt_window(c.get("window"))
            if window is None and "window" in c and has_estimate(c):
                window = "all runs"
            estimate = fmt_num(c.get("estimate")) if has_estimate(c) else NO_VALUE
            row = [
                f"<td>{_e(c.get('name'))}<div class=\"reason\">{_e(c.get('nodeid'))}</div>"
                + (f"<div class=\"reason window\">compute window: {_e(window)}</div>" if window else "") + "</td>",
                f"<td>{_e(c.get('quantity'))}</td>",
                f"<td class=\"num\">{_e(estimate)}</td>",
                f"<td class=\"ci\">{_e(ci)}" + (f"<div class=\"reason\">{_e(_method(c))}</div>" if _method(c) else "")
                + "</td>",
                f"<td>{_e(c.get('expected') or NO_VALUE)}</td>",
                f"<td><span class=\"verdict {_e(v)}\">{_e(v)}</span>"
                + (f"<div class=\"reason\">{_e(reason)}</div>" if reason else "") + "</td>",
            ]
            if holm:
                hv = holm_verdict(c)
                row.append(f"<td><span class=\"verdict {_e(hv)}\">{_e(hv)}</span></td>" if hv else "<td>-</td>")
            runs = c.get("runs") if has_estimate(c) or c.get("runs") else NO_VALUE
            row.append(f"<td class=\"num\">{_e(runs)}</td>")
            decide = c.get("to_decide") if v == "inconclusive" else None
            parts.append(("<tr class=\"has-decide\">" if decide else "<tr>") + "".join(row) + "</tr>")
            if decide:
                parts.append(f'<tr class="decide"><td></td><td colspan="{columns - 1}"><b>What would decide:</b> '
                             f"{_e(decide)}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append("<p>No scaling claims ran.</p>")
    parts.extend(_design_html(report.get("design")))
    captions = {stem: caption for stem, caption, _ in PLOTS}
    if plots:
        parts.append('<h2>Plots</h2><div class="plots">')
        for stem, filename in plots.items():
            parts.append(f'<figure id="{_e(stem)}"><img src="{_e(filename)}" alt="{_e(captions.get(stem, stem))}">'
                         f"<figcaption>{_e(captions.get(stem, stem))}</figcaption></figure>")
        parts.append("</div>")
    versions = ", ".join(f"{k} {v}" for k, v in (report.get("packages") or {}).items() if v)
    machine = report.get("machine") or {}
    parts.append(
        "<footer>Data: <a href=\"report.json\">report.json</a>"
        + (" · <a href=\"runs.csv\">runs.csv</a>" if report.get("runs") else "")
        + f"<br>{_e(versions)}<br>{_e(machine.get('platform'))} · Python {_e(machine.get('python'))} · "
        f"{_e(machine.get('cpu_count'))} CPUs</footer>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- writing


def write_report(directory: str | Path, records: Iterable[Any], meta: Mapping,
                 runs: RunTable | None, *, report_json: Mapping | None = None) -> list[Path]:
    """Write report.json, runs.csv, one PNG per plot with data, and index.html into ``directory``.

    Returns the paths written (index.html last). Each file is written atomically, so a
    browser or CI artifact upload never sees half a file. Pass ``report_json`` (from
    :func:`build_report_json`) when it was already built, e.g. for ``--scaling-save``,
    so the saved baseline and the written report are the same object.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    records = _records(records)
    report = dict(report_json) if report_json is not None else build_report_json(records, meta, runs)
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = directory / name
        atomic_write(path, data)
        written.append(path)

    put("report.json", dumps_report(report).encode("utf-8"))
    if runs is not None:
        put("runs.csv", runs.to_csv().encode("utf-8"))
    images: dict[str, str] = {}
    design = report.get("design") if isinstance(report.get("design"), Mapping) else design_of(meta)
    for stem, fig in make_plots(runs, records, design).items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        put(f"{stem}.png", buf.getvalue())
        images[stem] = f"{stem}.png"
    put("index.html", render_html(report, images).encode("utf-8"))
    return written
