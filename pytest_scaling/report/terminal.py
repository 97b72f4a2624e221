"""The terminal summary: a rich table on a terminal; one line per claim in a log (CI).

A log is read at 80 columns or wider, often in a browser (GitHub Actions): a table
there wraps claim names into cells of a few letters each. The ``lines`` layout puts
each claim's verdict and name on one line, its numbers and cause below, indented.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_scaling.report.format import (
    NO_VALUE,
    VERDICT_STYLE,
    _header_line,
    _records,
    _verdict_counts,
    design_lines,
    design_of,
    fmt_ci,
    fmt_num,
    has_estimate,
    holm_verdict,
    short_name,
    totals_line,
    totals_parts,
)


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
        name = short_name(r)
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
            quantity = NO_VALUE if quantity in ("", name, r.get("name")) else quantity
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


def render_summary(records: Iterable[Any], meta: Mapping, *, width: int, color: bool, layout: str = "table") -> str:
    """The session's claims, rendered to a string for pytest's terminal reporter.

    ``layout="lines"`` (for logs) is :func:`render_lines`; the default is one table.

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

    if layout == "lines":
        return render_lines(records, meta, width=width, color=color)
    if layout != "table":
        raise ValueError(f"unknown layout {layout!r}; use 'table' or 'lines'")
    records = _records(records)
    width = max(int(width), 20)
    console = _make_console(width, color)

    def styled(text: str, column: str) -> Text:
        if color and column in ("verdict", "Holm"):
            return Text(text, style=VERDICT_STYLE.get(text, ""))
        return Text(text)

    for line in _joined(_header_line(meta).split(" · "), width):
        console.print(Text(line, style="bold" if color else ""))
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
        if family_line(records):
            console.print(Text(family_line(records)))
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
        head = Text(short_name(r) + (":" if r.get("reason") else ""))
        if r.get("reason"):
            head.append(" " + str(r["reason"]))
        console.print(Padding(head, (0, 0, 0, 2)))
        if r.get("to_decide"):
            line = Text("to decide: ", style="bold" if color else "")
            line.append(str(r["to_decide"]))
            console.print(Padding(line, (0, 0, 0, 4)))


# --------------------------------------------------------------------------- lines (logs)

_ANSI = {"confirmed": "32", "refuted": "31", "inconclusive": "33", "bold": "1"}
#: Where a claim's name starts: after the longest verdict, upper-cased, and two spaces.
_NAME_COLUMN = len("INCONCLUSIVE") + 2


def family_line(records: Sequence[Mapping]) -> str:
    """The family-wise policy the verdicts were judged under, in one line (empty when none)."""
    from pytest_scaling.report.data import family_wise_of

    fw = family_wise_of(list(records))
    return f"family-wise: {fw['words']}" if fw and fw["policy"] != "none" else ""


