"""Estimators on synthetic run tables from known laws."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import synthetic as S

from pytest_scaling import analysis as A
from pytest_scaling import fits
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.runs import RunTable


@pytest.fixture(scope="module")
def runs():
    return S.make_grid(rng=1)


def noise_free(builder, runs_kw=None, **kw):
    """The pipeline on noise-free data from the same grid: the estimand for this design."""
    clean = S.make_grid(rng=0, sigma=0, sigma_seed=0, seeds=(0,), **(runs_kw or {}))
    c = A.cells_from_runs(clean)
    return float(builder(c, **kw)[0](c.means()[None])[0])


def test_frontier_slope_recovers_noise_free_value(runs):
    e = A.frontier_slope(runs, n_resamples=500)
    truth = S.law_frontier_slope()
    lo, hi = e.ci(0.95)
    assert isinstance(e, Estimate) and lo < truth < hi and hi - lo < 0.02
    assert e.runs == len(runs) and e.n_resamples == 500 and e.details["frontier_points"] >= 10
    assert e.value < 0 and "bootstrap" in e.method
    ols = A.frontier_slope(runs, method="ols")
    assert ols.value == pytest.approx(e.value) and ols.se is not None and "OLS" in ols.method


def test_frontier_of_a_pure_power_law_has_the_law_slope():
    """With B = 0, E = 0 and one data fraction, L = A/N^α and C ∝ N at large width: slope −α."""
    runs = S.make_grid(rng=2, widths=S.WIDTHS, n_fractions=1, law_kw=dict(E=0.0, B=0.0), sigma=0.01)
    e = A.frontier_slope(runs, n_resamples=300, min_compute=1e11)
    assert e.value == pytest.approx(-0.35, abs=0.02)


def test_fit_region_records_runs_used_and_shift(runs):
    e = A.frontier_slope(runs, n_resamples=200, drop_smallest_decades=1)
    reg = e.details["fit_region"]
    assert reg["runs_dropped"] > 0 and reg["runs_used"] == len(runs) - reg["runs_dropped"]
    assert reg["frontier_points_dropped"] > 0
    assert isinstance(e.details["estimate_full_region"], float)
    assert e.details["estimate_full_region"] != pytest.approx(e.value, abs=1e-9)


def test_accuracy_frontier_slope_is_negative(runs):
    e = A.accuracy_frontier_slope(runs, n_resamples=300)
    assert e.ci()[1] < 0 and "err" in e.quantity


def test_saturating_frontier_finds_the_floor(runs):
    e = A.saturating_frontier(runs, n_resamples=40)
    assert e.details["E"] == pytest.approx(0.25, abs=0.1)
    assert e.details["better"] == "saturating" and e.details["delta_aic"] > 0
    assert 0 < e.value < 1 and e.n_resamples == 40


@pytest.mark.parametrize("approach", ["isoflop", "envelope"])
def test_compute_optimal_exponent_direct_approaches(runs, approach):
    e = A.compute_optimal_exponent(runs, approach=approach, n_resamples=400, compare=False)
    truth = noise_free(A._optimum_stat, approach=approach)
    lo, hi = e.ci()
    assert lo < truth < hi and 0 < e.value < 1
    assert e.details["slices_used"] >= 3 and e.details["levels"] == "grid diagonals"


def test_parametric_gamma_recovers_beta_over_alpha_plus_beta(runs):
    e = A.compute_optimal_exponent(runs, approach="parametric", n_resamples=100, compare=True)
    assert e.value == pytest.approx(0.3 / 0.65, abs=0.05)
    assert e.details["alpha"] == pytest.approx(0.35, abs=0.05) and e.details["beta"] == pytest.approx(0.3, abs=0.05)
    others = e.details["other_approaches"]
    assert set(others) == {"envelope", "isoflop"} and all(0 < v < 1 for v in others.values())


def test_per_axis_exponents(runs):
    out = A.per_axis_exponents(runs, n_resamples=300)
    # pure log-log slopes of a saturating law are shallower than the law's exponents
    assert -0.35 < out["N"].value < 0 and -0.3 < out["D"].value < 0
    assert out["N"].ci()[1] < 0 and out["D"].ci()[1] < 0
    assert out["N"].runs == 11 * 3 and out["D"].runs == 7 * 3


def test_lr_fan_in_slope_recovers_design():
    sweep = S.make_lr_sweep(rng=2, s=0.1)
    e = A.lr_fan_in_slope(sweep, n_resamples=500)
    lo, hi = e.ci()
    assert lo < -0.4 < hi and not e.reason
    assert set(e.details["per_width"]) == {"4", "11", "32"}


def test_lr_optimum_at_sweep_edge_flags_the_estimate():
    sweep = S.make_lr_sweep(rng=3, m0=16.0)
    e = A.lr_fan_in_slope(sweep, n_resamples=100)
    assert "sweep edge for width 4" in e.reason and "width 32" in e.reason
    from pytest_scaling.claims import expect, take_records
    with pytest.raises(pytest.skip.Exception, match="sweep edge"):
        expect(e, "slope").near(-0.5, 0.2)
    assert take_records()[-1].verdict == "inconclusive"


def test_lr_sweep_needs_one_fraction():
    sweep = S.make_lr_sweep(rng=3)
    other = S.make_grid(rng=1, widths=(4,), n_fractions=1)
    with pytest.raises(FitError, match="one data fraction"):
        A.lr_fan_in_slope(RunTable(list(sweep) + list(other)))


def test_paired_difference_detects_a_real_shift_and_not_a_null():
    se = np.random.default_rng(9).normal(0, 0.01, 3)
    base = S.make_grid(rng=5, seed_effects=se)
    same = S.make_grid(rng=6, seed_effects=se, dropout=0.2)
    # a lower floor E makes ln L fall faster with compute: the frontier steepens
    steeper = S.make_grid(rng=6, seed_effects=se, dropout=0.2, law_kw=dict(E=0.1))
    null = A.paired_difference(same, base, "frontier_slope", n_resamples=500)
    lo, hi = null.ci()
    assert lo < 0 < hi and null.details["configs_paired"] == 77
    shift = A.paired_difference(steeper, base, A.frontier_slope, n_resamples=500)
    assert shift.ci()[1] < 0 and "paired" in shift.method
    dg = A.paired_difference(same, base, "compute_optimal_exponent", n_resamples=300)
    assert dg.ci()[0] < 0 < dg.ci()[1] and "Δγ" in dg.quantity


@pytest.mark.parametrize("use_checkpoints", [False, True])
def test_extrapolation_are_is_small_on_a_true_law(use_checkpoints):
    runs = S.make_grid(rng=3, widths=S.WIDTHS[:8], n_fractions=5, checkpoints=4, sigma=0.01)
    e = A.extrapolation_are(runs, use_checkpoints, n_resamples=60, starts=fits.chinchilla_grid()[::15])
    assert 0 <= e.value < 0.05 and e.ci()[1] < 0.1
    assert e.details["target_width"] == S.WIDTHS[7]
    # 7 smaller widths × 5 fractions final losses; checkpoints add points
    assert (e.details["train_points"] > 35) if use_checkpoints else (e.details["train_points"] == 35)


def test_diverged_runs_are_dropped_and_all_diverged_is_an_error():
    bad = {(w, j, s) for w in S.WIDTHS[:11] for j in range(7) for s in (0, 1, 2)}
    with pytest.raises(FitError, match=r"all .* runs diverged"):
        A.frontier_slope(S.make_grid(rng=1, diverged=bad))
    some = S.make_grid(rng=1, diverged={(64, 0, 0), (45, 1, 2)})
    e = A.frontier_slope(some, n_resamples=100)
    assert e.runs == 231 - 2


def test_single_seed_grid_is_bootstrapped_over_residuals():
    """One seed per configuration (a sweep imported without seeds): the residual bootstrap, named as such."""
    est = A.frontier_slope(S.make_grid(rng=1, seeds=(0,)), n_resamples=200)
    lo, hi = est.ci()
    assert "no seeds" in est.method and lo < est.value < hi


def test_too_few_slices_for_gamma():
    tiny = S.make_grid(rng=1, widths=(2, 3, 4), n_fractions=2)
    with pytest.raises(FitError, match="iso-compute"):
        A.compute_optimal_exponent(tiny, compare=False)


# --------------------------------------------------------------------------- estimators for the claims suite

def test_parametric_gamma_is_in_counted_flops_units():
    """FLOPs per example ∝ N^1.5 (like the CNN): N_opt ∝ C^{β/(α+1.5β)}, not C^{β/(α+β)}."""
    base = S.make_grid(rng=1)
    runs = RunTable(dataclasses.replace(r, flops_per_example=int(50 * r.params ** 1.5)) for r in base)
    e = A.compute_optimal_exponent(runs, approach="parametric", n_resamples=50, compare=True,
                                   starts=A.small_chinchilla_grid())
    assert e.details["flops_exponent_k"] == pytest.approx(1.5, abs=0.01)
    assert e.value == pytest.approx(0.3 / (0.35 + 1.5 * 0.3), abs=0.05)
    assert e.details["gamma_if_C_prop_ND"] == pytest.approx(0.3 / 0.65, abs=0.05)
    iso = e.details["other_approaches"]["isoflop"]
    assert abs(iso - e.value) < abs(iso - e.details["gamma_if_C_prop_ND"])


def test_small_chinchilla_grid_finds_the_full_grids_optimum(runs):
    g = A.small_chinchilla_grid()
    assert g.shape == (432, 5)
    c = A.cells_from_runs(runs)
    args = (c.design["params"], c.design["examples"], np.exp(c.means()[:, 0]))
    small, full = fits.fit_chinchilla(*args, starts=g), fits.fit_chinchilla(*args)
    assert small.a == pytest.approx(full.a, abs=1e-4) and small.objective == pytest.approx(full.objective, rel=1e-6)


def test_compute_optimal_exponents_are_joint_and_carry_plot_points(runs):
    out = A.compute_optimal_exponents(runs, n_resamples=150, starts=A.small_chinchilla_grid())
    assert set(out) == {"envelope", "isoflop", "parametric", "envelope − isoflop", "envelope − parametric",
                        "isoflop − parametric"}
    d = out["isoflop − parametric"]
    assert d.value == pytest.approx(out["isoflop"].value - out["parametric"].value)
    # joint resamples: the difference's spread is not the sum of the two spreads
    assert d.samples.size == 150
    for est in out.values():
        pts = est.details["nopt_points"]
        assert set(pts) == {"envelope", "isoflop", "parametric"}
        assert all(np.all(np.asarray(p) > 0) for p in pts.values())
    assert out["isoflop"].details["nopt_fits"]["isoflop"]["slope"] == pytest.approx(out["isoflop"].value)
    # the parametric N_opt(C) curve rises with compute at the fitted exponent (C ∝ N·D here, roughly)
    p = np.asarray(out["parametric"].details["nopt_points"]["parametric"])
    assert np.all(np.diff(np.log(p[:, 1])) >= 0)
    slope = np.polyfit(np.log(p[:, 0]), np.log(p[:, 1]), 1)[0]
    assert slope == pytest.approx(out["parametric"].value, abs=0.1)


def test_frontier_curvature_separates_a_power_law_from_a_floor():
    straight = S.make_grid(rng=2, law_kw=dict(E=0.0))
    bent = S.make_grid(rng=2, law_kw=dict(E=1.0))
    e0 = A.frontier_curvature(straight, n_resamples=300)
    e1 = A.frontier_curvature(bent, n_resamples=300)
    assert e1.value > e0.value and e1.ci()[0] > 0.5
    assert e1.details["frontier_slope"] < 0 and e1.details["slope_change"] > 0


def test_lr_optima_details_bracket_each_width():
    sweep = S.make_lr_sweep(rng=2, s=0.0, m0=1.0)
    e = A.lr_fan_in_slope(sweep, n_resamples=300)
    for w, (star, lo, hi) in e.details["lr_optima"].items():
        assert lo <= star <= hi and 0.7 < star < 1.4, w
    assert e.details["distance_from_mup"] == pytest.approx(e.value + 1)


def test_per_axis_gamma_is_consistent_with_the_axis_slopes(runs):
    out = A.per_axis_gamma(runs, compare="isoflop", n_resamples=300)
    aN, aD = out["alpha_N"].value, out["alpha_D"].value
    k = out["gamma_implied"].details["flops_exponent_k"]
    assert k == pytest.approx(1.0, abs=0.05)  # synthetic FLOPs per example grow ~linearly in params
    assert out["gamma_implied"].value == pytest.approx(aD / (aN + k * aD))
    axes = A.per_axis_exponents(runs, n_resamples=10)
    assert aN == pytest.approx(-axes["N"].value) and aD == pytest.approx(-axes["D"].value)
    assert out["gamma_implied − direct"].value == pytest.approx(
        out["gamma_implied"].value - out["gamma_implied"].details["gamma_direct_isoflop"])


def test_extrapolation_are_difference_matches_the_two_fits():
    runs = S.make_grid(rng=3, widths=S.WIDTHS[:8], n_fractions=5, checkpoints=4, sigma=0.01)
    st = fits.chinchilla_grid()[::15]
    d = A.extrapolation_are_difference(runs, n_resamples=60, starts=st)
    assert d.value == pytest.approx(d.details["are_checkpoints"] - d.details["are_final"], abs=1e-9)
    assert d.details["are_final"] == pytest.approx(A.extrapolation_are(runs, False, n_resamples=5, starts=st).value,
                                                   rel=1e-3)
    assert abs(d.value) < 0.05


def test_sample_efficiency_slope_is_negative_on_the_law_and_needs_checkpoints():
    # octave checkpoints from 1/512 of the run: every width reaches every target inside its range
    runs = S.make_grid(rng=4, widths=S.WIDTHS[:8], n_fractions=3, checkpoints=10)
    e = A.sample_efficiency_slope(runs, n_resamples=300)
    assert e.ci()[1] < 0 and np.shape(e.details["examples_needed"]) == (4, 8) and e.details["fraction"] == 1.0
    assert all(s < 0 for s in e.details["per_target_slopes"])
    # checkpoints only from 1/16 of the run: the widest width starts below the narrowest's final loss
    with pytest.raises(FitError, match="no loss level is reached by every width"):
        A.sample_efficiency_slope(S.make_grid(rng=4, widths=S.WIDTHS[:8], n_fractions=3, checkpoints=5))
    with pytest.raises(FitError, match="checkpoints"):
        A.sample_efficiency_slope(S.make_grid(rng=4, widths=S.WIDTHS[:4], n_fractions=2))


def test_frontier_level_difference_measures_a_constant_factor():
    se = np.random.default_rng(9).normal(0, 0.01, 3)
    base = S.make_grid(rng=5, seed_effects=se)
    up = S.make_grid(rng=6, seed_effects=se, dropout=0.2, law_kw=dict(E=0.25 * 1.2, A=12.0, B=6.0))  # ×1.2
    e = A.paired_difference(up, base, "frontier_level", n_resamples=300)
    lo, hi = e.ci()
    assert lo < np.log(1.2) < hi + 0.01 and lo > 0


def test_fit_region_shift_records_both_estimates(runs):
    e = A.fit_region_shift(runs, "frontier_slope", drop_smallest_decades=1.0, n_resamples=300)
    assert e.details["fit_region"]["runs_dropped"] > 0
    assert e.value == pytest.approx(e.details["restricted"] - e.details["all_runs"])
    g = A.fit_region_shift(runs, "compute_optimal_exponent", approach="isoflop", n_resamples=200)
    assert g.quantity.startswith("Δγ") and g.details["approach"] == "isoflop"
    with pytest.raises(ValueError, match="supports"):
        A.fit_region_shift(runs, "lr_fan_in_slope")
