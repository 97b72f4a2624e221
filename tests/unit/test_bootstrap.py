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
        seed_bootstrap(one, lambda M: M[:, :, 0].mean(1), n_resamples=10, scheme="pooled")
    with pytest.raises(FitError, match="size and data"):  # "auto": the residual bootstrap, which needs N and D
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


# --------------------------------------------------------------------------- chains

def make_chain_cells(k=3, G=30, P=6, sigma=0.05, rho=0.9, seed=0, drop=(), shared=None):
    """G chains groups × P positions × k seeds; seed noise is the same N(0, σ²) draw along a chain
    up to correlation ρ between positions (equicorrelated). ``drop``: (group, position, seed) runs left out."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(G, k)) if shared is None else shared
    keys, seeds, vals, chains, pos = [], [], [], [], []
    for g in range(G):
        for p in range(P):
            for s in range(k):
                if (g, p, s) in drop:
                    continue
                e = np.sqrt(rho) * z[g, s] + np.sqrt(1 - rho) * rng.normal()
                keys.append((g, 2.0 ** -p))
                seeds.append(s)
                vals.append(np.exp(0.1 * g - 0.2 * p + sigma * e))
                chains.append((g,))
                pos.append(2.0 ** -p)
    design = {"flops": np.array([float(kk[0] + 1) * kk[1] for kk in keys])}
    return Cells.from_arrays(keys, seeds, vals, design, ("width", "fraction"), chains, pos)


def test_chain_grouping_survives_subset_and_match_and_picks_the_chain_schemes():
    from pytest_scaling.bootstrap import resolve_scheme
    cells = make_chain_cells(G=4, P=3)
    group, pos = cells.chain_layout()
    assert cells.has_chains and group.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert sorted(set(pos.tolist())) == [0, 1, 2]
    assert resolve_scheme("auto", cells) == "chain"
    assert resolve_scheme("auto", make_chain_cells(k=2, G=4, P=3)) == "chain-pooled"
    sub = cells.subset(np.arange(cells.n_cells) % 3 == 0)  # one fraction per chain: no chains left
    assert sub.chain is not None and not sub.has_chains and resolve_scheme("auto", sub) == "cell"
    assert not make_cells().has_chains and resolve_scheme("auto", make_cells()) == "cell"  # no chain keys given
    a, b = match_cells(cells, make_chain_cells(G=4, P=3, seed=1), on=("width", "fraction"))
    assert a.has_chains and np.array_equal(a.chain_layout()[0], b.chain_layout()[0])
    with pytest.raises(ValueError, match="unknown bootstrap scheme"):
        resolve_scheme("chains", cells)


def test_cells_from_runs_chains_are_fraction_families_of_one_configuration():
    """Runs at f, f/2, … of one (width, dropout, LR, batch) form a chain; fraction 3/4 is another family."""
    import sys
    from pathlib import Path

    from pytest_scaling.analysis import cells_from_runs
    from pytest_scaling.runs import RunResult, RunSpec, RunTable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import synthetic as S

    cells = cells_from_runs(S.make_grid(rng=0, widths=(2, 4, 8), n_fractions=4, seeds=(0, 1)))
    group, _ = cells.chain_layout()
    for g in np.unique(group):  # one chain group per width, spanning its 4 fractions
        assert np.unique(cells.design["width"][group == g]).size == 1 and np.sum(group == g) == 4
    assert np.unique(group).size == 3
    runs = [RunResult(spec=RunSpec(width=4, fraction=f, seed=s, dropout=d), params=100, flops_per_example=10,
                      examples=int(1000 * f), val_loss=1.0 + 0.1 * s + f, val_acc=0.5)
            for f in (1.0, 0.5, 0.75, 0.375) for s in (0, 1) for d in (0.0, 0.2)]
    cells = cells_from_runs(RunTable(runs))
    group, _ = cells.chain_layout()
    fam = {}
    for g, key in zip(group, cells.keys):
        fam.setdefault(int(g), set()).add((key[1], key[2]))  # (fraction, dropout)
    assert sorted(map(sorted, fam.values())) == sorted([[(0.5, d), (1.0, d)] for d in (0.0, 0.2)]
                                                       + [[(0.375, d), (0.75, d)] for d in (0.0, 0.2)])
    # a sweep at one fraction has no chains: per-configuration resampling as before
    assert not cells_from_runs(S.make_lr_sweep(rng=0)).has_chains


@pytest.mark.parametrize("scheme", ["chain", "chain-pooled"])
def test_chain_schemes_keep_the_correlation_along_a_chain(scheme):
    """Resampled means of two cells of one chain are correlated like the seed noise (ρ = 0.9); cells of
    different chains are not, and each cell mean still has variance σ²/k. Per-cell schemes lose ρ."""
    k = 3 if scheme == "chain" else 2
    cells = make_chain_cells(k=k, G=200, P=4, rho=0.9)
    rng = np.random.default_rng(0)
    if scheme == "chain":
        from pytest_scaling.bootstrap import chain_indices
        idx = chain_indices(cells, 3000, rng)
        group, _ = cells.chain_layout()
        for g in range(3):  # the same seed ids in every cell of a chain group
            assert np.all(idx[:, group == g] == idx[:, group == g][:, :1])
        M = resample_means(cells, idx)[:, :, 0]
        Mc = resample_means(cells, draw_indices(cells.counts, 3000, rng))[:, :, 0]
    else:
        from pytest_scaling.bootstrap import _chain_pool, resample_means_chain_pooled, resample_means_pooled

        plan = _chain_pool(cells)
        M = resample_means_chain_pooled(cells, plan, rng.random((3000, 200, k)))[:, :, 0]
        Mc = resample_means_pooled(cells, rng.random((3000, cells.n_cells, k)))[:, :, 0]
    M = M.reshape(3000, 200, 4)
    Mc = Mc.reshape(3000, 200, 4)

    def corr(X, i, j):
        return np.median([np.corrcoef(X[:, g, i], X[:, g, j])[0, 1] for g in range(200)])

    assert corr(M, 0, 1) == pytest.approx(0.9, abs=0.1) and corr(M, 0, 3) == pytest.approx(0.9, abs=0.1)
    assert abs(np.median([np.corrcoef(M[:, g, 0], M[:, g + 1, 0])[0, 1] for g in range(199)])) < 0.05
    assert abs(corr(Mc, 0, 1)) < 0.05  # what the per-cell schemes assume
    v = M.var(axis=0).mean()
    assert v == pytest.approx(0.05 ** 2 / k, rel=0.15)


def test_chain_schemes_handle_missing_runs_and_pair_conditions():
    """A diverged run (a gap in a chain) and a single-seed cell are resampled without error, and
    pool the draws even in a 3-seed design (per-chain draws of a 1-seed cell would be constant);
    the paired chain bootstrap cancels chain noise shared by both conditions."""
    drop = {(0, 1, 2), (3, 0, 1), (3, 0, 2), (5, 2, 0)}
    assert "per-chain" in seed_bootstrap(make_chain_cells(k=3, G=10, P=3), lambda M: M[:, :, 0].mean(1),
                                         n_resamples=50, seed=0).method
    for k in (2, 3):
        gappy = make_chain_cells(k=k, G=10, P=3, drop=drop)
        assert gappy.counts.min() == 1
        res = seed_bootstrap(gappy, lambda M: M[:, :, 0].mean(1), n_resamples=300, seed=0)
        assert "pooled chain" in res.method and res.samples.std() > 0
        assert np.all(np.isfinite(res.samples))
    z = np.random.default_rng(5).normal(size=(40, 2)) * 6  # big chain effects shared by both conditions
    a = make_chain_cells(k=2, G=40, P=3, seed=1, shared=z, rho=0.95)
    b = make_chain_cells(k=2, G=40, P=3, seed=2, shared=z, rho=0.95)
    a, b = match_cells(a, b, on=("width", "fraction"))
    stat = lambda M: M[:, :, 0].mean(1)
    paired = paired_seed_bootstrap(a, b, stat, stat, n_resamples=1000, seed=0)
    assert "pooled chain" in paired.method
    unpaired = np.hypot(seed_bootstrap(a, stat, n_resamples=1000).samples.std(),
                        seed_bootstrap(b, stat, n_resamples=1000, seed=1).samples.std())
    assert paired.samples.std() < 0.2 * unpaired


def _seedless_law(rng, noise_at_small_d=0.06, noise_at_large_d=0.01):
    """One run per (N, D) of ln L = 3 − 0.3 ln N − 0.25 ln D plus noise that shrinks with D (uneven, as
    real runs are noisiest at tiny fractions), as cells with the design a residual bootstrap reads."""
    n, d = np.meshgrid(np.exp(np.linspace(0, 4, 6)), np.exp(np.linspace(0, 5, 9)), indexing="ij")
    n, d = n.ravel(), d.ravel()
    sd = np.interp(np.log(d), [0, 5], [noise_at_small_d, noise_at_large_d])
    y = np.exp(3 - 0.3 * np.log(n) - 0.25 * np.log(d) + rng.normal(0, sd))
    keys = [(a, b) for a, b in zip(n, d)]
    return Cells.from_arrays(keys, np.zeros(n.size, int), y, {"params": n, "examples": d, "flops": n * d})


def test_residual_bootstrap_without_seeds_covers_the_true_data_exponent():
    """Runs with one seed each: the interval of the D-exponent of a multiple regression covers the law's
    true −0.25 in 92–98 % of 200 replicates under uneven noise (a residual bootstrap's own claim)."""
    def slope_d(M):
        c = cells.design
        X = np.column_stack([np.ones(c["params"].size), np.log(c["params"]), np.log(c["examples"])])
        coef = np.linalg.lstsq(X, M[:, :, 0].T, rcond=None)[0]
        return coef[2]

    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(200):
        cells = _seedless_law(rng)
        res = seed_bootstrap(cells, slope_d, n_resamples=400, seed=int(rng.integers(1 << 30)))
        assert "no seeds" in res.method
        lo, hi = np.quantile(res.samples, [0.025, 0.975])
        hits += lo <= -0.25 <= hi
    assert 0.92 <= hits / 200 <= 0.98
