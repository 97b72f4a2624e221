"""index.html: the claims, the design and the plots as one static page."""

from __future__ import annotations

import html
from typing import Any, Mapping

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
