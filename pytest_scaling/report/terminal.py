"""The terminal summary: a rich table on a terminal, a plain layout elsewhere."""

from __future__ import annotations

import io
from typing import Any, Iterable, Mapping, Sequence

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
    totals_line,
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
