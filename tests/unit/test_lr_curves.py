"""The LR slope's bootstrap resamples whole (width, seed) sweep curves.

The runs of one (width, seed) sweep share their initialisation and data order, so their noise is
correlated along the LR axis. The simulation: `small`'s sweep (widths 4/11/32, multipliers ×1/8…×8
in factors of 2, 2 seeds), the uneven basins of tests/unit/test_lr_interval.py (family A: a gentle
rise below LR*, a wall above it that is steeper and closer at narrow widths), LR* = 0.1·m*/sqrt(9·width)
so the true slope is −0.5; ln m* uniform in [ln 0.7, ln 2] per replicate. Each (width, seed) curve's
optimum sits at ln m* + δ, δ ~ N(0, 0.3²) drawn once per curve (the shared part), and each run adds
its own noise, sd 0.01 + 0.05·h below LR* and 0.02 + 0.15·h above it (h nats above the minimum:
larger towards divergence); above h = 0.8 a run diverges (dropped) with probability 0.3.

Measured (400 replicates, seeds 70000+, 300 resamples), coverage of the 95% CI against the true slope
and median CI width:

    whole curves, t/z-expanded (the default)     94.3%   1.08
    whole curves, plain percentile               82.0%   0.49
    cells resampled independently ('pooled')     86.8%   0.62

(the first 300, which the test reads: 94.7%, 82.3%, 88.3%). Whole curves need the expansion: with 2
seeds a width has 3 distinct draws and its vertex variance 1 df, so the slope's variance rests on ≈ 2 df.
"""

import numpy as np
import pytest

from pytest_scaling import analysis as A
from pytest_scaling.estimators.lr_fan_in import _curve_df, _lr_groups
from pytest_scaling.runs import RunTable

from tests.unit.test_lr_interval import CAP, DESIGNS, TRUE_SLOPE, _run, basin

REPLICATES = 300
RESAMPLES = 300


def curve_sweep(rng, design="2x", family="A", sd_offset=0.3, seeds=2, below=(0.01, 0.05), above=(0.02, 0.15)):
    """One simulated sweep whose (width, seed) curves each carry their own offset of the optimum."""
    rng = np.random.default_rng(rng)
    mults, widths = DESIGNS[design]
    ln_m = rng.uniform(np.log(0.7), np.log(2.0))
    runs = []
    for w in widths:
        base = -0.6 - 0.1 * np.log(w)
        for s in range(seeds):
            d = np.log(mults) - ln_m - rng.normal(0, sd_offset)  # this curve's optimum: shared by its LRs
            h = basin(family, w, d)
            sd = np.where(d > 0, above[0] + above[1] * h, below[0] + below[1] * h)
            y = base + h + sd * rng.normal(size=h.size)
            y[(d > 0) & (h > 0.8) & (rng.random(h.size) < 0.3)] = np.nan  # diverged
            for i, m in enumerate(mults):
                runs.append(_run(w, m, s, np.exp(min(y[i], base + CAP + 0.3))))
    return RunTable(runs)


def _coverage(scheme, design="2x", seeds=2):
    hits, widths = [], []
    for r in range(REPLICATES):
        e = A.lr_fan_in_slope(curve_sweep(70_000 + r, design=design, seeds=seeds), n_resamples=RESAMPLES, seed=r,
                              scheme=scheme)
        lo, hi = e.ci(0.95)
        hits.append(lo <= TRUE_SLOPE <= hi)
        widths.append(hi - lo)
    return float(np.mean(hits)), float(np.median(widths))


def test_whole_curve_bootstrap_covers_the_true_slope_under_curve_shared_noise():
    new, new_width = _coverage("auto")
    old, old_width = _coverage("pooled")
    print(f"whole curves: coverage {new:.3f}, width {new_width:.3f}; cell-wise: {old:.3f}, {old_width:.3f}")
    assert 0.92 <= new <= 0.98
    assert old < 0.92 and old < new - 0.03  # cells drawn independently treat one curve as several draws


def test_whole_curve_bootstrap_covers_the_true_slope_on_smalls_sweep():
    """`small`'s sweep since issue #22: widths 2, 4, 11, 32 × √2 steps near the optimum × 3 seeds."""
    cover, width = _coverage("auto", design="small", seeds=3)
    print(f"small's sweep, whole curves: coverage {cover:.3f}, width {width:.3f}")
    assert 0.92 <= cover <= 0.98


def test_a_shift_shared_by_one_curve_does_not_scatter_the_resamples():
    """Seed 1's curve is seed 0's shifted up by a constant at every LR: a shift of the whole curve moves
    no vertex, so whole-curve draws all give the point estimate; cell-wise draws break the curve apart."""
    import dataclasses

    runs = [r for r in curve_sweep(3, sd_offset=0.0) if r.spec.seed == 0 and np.isfinite(r.val_loss)]
    twins = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, seed=1), val_loss=r.val_loss * np.exp(0.05))
             for r in runs]
    sweep = RunTable(runs + twins)
    whole = A.lr_fan_in_slope(sweep, n_resamples=200)
    cellwise = A.lr_fan_in_slope(sweep, n_resamples=200, scheme="pooled")
    assert np.ptp(whole.samples) == pytest.approx(0, abs=1e-9)
    assert np.ptp(cellwise.samples) > 0.05
    assert whole.details["bootstrap_unit"].startswith("(width, seed) sweep curve")
    assert cellwise.details["bootstrap_unit"].startswith("configuration")


def test_expansion_follows_the_seeds_per_width():
    """t/z at the slope's Satterthwaite df: ≈2 for 3 widths × 2 seeds, ≈4 with 3 seeds."""
    for seeds, df in ((2, 2.0), (3, 4.0)):
        sweep = curve_sweep(5, seeds=seeds)
        cells = A.cells_from_runs(sweep)
        assert _curve_df(cells, _lr_groups(cells)[1]) == pytest.approx(df, abs=0.05)
        e = A.lr_fan_in_slope(sweep, n_resamples=100)
        assert e.details["expansion_df"] == pytest.approx(df, abs=0.05)
        assert e.details["interval_expansion"] > 1 and "whole (width, seed) sweep curves" in e.method
        assert "interval_expansion" not in A.lr_fan_in_slope(sweep, n_resamples=100, scheme="pooled").details
