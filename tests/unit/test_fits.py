"""Fitters recover known laws; degenerate input raises FitError (a ValueError)."""

import numpy as np
import pytest
import scipy.optimize

from pytest_scaling import fits
from pytest_scaling.errors import FitError


def test_power_law_recovers_slope_and_prefactor():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e6, 1e12, 25)
    y = 40.0 * x ** -0.17 * np.exp(rng.normal(0, 0.02, x.size))
    f = fits.fit_power_law(x, y)
    assert f.slope == pytest.approx(-0.17, abs=0.01)
    assert f.prefactor == pytest.approx(40.0, rel=0.3)
    lo, hi = f.slope_ci(0.95)
    assert lo < -0.17 < hi and hi - lo < 0.02
    assert f.r2 > 0.99 and f.residuals.shape == (25,)
    np.testing.assert_allclose(f.predict(x), np.exp(f.result.fittedvalues))


def test_saturating_recovers_E_and_beats_power_law():
    rng = np.random.default_rng(1)
    x = np.geomspace(1e6, 1e13, 30)
    y = (0.3 + 80.0 * x ** -0.25) * np.exp(rng.normal(0, 0.005, x.size))
    f = fits.fit_saturating(x, y)
    assert f.E == pytest.approx(0.3, abs=0.03)
    assert f.alpha == pytest.approx(0.25, abs=0.03)
    assert f.A == pytest.approx(80.0, rel=0.5)
    assert f.better == "saturating" and f.delta_aic > 10 and f.f_pvalue < 1e-3
    np.testing.assert_allclose(f.predict(x), y, rtol=0.03)


def test_saturating_on_a_pure_power_law_prefers_no_floor():
    rng = np.random.default_rng(2)
    x = np.geomspace(1e6, 1e12, 30)
    y = 30.0 * x ** -0.15 * np.exp(rng.normal(0, 0.01, x.size))
    f = fits.fit_saturating(x, y)
    assert f.E < 0.05 * y.min() or f.f_pvalue > 0.01
    assert f.alpha == pytest.approx(0.15, abs=0.03)


def test_frontier_is_the_pareto_lower_envelope():
    rng = np.random.default_rng(3)
    c = rng.uniform(1, 100, 200)
    l = rng.uniform(0, 1, 200)  # noqa: E741 - c and l read as the plot's two axes
    idx = fits.frontier(c, l)
    assert np.all(np.diff(c[idx]) >= 0)
    brute = [i for i in range(200) if not np.any((c <= c[i]) & (l < l[i]) & (np.arange(200) != i))]
    assert sorted(idx.tolist()) == sorted(brute)
    assert fits.frontier([1, 2, 3], [3.0, 1.0, 2.0]).tolist() == [0, 1]


def chinchilla_data(noise=0.0, seed=0, n=12):
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e3, 1e6, n), np.geomspace(2e2, 6e4, n)))
    L = (0.25 + 10.0 / N ** 0.35 + 5.0 / D ** 0.3) * np.exp(rng.normal(0, noise, N.size))
    return N, D, L


def test_chinchilla_recovers_parameters_without_noise():
    N, D, L = chinchilla_data()
    f = fits.fit_chinchilla(N, D, L)
    assert f.n_starts == 4500
    assert f.E == pytest.approx(0.25, rel=0.02)
    assert f.A == pytest.approx(10.0, rel=0.1) and f.B == pytest.approx(5.0, rel=0.1)
    assert f.alpha == pytest.approx(0.35, abs=0.01) and f.beta == pytest.approx(0.3, abs=0.01)
    assert f.a == pytest.approx(0.3 / 0.65, abs=0.01) and f.b == pytest.approx(0.35 / 0.65, abs=0.01)
    assert float(f.E) == f.E and f.objective < 1e-8
    np.testing.assert_allclose(f.predict(N, D), L, rtol=1e-3)


def test_chinchilla_with_noise_and_bootstrap_ci_covers_truth():
    N, D, L = chinchilla_data(noise=0.02, seed=4)
    f = fits.fit_chinchilla(N, D, L, bootstrap=200, seed=0, starts=fits.chinchilla_grid()[::9])
    assert f.alpha == pytest.approx(0.35, abs=0.08) and f.beta == pytest.approx(0.3, abs=0.08)
    lo, hi = f.ci("a")
    assert lo < 0.3 / 0.65 < hi and hi - lo < 0.2
    assert f.bootstrap.shape == (200, 5)


def test_vectorised_lbfgs_matches_scipy_per_start():
    """Each row of the batch is its own problem: same optimum as scipy from that start."""
    N, D, L = chinchilla_data(noise=0.03, seed=5, n=8)
    lnN, lnD, lnL = np.log(N), np.log(D), np.log(L)
    starts = fits.chinchilla_grid()[::150]
    _x, f, _ = fits.fit_chinchilla_batched(lnN, lnD, lnL, starts)

    def fun(th):
        v, g = fits.chinchilla_objective(th[None], lnN, lnD, lnL)
        return v[0], g[0]
    ref = [scipy.optimize.minimize(fun, s, jac=True, method="L-BFGS-B",
                                   options={"ftol": 1e-12, "gtol": 1e-10}).fun for s in starts]
    assert np.min(f) == pytest.approx(np.min(ref), rel=1e-6)
    # rows are independent: optimising one start alone gives the same result as in the batch
    _x1, f1, _ = fits.fit_chinchilla_batched(lnN, lnD, lnL, starts[3:4])
    np.testing.assert_allclose(f1[0], f[3], rtol=1e-12)


