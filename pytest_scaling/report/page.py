"""index.html: the claims grouped by the finding they test, each finding's plots beside its claims,
the design, and the remaining plots, as one static page (inline CSS, no script)."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from pytest_scaling.report.format import (
    NO_VALUE,
    _header_line,
    design_lines,
    fmt_ci,
    fmt_num,
    fmt_window,
    has_estimate,
    holm_verdict,
    totals_line,
)
from pytest_scaling.report.plots import BINDING_STYLE, PLOTS

VERDICTS = ("confirmed", "refuted", "inconclusive")

_CSS = """
:root{color-scheme:light dark} *{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:75rem;
color:#222;background:#fff;padding:0 1.5em;line-height:1.4}
h1{font-size:1.6em;margin:0 0 .3em} h2{font-size:1.15em;margin:1.8em 0 .2em;border-bottom:1px solid #ddd}
a{color:#1558b0} code{font-size:.92em;overflow-wrap:anywhere}
.muted,.reason,.source,figcaption{color:#555} .small{font-size:.85em}
.verdict{font-weight:600;border-radius:4px;padding:.1em .45em;white-space:nowrap;font-size:.9em}
.confirmed{background:#d9f5e0;color:#11622b} .refuted{background:#fbdada;color:#8f1414}
.inconclusive{background:#fff3c4;color:#7a5a00}
p.verdicts{margin:.2em 0 .8em;font-size:1.05em} p.verdicts .verdict{margin-right:.4em}
ul.findings{list-style:none;padding:0;margin:.4em 0 .8em;font-size:.92em} ul.findings li{margin:.2em 0}
ul.findings .verdict{font-size:.8em;margin-right:.25em}
p.source{font-size:.85em;margin:.1em 0 .6em;overflow-wrap:anywhere}
table{border-collapse:collapse}
table.claims{width:100%;table-layout:fixed;font-size:.92em}
table.claims th,table.claims td{padding:.4em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
table.claims th{font-size:.85em;font-weight:600;color:#555;border-bottom:1px solid #ccc}
table.claims tbody{border-bottom:1px solid #e4e4e4}
table.claims tr.detail td{padding-top:0;font-size:.9em}
col.c-verdict,col.c-holm{width:7.6rem} col.c-est{width:5.2rem} col.c-ci{width:13rem} col.c-runs{width:3.6rem}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.ci{font-variant-numeric:tabular-nums} .claim-name{font-weight:600}
svg.interval{display:block;margin:.2em 0 .1em;max-width:100%}
svg.interval .region{fill:#2a7de1;fill-opacity:.16} svg.interval .bound{stroke:#2a7de1;stroke-opacity:.55}
svg.interval .axis{stroke:#999} svg.interval.confirmed{color:#11622b;background:none}
svg.interval.refuted{color:#b01c1c;background:none} svg.interval.inconclusive{color:#946c00;background:none}
p.reason,p.decide{margin:.1em 0 .25em} p.decide{color:#5a4500}
ul.design{margin:.3em 0;padding-left:1.3em;font-size:.92em} ul.design li{margin:.15em 0}
details.frontier{font-size:.85em;margin:.4em 0}
details.frontier td,details.frontier th{padding:.2em .6em;border-bottom:1px solid #e4e4e4;text-align:left}
details.frontier td.num{text-align:right}
.bind{font-weight:600}
dl.meta{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15em 1.2em;font-size:.9em;margin:.4em 0}
dl.meta dt{font-weight:600} dl.meta dd{margin:0;overflow-wrap:anywhere}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:1em;margin-top:.8em}
figure{margin:0;min-width:0} figure img{max-width:100%;height:auto;border:1px solid #eee;background:#fff}
figcaption{font-size:.85em} footer{margin-top:3em;color:#777;font-size:.8em;overflow-wrap:anywhere}
@media (prefers-color-scheme:dark){
body{color:#ddd;background:#17181a} a{color:#8ab4f8}
.muted,.reason,.source,figcaption,table.claims th{color:#aaa} p.decide{color:#e8cf7a}
h2,table.claims th{border-color:#444} table.claims tbody,details.frontier td{border-color:#333}
svg.interval.confirmed{color:#7fd49a} svg.interval.refuted{color:#f08a8a} svg.interval.inconclusive{color:#e8c35a}
figure img{border-color:#333}}
"""

_NUM = r"[-+−]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+−]?\d+)?"
_REGIONS = (  # expected text → (low, high) from the numbers it names
    (re.compile(rf"^(?:<|<=|≤)\s*({_NUM})$"), lambda x: (-math.inf, x)),
    (re.compile(rf"^(?:>|>=|≥)\s*({_NUM})$"), lambda x: (x, math.inf)),
    (re.compile(rf"^in\s*[(\[]\s*({_NUM})\s*,\s*({_NUM})\s*[)\]]$"), lambda a, b: (a, b)),
    (re.compile(rf"^within\s+({_NUM})\s+of\s+({_NUM})$"), lambda t, x: (x - t, x + t)),
    (re.compile(rf"^within\s+±\s*({_NUM})$"), lambda t: (-t, t)),
)


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _code(text: Any) -> str:
    """Escaped text with `backticked` parts (budget lines, option values) set as code."""
    pieces = str(text or "").split("`")
    if len(pieces) % 2 == 0:  # an unmatched backtick: plain text
        return _e(text)
    return "".join(f"<code>{_e(p)}</code>" if i % 2 else _e(p) for i, p in enumerate(pieces))


def _method(claim: Mapping) -> str:
    method, n = claim.get("method"), claim.get("n_resamples")
    return ", ".join(str(x) for x in (method, f"{n} resamples" if n else None) if x)


def _finite(x: Any) -> float | None:
    """A number to draw, or None (also for ±1e308, how claim records store an infinite value)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and abs(v) < 1e300 else None


def claim_words(name: Any) -> str:
    """A test function's name as words (``test_gamma_agrees[a-b]`` → ``gamma agrees [a-b]``); a name
    a claim was given explicitly is already words and stays as it is."""
    text = str(name or "")
    if not text.startswith("test"):
        return text
    base, bracket, params = text.partition("[")
    words = base.removeprefix("test_").replace("_", " ").strip()
    return f"{words} [{params}" if bracket else words


def expected_region(expected: Any) -> tuple[float, float] | None:
    """The region a claim's ``expected`` text names (``< 0``, ``in (0, 1)``, ``within 0.2 of -0.5``,
    ``within ±0.5``) as ``(low, high)`` with ±inf for open ends; None when the text is none of these."""
    text = " ".join(str(expected or "").split())
    for pattern, region in _REGIONS:
        match = pattern.match(text)
        if match:
            return region(*(float(g.replace("−", "-")) for g in match.groups()))
    return None


def _interval_svg(claim: Mapping, verdict: str, width: int = 168, height: int = 20) -> str:
    """The CI as a bar with the estimate as a dot, over the expected region shaded; '' without a CI."""
    low, high, est = (_finite(claim.get(k)) for k in ("ci_low", "ci_high", "estimate"))
    if low is None or high is None:
        return ""
    region = expected_region(claim.get("expected"))
    points = [low, high] + [v for v in (est, *(region or ())) if v is not None and math.isfinite(v)]
    lo, hi = min(points), max(points)
    pad = (hi - lo) * 0.08 or max(abs(lo), 1.0) * 0.1
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return round(min(max((v - lo) / (hi - lo), 0.0), 1.0) * width, 1)

    mid = height / 2
    parts = [f'<line class="axis" x1="0" y1="{mid}" x2="{width}" y2="{mid}" stroke-width="1"/>']
    if region is not None:
        parts.append(f'<rect class="region" x="{x(region[0])}" y="1" width="{x(region[1]) - x(region[0])}" '
                     f'height="{height - 2}"/>')
        parts.extend(f'<line class="bound" x1="{x(b)}" y1="1" x2="{x(b)}" y2="{height - 1}" stroke-width="1"/>'
                     for b in region if math.isfinite(b))
    parts.append(f'<line x1="{x(low)}" y1="{mid}" x2="{x(high)}" y2="{mid}" stroke="currentColor" stroke-width="3"/>')
    parts.extend(f'<line x1="{x(v)}" y1="{mid - 5}" x2="{x(v)}" y2="{mid + 5}" stroke="currentColor" '
                 'stroke-width="1.5"/>' for v in (low, high))
    if est is not None:
        parts.append(f'<circle cx="{x(est)}" cy="{mid}" r="3.5" fill="currentColor"/>')
    title = f"CI {fmt_ci(low, high)}" + (f", expected {claim.get('expected')}" if claim.get("expected") else "")
    return (f'<svg class="interval {_e(verdict)}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>{"".join(parts)}</svg>')


def _ci_text(claim: Mapping) -> str:
    if claim.get("ci_low") is None and claim.get("ci_high") is None:
        return NO_VALUE
    level = claim.get("confidence")
    return fmt_ci(claim.get("ci_low"), claim.get("ci_high")) + (
        f" ({fmt_num(100 * float(level))}%)" if level is not None else "")


def _badge(verdict: Any) -> str:
    return f'<span class="verdict {_e(verdict)}">{_e(verdict)}</span>'


def _claim_body(claim: Mapping, holm: bool) -> str:
    """One claim: verdict, claim in words, numbers and interval in a row; reason and what would
    decide it beneath, across the row's full width."""
    verdict = str(claim.get("verdict", ""))
    window = fmt_window(claim.get("window"))
    if window is None and "window" in claim and has_estimate(claim):
        window = "all runs"
    about = " · ".join(_e(x) for x in (claim.get("nodeid"), _method(claim)) if x)
    claim_cell = (f'<td><div class="claim-name">{_e(claim_words(claim.get("name")))}</div>'
                  f'<div>{_e(claim.get("quantity"))}</div>'
                  + (f'<div class="muted small">{about}</div>' if about else "")
                  + (f'<div class="muted small window">compute window: {_e(window)}</div>' if window else "")
                  + "</td>")
    estimate = fmt_num(claim.get("estimate")) if has_estimate(claim) else NO_VALUE
    ci_cell = (f'<td class="ci">{_e(_ci_text(claim))}{_interval_svg(claim, verdict)}'
               f'<div class="muted small">expected {_e(claim.get("expected") or NO_VALUE)}</div></td>')
    cells = [f"<td>{_badge(verdict)}</td>", claim_cell, f'<td class="num">{_e(estimate)}</td>', ci_cell]
    if holm:
        hv = holm_verdict(claim)
        cells.append(f"<td>{_badge(hv)}</td>" if hv else "<td>-</td>")
    runs = claim.get("runs") if has_estimate(claim) or claim.get("runs") else NO_VALUE
    cells.append(f'<td class="num">{_e(runs)}</td>')
    notes = []
    if claim.get("reason"):
        notes.append(f'<p class="reason">{_e(claim["reason"])}</p>')
    if verdict == "inconclusive" and claim.get("to_decide"):
        notes.append(f'<p class="decide"><b>What would decide:</b> {_code(claim["to_decide"])}</p>')
    detail = (f'<tr class="detail"><td></td><td colspan="{len(cells) - 1}">{"".join(notes)}</td></tr>'
              if notes else "")
    return f'<tbody class="claim"><tr>{"".join(cells)}</tr>{detail}</tbody>'


def _claims_table(claims: Sequence[Mapping], holm: bool) -> str:
    """Fixed column widths (only the claim's own column takes the rest), so no text can widen the page."""
    columns = [("c-verdict", "<th>verdict</th>"), ("", "<th>claim · quantity</th>"),
               ("c-est", '<th class="num">estimate</th>'), ("c-ci", "<th>CI · expected region</th>")]
    columns += [("c-holm", "<th>Holm</th>")] if holm else []
    columns += [("c-runs", '<th class="num">runs</th>')]
    colgroup = "".join(f'<col class="{c}">' if c else "<col>" for c, _ in columns)
    return (f'<table class="claims"><colgroup>{colgroup}</colgroup><thead><tr>{"".join(h for _, h in columns)}'
            "</tr></thead>" + "".join(_claim_body(c, holm) for c in claims) + "</table>")


def _group_key(claim: Mapping) -> str:
    """The claim's module: the plugin's ``module`` key, else its nodeid's file stem, else ''."""
    if claim.get("module"):
        return str(claim["module"])
    path = str(claim.get("nodeid") or "").split("::")[0]
    return PurePosixPath(path).stem if path else ""


def _groups(claims: Sequence[Mapping]) -> list[dict]:
    """Claims by module, in order of first appearance, each headed by its finding (or its file), with
    the plots its claims say they feed (their ``plots`` key), in the order they name them."""
    groups: dict[str, dict] = {}
    for c in claims:
        key = _group_key(c)
        group = groups.setdefault(key, {"key": key, "claims": [], "finding": None, "source": None, "file": None,
                                        "plots": []})
        group["claims"].append(c)
        group["finding"] = group["finding"] or c.get("finding")
        group["source"] = group["source"] or c.get("source")
        group["file"] = group["file"] or (str(c.get("nodeid") or "").split("::")[0] or None)
        plots = c.get("plots") or ()
        group["plots"] += [str(stem) for stem in ([plots] if isinstance(plots, str) else plots)
                           if str(stem) not in group["plots"]]
    return list(groups.values())


def _plot_homes(groups: Sequence[Mapping], plots: Mapping[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Each plot's group and the plots no group on this page claims. A plot goes to the group that names
    it earliest in its ``plots`` (a claim module lists the plot most its own first; on a tie, the first
    group on the page), so the page needs no claim module's name."""
    homes: dict[str, list[str]] = {}
    rest = []
    for stem in plots:
        ranked = [(g["plots"].index(stem), i) for i, g in enumerate(groups) if stem in g["plots"]]
        if not ranked:
            rest.append(stem)
        else:
            homes.setdefault(groups[min(ranked)[1]]["key"], []).append(stem)
    return homes, rest


def _anchor(key: str) -> str:
    return "finding-" + (re.sub(r"[^A-Za-z0-9_-]", "-", key) or "claims")


def _count_badges(claims: Sequence[Mapping]) -> str:
    counts = {v: sum(str(c.get("verdict")) == v for c in claims) for v in VERDICTS}
    return " ".join(f'<span class="verdict {v}">{n} {v}</span>' for v, n in counts.items() if n)


def _figures(stems: Sequence[str], plots: Mapping[str, str]) -> str:
    captions = {stem: caption for stem, caption, _ in PLOTS}
    return '<div class="plots">' + "".join(
        f'<figure id="{_e(stem)}"><img src="{_e(plots[stem])}" alt="{_e(captions.get(stem, stem))}">'
        f"<figcaption>{_e(captions.get(stem, stem))}</figcaption></figure>" for stem in stems) + "</div>"


def _section(group: Mapping, stems: Sequence[str], plots: Mapping[str, str], holm: bool) -> list[str]:
    title = group["finding"] or group["file"] or "Claims"
    parts = [f'<section id="{_anchor(group["key"])}"><h2>{_e(title)}</h2>']
    if group["finding"] and group["file"]:
        parts.append(f'<p class="source"><span class="muted">{_e(group["file"])}</span>'
                     + (f" · Source: {_e(group['source'])}" if group["source"] else "") + "</p>")
    elif group["source"]:
        parts.append(f'<p class="source">Source: {_e(group["source"])}</p>')
    parts.append(_claims_table(group["claims"], holm))
    if stems:
        parts.append(_figures(stems, plots))
    parts.append("</section>")
    return parts


def _contents(groups: Sequence[Mapping]) -> list[str]:
    """One line per finding with its verdicts: the page's answer before its evidence."""
    if len(groups) < 2:
        return []
    return ['<ul class="findings">', *(
        f'<li>{_count_badges(g["claims"])} <a href="#{_anchor(g["key"])}">'
        f'{_e(g["finding"] or g["file"] or "Claims")}</a></li>' for g in groups), "</ul>"]


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
        parts.append(f'<p class="reason small">window rule: {_e(design["window_rule"])}</p>')
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


def _footer(report: Mapping) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in (report.get("packages") or {}).items() if v)
    machine = report.get("machine") or {}
    return ("<footer>Data: <a href=\"report.json\">report.json</a>"
            + (" · <a href=\"runs.csv\">runs.csv</a>" if report.get("runs") else "")
            + f"<br>{_e(versions)}<br>{_e(machine.get('platform'))} · Python {_e(machine.get('python'))} · "
            f"{_e(machine.get('cpu_count'))} CPUs</footer>")


def render_html(report: Mapping, plots: Mapping[str, str]) -> str:
    """Self-contained page (inline CSS; images by relative path) from the report dict.

    ``plots`` maps file stem → image file name, in display order. Verdicts come first, then one
    section per finding (its claims, then the plots that support them), so a reader sees what was
    found before how; everything fits a 1280-px window (benchmarks/render_report.py checks it).
    """
    totals = report.get("totals") or {}
    meta_rows = [
        ("budget", report.get("budget")), ("dataset", report.get("dataset")), ("device", report.get("device")),
        ("runs", totals_line(totals) or None), ("grid", _grid_line(report.get("runs"))),
        ("git commit", report.get("git_commit")),
        ("generated", report.get("generated_at")), ("cache", report.get("cache_dir")),
    ]
    claims = report.get("claims") or []
    groups = _groups(claims)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(_header_line(report))}</title><style>{_CSS}</style></head><body>",
        "<h1>pytest-scaling report</h1>",
    ]
    if claims:
        parts.append(f'<p class="verdicts">{_count_badges(claims)} <span class="muted">of {len(claims)} '
                     f"claims</span></p>")
    parts += [*_contents(groups), '<dl class="meta">',
              *(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta_rows if v not in (None, "")), "</dl>"]
    homes, rest = _plot_homes(groups, plots)
    if not claims:
        parts.append("<h2>Claims</h2><p>No scaling claims ran.</p>")
    holm = any(holm_verdict(c) is not None for c in claims)
    for group in groups:
        parts.extend(_section(group, homes.get(group["key"], ()), plots, holm))
    parts.extend(_design_html(report.get("design")))
    if rest:
        parts.append("<h2>Plots</h2>" + _figures(rest, plots))
    parts += [_footer(report), "</body></html>"]
    return "\n".join(parts) + "\n"
