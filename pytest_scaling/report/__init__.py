"""The reporting layer: terminal table, ``report.json``, PNG plots and ``index.html``.

One module per view: ``format`` (numbers, CIs, design lines), ``terminal``, ``data``
(report.json), ``plots`` and ``page`` (index.html); :func:`write_report` writes them all.

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
    on the record of the saturating claim (quantity ``E in L = E + A·C^−α``, or
    ``α in …``; details E, A, alpha): the saturating fit drawn on the compute-vs-loss plot
    (refitted on the plotted frontier when no such record exists).

Record keys the plugin adds from the claim's module (all optional): ``finding`` and ``source``
(from its docstring) head the group of its claims on the page, ``module`` names the group (else
the nodeid's file does), and ``plots`` (the module's ``SCALING_PLOTS``: plot stems of
:data:`PLOTS`, the one most its own first) puts each plot beside the group that names it
earliest; a plot no group names goes to the page's final "Plots" section.

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

import io
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

from pytest_scaling.fileio import atomic_write
from pytest_scaling.report.data import (
    build_report_json,
    dumps_report,
    git_commit,
    machine_info,
    package_versions,
    runs_summary,
)
from pytest_scaling.report.format import (
    CLAIM_KEYS,
    NO_VALUE,
    SCHEMA_VERSION,
    VERDICT_STYLE,
    VERSIONED_PACKAGES,
    _records,
    as_record,
    design_lines,
    design_of,
    fmt_ci,
    fmt_duration,
    fmt_num,
    fmt_window,
    has_estimate,
    holm_verdict,
    totals_line,
    window_of,
)
from pytest_scaling.report.page import render_html
from pytest_scaling.report.plots import (
    BINDING_STYLE,
    PLOTS,
    Frontier,
    config_means,
    frontier_of,
    lr_sweep_runs,
    main_grid,
    make_plots,
    plot_compute_error,
    plot_compute_loss,
    plot_dropout,
    plot_lr_sweep,
    plot_nopt,
    saturating_params,
)
from pytest_scaling.report.terminal import (
    _make_console,
    _plain_box,
    render_summary,
    undecided,
)
from pytest_scaling.runs import RunTable

__all__ = [
    "BINDING_STYLE", "CLAIM_KEYS", "NO_VALUE", "PLOTS", "SCHEMA_VERSION", "VERDICT_STYLE", "VERSIONED_PACKAGES",
    "Frontier",
    "as_record", "build_report_json", "config_means", "design_lines", "design_of", "dumps_report", "fmt_ci",
    "fmt_duration", "fmt_num", "fmt_window", "frontier_of", "git_commit", "has_estimate", "holm_verdict",
    "lr_sweep_runs", "machine_info", "main_grid", "make_plots", "package_versions", "plot_compute_error",
    "plot_compute_loss", "plot_dropout", "plot_lr_sweep", "plot_nopt", "render_html", "render_summary",
    "runs_summary", "saturating_params", "totals_line", "undecided", "window_of", "write_report",
    "_make_console", "_plain_box",
]


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
    # A budget that trains the grid in a second precision (for the precision claim) plots the session's.
    if runs is not None and len({r.spec.precision for r in runs}) > 1 and meta.get("precision"):
        runs = runs.where(precision=meta["precision"])
    for stem, fig in make_plots(runs, records, design).items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        put(f"{stem}.png", buf.getvalue())
        images[stem] = f"{stem}.png"
    put("index.html", render_html(report, images).encode("utf-8"))
    return written
