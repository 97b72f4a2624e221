"""PNG plots drawn with matplotlib's object API (never pyplot: no global backend or registry, safe under xdist)."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from pytest_scaling.report.format import _CHANCE_LOSS, fmt_ci, fmt_num, window_of
from pytest_scaling.runs import RunTable


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
    """Usable constant-LR, one-epoch runs at the default LR (lr_mult 1); the LR sweep is plotted on its own.

    A width trained at lr_mult 1 at a single data fraction only is the LR sweep's
    centre point, not part of the main grid (a lone point that would bend the frontier).
    """
    runs = runs.usable().where(lr_mult=1.0, schedule="constant", epochs=1)  # the single-run protocol
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

#: The records that carry the saturating fit (details E, A and alpha): by quantity, whichever parameter
#: the claim tests.
SATURATING_QUANTITIES = ("E in L = E + A·C^−α", "α in L = E + A·C^−α")


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
        if not str(r.get("quantity", "")).startswith(SATURATING_QUANTITIES):
            continue
        d = r.get("details") or {}
        try:
            E, A, alpha = float(d["E"]), float(d["A"]), float(d.get("alpha", r["estimate"]))
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