def _ansi(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if color and style in _ANSI else text


#: Quoted text a reader may copy (a budget line, a command): kept on one line when it fits one.
_QUOTED = re.compile(r"(?<!\w)'[^'\n]*'(?!\w)|`[^`\n]*`")
_KEEP = "\u00a0"  # textwrap breaks at ASCII whitespace only


def _wrapped(text: str, width: int, indent: int, hang: int = 2) -> list[str]:
    """``text`` wrapped at ``width`` between words, its continuation lines indented ``hang`` more.
    A word longer than a line (a path, an identifier) stays whole and runs past ``width``."""
    room = width - indent - hang
    text = _QUOTED.sub(lambda m: m[0].replace(" ", _KEEP) if len(m[0]) <= room else m[0], text)
    lines = textwrap.wrap(text, width, initial_indent=" " * indent, subsequent_indent=" " * (indent + hang),
                          break_long_words=False, break_on_hyphens=False) or [""]
    return [line.replace(_KEEP, " ") for line in lines]


def _joined(parts: list[str], width: int, indent: int = 0, sep: str = " · ") -> list[str]:
    """``parts`` joined by ``sep``, broken only between parts, a line ending in the separator when
    more follow; a part longer than a line wraps between its words."""
    tail = sep.rstrip()
    lines: list[str] = []
    line = ""
    for i, part in enumerate(parts):
        candidate = f"{line}{sep}{part}" if line else " " * indent + part
        more = i < len(parts) - 1
        if line and len(candidate) + (len(tail) if more else 0) > width:
            lines.append(line + tail)
            line = " " * (indent + 2) + part
        else:
            line = candidate
    if line:
        lines.append(line)
    return [wrapped for line in lines for wrapped in
            (_wrapped(line.strip(), width, len(line) - len(line.lstrip())) if len(line) > width else [line])]


def _numbers(record: Mapping) -> tuple[str, str, str]:
    """(estimate, CI, the rest): ``-0.215``, ``[-0.316, -0.136]``, ``expected < 0``; for a claim the
    budget could not estimate, ``no estimate`` and no CI."""
    if not has_estimate(record):
        estimate, ci = "no estimate", ""
    else:
        estimate = fmt_num(record.get("estimate"))
        has_ci = record.get("ci_low") is not None or record.get("ci_high") is not None
        ci = fmt_ci(record.get("ci_low"), record.get("ci_high")) if has_ci else ""
    rest = [f"expected {record['expected']}"] if record.get("expected") else []
    if holm_verdict(record) is not None:
        rest.append(f"Holm: {holm_verdict(record)}")
    return estimate, ci, "  ".join(rest)


def _aligned(numbers: list[tuple[str, str, str]]) -> list[str]:
    """Estimates right-aligned, CIs and expectations in columns, so a log reads down like a table."""
    estimates = max(len(e) for e, ci, _ in numbers if ci) if any(ci for _, ci, _ in numbers) else 0
    cis = max(len(ci) for _, ci, _ in numbers)
    lines = []
    for estimate, ci, rest in numbers:
        head = f"{estimate.rjust(estimates)} {ci.ljust(cis)}" if ci else estimate.ljust(estimates + 1 + cis)
        lines.append(f"{head}  {rest}".rstrip() if rest else head.rstrip())
    return lines


def render_lines(records: Iterable[Any], meta: Mapping, *, width: int, color: bool) -> str:
    """The summary for a log: per claim, ``VERDICT  name`` on one line, then its estimate, CI and
    expected region (on the same line when every claim's fit), then for a refuted or inconclusive
    claim its cause and what would decide it. Lines break between words at ``width``; only a
    word longer than a line (a long path) runs past it."""
    records = _records(records)
    width = max(int(width), 40)
    out = _joined(_header_line(meta).split(" · "), width)
    if not records:
        out.append("no scaling claims ran")
    else:
        levels = {r.get("confidence") for r in records}
        level = (f"{fmt_num(100 * float(next(iter(levels))))}% CI" if len(levels) == 1 and None not in levels
                 else "CI")
        out.extend(_wrapped(f"claims: verdict, name; estimate [{level}] and the region the claim expects", width, 0))
        names = [short_name(r) for r in records]
        numbers = _aligned([_numbers(r) for r in records])
        name_width = max(map(len, names))
        one_line = _NAME_COLUMN + name_width + 2 + max(map(len, numbers)) <= width
        said: dict[tuple[str, str], str] = {}  # a cause or remedy already printed → the claim it was printed under
        for r, name, nums in zip(records, names, numbers):
            verdict = str(r.get("verdict", "?"))
            head = _ansi(verdict.upper(), verdict, color) + " " * max(1, _NAME_COLUMN - len(verdict))
            if one_line:
                out.append(f"{head}{name.ljust(name_width)}  {nums}")
            else:
                out.append(head + name)
                out.extend(_wrapped(nums, width, _NAME_COLUMN))
            # Many claims share one cause (a narrow window): a log says it once and points back to it.
            for label, text, shown in (("cause", r.get("reason"), verdict in ("refuted", "inconclusive")),
                                       ("to decide", r.get("to_decide"), verdict == "inconclusive")):
                if not (shown and text):
                    continue
                first = said.setdefault((label, text), name)
                text = text if first == name else f"as for {first} above"
                out.extend(_wrapped(f"{label}: {text}", width, _NAME_COLUMN))
        counts = _verdict_counts(records)
        out.append(", ".join(f"{n} {v}" for v, n in counts.items() if n or v in VERDICT_STYLE))
        if family_line(records):
            out.extend(_wrapped(family_line(records), width, 0))
        design = design_lines(design_of(meta))
        if design:
            out.append(_ansi("design (main grid, dropout 0):", "bold", color))
            for line in design:
                out.extend(_wrapped(line, width, 2))
    out.extend(_joined(totals_parts(meta), width))
    return "\n".join(line.rstrip(" ") for line in out) + "\n"
