"""Calibration: 95% seed-bootstrap intervals cover the truth in 92–98% of replicates.

The estimand. On a finite grid the frontier slope and γ are not the law's
exponents (the frontier is piecewise, iso-compute slices are a few discrete
sizes, the floor E bends log-log curves). What the intervals must cover is the
*population value for this design*: the same pipeline applied to noise-free
losses from the same grid. Each replicate redraws the seed noise — independent
lognormal per run (σ = 0.03) plus a lognormal per-seed effect shared by every
configuration (σ = 0.01) — with 3 seeds, then builds a 95% percentile interval
from the per-configuration seed bootstrap. 300 replicates: a true 95% coverage
lands in [92%, 98%] with probability ≈ 0.99 (binomial SE 1.3%). All RNG seeds
are fixed. Percentile intervals beat the basic and bias-corrected ones here
(γ: 94% vs 82% and 90% over 300 replicates), so we keep percentile.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import synthetic as S  # noqa: E402

from pytest_scaling import analysis as A  # noqa: E402

REPLICATES = 300
RESAMPLES = 600
SEEDS = (0, 1, 2)


def noise_free(builder, law_kw=None, **kw):
    clean = S.make_grid(rng=0, sigma=0, sigma_seed=0, seeds=(0,), law_kw=law_kw)
    c = A.cells_from_runs(clean)
    return float(builder(c, **kw)[0](c.means()[None])[0])


def coverage(estimate, truth):
    hits = []
    for r in range(REPLICATES):
        lo, hi = estimate(r).ci(0.95)
        hits.append(lo <= truth <= hi)
    return float(np.mean(hits))


def test_frontier_slope_coverage():
    truth = noise_free(A._frontier_stat)
    cov = coverage(lambda r: A.frontier_slope(S.make_grid(rng=1000 + r, seeds=SEEDS), n_resamples=RESAMPLES,
                                              seed=r), truth)
    print(f"frontier slope coverage {cov:.3f}")
    assert 0.92 <= cov <= 0.98


def test_gamma_isoflop_coverage():
    truth = noise_free(A._optimum_stat, approach="isoflop")
    cov = coverage(lambda r: A.compute_optimal_exponent(S.make_grid(rng=2000 + r, seeds=SEEDS), compare=False,
                                                        n_resamples=RESAMPLES, seed=r), truth)
    print(f"gamma (isoflop) coverage {cov:.3f}")
    assert 0.92 <= cov <= 0.98


@pytest.mark.parametrize("what", ["frontier", "gamma"])
def test_two_seed_coverage_with_pooled_residuals(what):
    """With 2 seeds ``scheme='auto'`` pools residuals across configurations (a per-cell
    bootstrap covered only ~88% here); the pooled intervals must still be calibrated."""
    if what == "frontier":
        truth = noise_free(A._frontier_stat)
        f = lambda r: A.frontier_slope(S.make_grid(rng=4000 + r, seeds=(0, 1)), n_resamples=RESAMPLES, seed=r)
    else:
        truth = noise_free(A._optimum_stat, approach="isoflop")
        f = lambda r: A.compute_optimal_exponent(S.make_grid(rng=5000 + r, seeds=(0, 1)), compare=False,
                                                 n_resamples=RESAMPLES, seed=r)
    assert "pooled" in f(0).method
    cov = coverage(f, truth)
    print(f"two-seed {what} coverage {cov:.3f}")
    assert 0.92 <= cov <= 0.98


def test_paired_difference_coverage():
    """Δ frontier slope between two conditions sharing seeds (their per-seed effects are common)."""
    alt = dict(E=0.15)
    truth = noise_free(A._frontier_stat, law_kw=alt) - noise_free(A._frontier_stat)
    assert truth < -0.005  # a real difference

    def est(r):
        rng = np.random.default_rng(3000 + r)
        shared = rng.normal(0, 0.01, len(SEEDS))
        a = S.make_grid(rng=rng, seeds=SEEDS, seed_effects=shared, dropout=0.2, law_kw=alt)
        b = S.make_grid(rng=rng, seeds=SEEDS, seed_effects=shared)
        return A.paired_difference(a, b, "frontier_slope", n_resamples=RESAMPLES, seed=r)

    cov = coverage(est, truth)
    print(f"paired difference coverage {cov:.3f}")
    assert 0.92 <= cov <= 0.98
