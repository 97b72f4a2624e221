"""Seed-bootstrap machinery: grouping, variance of resampled means, pairing, determinism."""

import numpy as np
import pytest

from pytest_scaling.bootstrap import (Cells, draw_indices, match_cells, paired_seed_bootstrap, resample_means,
                                      seed_bootstrap)
from pytest_scaling.errors import FitError


def make_cells(k=3, C=40, sigma=0.05, seed=0, shared=None, keyshift=0.0):
    rng = np.random.default_rng(seed)
    keys, seeds, vals = [], [], []
    for c in range(C):
        for s in range(k):
            keys.append((c, 0.0 + keyshift))
            seeds.append(s)
            vals.append(np.exp(0.1 * c + sigma * rng.normal() + (0 if shared is None else shared[s])))
    design = {"flops": np.array([float(kk[0] + 1) for kk in keys])}
    return Cells.from_arrays(keys, seeds, vals, design, ("config", "cond"))


def test_cells_group_runs_by_configuration():
    cells = make_cells(k=3, C=5)
    assert cells.n_cells == 5 and cells.n_runs == 15 and cells.logy.shape == (5, 3, 1)
    assert cells.counts.tolist() == [3] * 5 and cells.seeds[0].tolist() == [0, 1, 2]
    np.testing.assert_allclose(cells.design["flops"], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(cells.means()[:, 0], cells.logy[:, :, 0].mean(1))


@pytest.mark.parametrize("k", [2, 3, 5])
def test_inflated_residuals_give_unbiased_variance_of_cell_means(k):
    """Var*(resampled mean) = s²/k (the unbiased variance of a mean), not (k−1)/k of it."""
    cells = make_cells(k=k, C=200)
    rng = np.random.default_rng(1)
    idx = draw_indices(cells.counts, 4000, rng)
    M = resample_means(cells, idx)[:, :, 0]
    s2 = cells.logy[:, :, 0].var(axis=1, ddof=1)
    ratio = M.var(axis=0) / (s2 / k)
    assert ratio.mean() == pytest.approx(1.0, abs=0.03)
    plain = resample_means(cells, idx, inflate=False)[:, :, 0]
    assert (plain.var(axis=0) / (s2 / k)).mean() == pytest.approx((k - 1) / k, abs=0.03)


def test_pooled_scheme_uses_every_cells_residuals_and_is_auto_with_two_seeds():
    cells = make_cells(k=2, C=300, sigma=0.05)
    from pytest_scaling.bootstrap import resample_means_pooled, resolve_scheme
    assert resolve_scheme("auto", cells) == "pooled" and resolve_scheme("auto", make_cells(k=3)) == "cell"
    M = resample_means_pooled(cells, np.random.default_rng(0).random((3000, 300, 2)))[:, :, 0]
    # every cell's resampled mean has the pooled variance σ²/2, whatever its own two seeds say
    v = M.var(axis=0)
    assert np.median(v) == pytest.approx(0.05 ** 2 / 2, rel=0.1) and v.std() / v.mean() < 0.1
    res = seed_bootstrap(cells, lambda M: M[:, :, 0].mean(1), n_resamples=100)
    assert "pooled" in res.method


def test_bootstrap_is_deterministic_and_counts_resamples():
    cells = make_cells()
    stat = lambda M: M[:, :, 0].mean(1)
    a = seed_bootstrap(cells, stat, n_resamples=500, seed=7)
    b = seed_bootstrap(cells, stat, n_resamples=500, seed=7)
    c = seed_bootstrap(cells, stat, n_resamples=500, seed=8)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert a.n_resamples == 500 and "per-configuration" in a.method
    chunked = seed_bootstrap(cells, stat, n_resamples=500, seed=7, chunk=128)
    assert chunked.samples.shape == (500,)


def test_single_seed_everywhere_is_an_error_and_singletons_use_pooled_residuals():
    one = make_cells(k=1)
    with pytest.raises(FitError, match="single seed"):
        seed_bootstrap(one, lambda M: M[:, :, 0].mean(1), n_resamples=10)
    keys = [(0, 0.0), (0, 0.0), (1, 0.0), (1, 0.0), (2, 0.0)]
    cells = Cells.from_arrays(keys, [0, 1, 0, 1, 0], [1.0, 1.2, 2.0, 2.2, 3.0], {"flops": np.ones(5)})
    res = seed_bootstrap(cells, lambda M: M[:, 2, 0], n_resamples=400, seed=0)
    assert res.samples.std() > 0  # the single-seed cell still varies


def test_global_seed_scheme_needs_balanced_seeds():
    cells = make_cells(k=3)
    res = seed_bootstrap(cells, lambda M: M[:, :, 0].mean(1), n_resamples=200, scheme="seed")
    assert "global seed ids" in res.method
    # only 10 distinct multisets of 3 seeds exist
    assert np.unique(np.round(res.samples, 12)).size <= 10
    keys = [(0, 0.0), (0, 0.0), (1, 0.0)]
    unbalanced = Cells.from_arrays(keys, [0, 1, 0], [1.0, 1.1, 2.0], {"flops": np.ones(3)})
    with pytest.raises(FitError, match="same seeds"):
        seed_bootstrap(unbalanced, lambda M: M[:, 0, 0], n_resamples=10, scheme="seed")


def test_paired_bootstrap_cancels_shared_seed_noise():
    shared = np.array([0.3, -0.2, 0.1])  # big per-seed effects shared by both conditions
    a = make_cells(seed=1, shared=shared, sigma=0.01)
    b = make_cells(seed=2, shared=shared, sigma=0.01, keyshift=0.2)
    a, b = match_cells(a, b, on=("config",))
    stat = lambda M: M[:, :, 0].mean(1)
    paired = paired_seed_bootstrap(a, b, stat, stat, n_resamples=1000, seed=0)
    sa = seed_bootstrap(a, stat, n_resamples=1000, seed=0)
    sb = seed_bootstrap(b, stat, n_resamples=1000, seed=1)
    unpaired_sd = np.hypot(sa.samples.std(), sb.samples.std())
    assert paired.samples.std() < 0.2 * unpaired_sd
    assert abs(paired.point) < 0.02


def test_match_cells_keeps_common_configurations_and_seeds():
    a = make_cells(k=3, C=5)
    keys = [(c, 0.2) for c in range(1, 7) for s in (1, 2, 3)]
    b = Cells.from_arrays(keys, [s for c in range(1, 7) for s in (1, 2, 3)], np.ones(len(keys)),
                          {"flops": np.ones(len(keys))}, ("config", "cond"))
    ma, mb = match_cells(a, b, on=("config",))
    assert [k[0] for k in ma.keys] == [1, 2, 3, 4] == [k[0] for k in mb.keys]
    assert ma.counts.tolist() == [2] * 4 and ma.seeds[0, :2].tolist() == [1, 2]
    with pytest.raises(FitError, match="align"):
        paired_seed_bootstrap(a, b, lambda M: M[:, 0, 0], lambda M: M[:, 0, 0], n_resamples=10)


def test_nonfinite_statistic_is_an_error_not_nan():
    cells = make_cells()
    with pytest.raises(FitError, match="not finite"):
        seed_bootstrap(cells, lambda M: np.full(M.shape[0], np.nan), n_resamples=10)


def test_bad_values_are_rejected():
    with pytest.raises(FitError, match="positive"):
        Cells.from_arrays([(0,)], [0], [0.0], {})
    with pytest.raises(FitError, match="no usable runs"):
        Cells.from_arrays([], [], np.zeros(0), {})