def test_chinchilla_gradient_is_exact():
    N, D, L = chinchilla_data(noise=0.03, seed=6, n=6)
    th = np.array([[2.0, 1.5, -1.2, 0.4, 0.3], [5.0, 3.0, 0.2, 0.9, 0.6]])
    _f0, g0 = fits.chinchilla_objective(th, np.log(N), np.log(D), np.log(L))
    for k in range(5):
        d = np.zeros_like(th)
        d[:, k] = 1e-7
        fd = (fits.chinchilla_objective(th + d, np.log(N), np.log(D), np.log(L))[0]
              - fits.chinchilla_objective(th - d, np.log(N), np.log(D), np.log(L))[0]) / 2e-7
        np.testing.assert_allclose(fd, g0[:, k], rtol=1e-5, atol=1e-9)


def test_isoflop_parabola_vertex():
    N = np.geomspace(1e3, 1e6, 7)
    L = 0.5 + 0.1 * (np.log(N) - np.log(3e4)) ** 2
    p = fits.fit_isoflop_parabola(N, L, log_loss=False)
    assert p.n_opt == pytest.approx(3e4, rel=1e-6) and p.interior
    edge = fits.fit_isoflop_parabola(N, 1.0 / np.log(N))
    assert not edge.interior and edge.n_opt == pytest.approx(1e6)


def test_lr_optimum_local_parabola_not_argmin():
    lr = 2.0 ** np.arange(-3, 4)
    loss = 1.0 + 0.05 * (np.log(lr) - np.log(1.5)) ** 2
    o = fits.fit_lr_optimum(lr, loss, log_loss=False)
    assert o.lr == pytest.approx(1.5, rel=1e-6) and not o.at_edge  # argmin would say 1 or 2
    beyond = fits.fit_lr_optimum(lr, 1.0 + 0.05 * (np.log(lr) - np.log(20)) ** 2)
    assert beyond.at_edge and "largest" in beyond.reason
    just_inside = fits.fit_lr_optimum(lr, 1.0 + 0.05 * (np.log(lr) - np.log(7)) ** 2)
    assert just_inside.at_edge  # best point is the edge value 8


def test_are():
    np.testing.assert_allclose(fits.absolute_relative_error([1.1, 0.9], [1.0, 1.0]), [0.1, 0.1])


@pytest.mark.parametrize("call,match", [
    (lambda: fits.fit_power_law([1, 2], [1, 2]), "at least 3"),
    (lambda: fits.fit_power_law([1, 2, 3], [1, 0, 2]), "non-positive"),
    (lambda: fits.fit_power_law([1, 2, np.nan], [1, 2, 3]), "NaN"),
    (lambda: fits.fit_power_law([2, 2, 2], [1, 2, 3]), "distinct"),
    (lambda: fits.fit_saturating([1, 2, 3], [3, 2, 1]), "at least 4"),
    (lambda: fits.fit_chinchilla([1e3] * 8, np.arange(1, 9) * 1e3, np.ones(8)), "distinct N"),
    (lambda: fits.fit_chinchilla([1e3, 2e3], [1e3, 2e3], [1, 1]), "at least 6"),
    (lambda: fits.frontier([], []), "zero points"),
    (lambda: fits.fit_lr_optimum([1, 2], [1, 1]), "at least 3"),
])
def test_degenerate_input_raises_fit_error(call, match):
    with pytest.raises(FitError, match=match) as exc:
        call()
    assert isinstance(exc.value, ValueError)


def test_objective_is_stable_for_huge_log_terms():
    """Line-search trial points can push a − α lnN past exp's range; the shifted LSE stays exact."""
    N, D, L = chinchilla_data(n=5)
    lnN, lnD, lnL = np.log(N), np.log(D), np.log(L)
    th = np.array([[750.0, 1.0, 0.0, 0.1, 0.3]])
    f, g = fits.chinchilla_objective(th, lnN, lnD, lnL)
    pred = np.logaddexp.reduce(np.stack([750 - 0.1 * lnN, 1 - 0.3 * lnD, np.zeros_like(lnN)]), axis=0)
    r = pred - lnL
    assert f[0] == pytest.approx(np.sum(1e-3 * (np.abs(r) - 0.5e-3)))
    assert np.all(np.isfinite(g))
    d = np.zeros_like(th)
    d[0, 3] = 1e-6
    objective = fits.chinchilla_objective
    fd = (objective(th + d, lnN, lnD, lnL)[0] - objective(th - d, lnN, lnD, lnL)[0]) / 2e-6
    assert fd[0] == pytest.approx(g[0, 3], rel=1e-5)
