"""Estimators that re-choose the compute-limited window outside ``pipeline.run`` (the fit-region shift, γ)
record how often a resample's own window was too narrow and, past MAX_NARROW, flag it and advise widening
the design with the frontier claims' own words (``common.narrow_share_reason``, ``design.widen_window``)."""

import pytest

from pytest_scaling import analysis as A
from pytest_scaling.estimators.common import MAX_NARROW, narrow_share_reason
from pytest_scaling.estimators.design import MIN_WINDOW_SLICES, choose_window, widen_window
from tests import synthetic_chains as S

N = 200


@pytest.fixture(scope="module")
def narrow_runs():
    """Widths 2–8, noisy chains: about 30 % of resamples' re-chosen windows are too narrow."""
    return S.make_chains(seeds=(0, 1), rng=4, widths=(2, 3, 4, 6, 8), sigma=0.12)


@pytest.fixture(scope="module")
def wide_runs():
    return S.make_chains(seeds=(0, 1), rng=0, widths=(1, 2, 3, 4, 6, 8), sigma=0.05)


@pytest.fixture(scope="module")
def frontier(narrow_runs):
    est = A.frontier_slope(narrow_runs, window="auto", n_resamples=N, seed=3)
    assert est.details["window_narrow_share"] > MAX_NARROW  # the premise: pipeline.finish flags it
    return est


def _advice(runs):
    return widen_window(choose_window(runs, "auto").design)


@pytest.mark.parametrize("estimator,kw", [("frontier_slope", {}),
                                          ("compute_optimal_exponent", {"approach": "isoflop"})])
def test_fit_region_shift_records_and_flags_its_narrow_window_share(narrow_runs, frontier, estimator, kw):
    est = A.fit_region_shift(narrow_runs, estimator, window="auto", n_resamples=N, seed=3, **kw)
    share = est.details["window_narrow_share"]
    assert est.details["window_resamples"] == N
    assert est.details["window_narrow_resamples"] == round(share * N)
    # the same resamples as the frontier's own estimate, so the same windows are too narrow
    assert share == pytest.approx(frontier.details["window_narrow_share"])
    assert narrow_share_reason(share, MIN_WINDOW_SLICES) in est.reason
    assert est.to_decide == _advice(narrow_runs) == frontier.to_decide


def test_fit_region_shift_with_a_wide_window_is_not_flagged(wide_runs):
    est = A.fit_region_shift(wide_runs, "frontier_slope", window="auto", n_resamples=N, seed=3)
    assert est.details["window_resamples"] == N
    assert est.details["window_narrow_share"] <= MAX_NARROW
    assert "re-chosen compute-limited window has fewer" not in est.reason
    assert est.to_decide != _advice(wide_runs)


def test_narrow_gamma_advises_widening_the_window(narrow_runs, frontier):
    gamma = A.compute_optimal_exponent(narrow_runs, approach="isoflop", window="auto", n_resamples=N, seed=3,
                                       compare=False)
    assert gamma.details["window_narrow_share"] > MAX_NARROW
    assert narrow_share_reason(gamma.details["window_narrow_share"], MIN_WINDOW_SLICES) in gamma.reason
    assert gamma.to_decide == _advice(narrow_runs) == frontier.to_decide
    joint = A.compute_optimal_exponents(narrow_runs, approaches=("envelope", "isoflop"), window="auto",
                                        n_resamples=N, seed=3)
    for name, est in joint.items():
        assert est.details["window_narrow_share"] > MAX_NARROW, name
        assert est.to_decide == frontier.to_decide, name


def test_gamma_with_a_wide_window_gets_no_widening_advice(wide_runs):
    gamma = A.compute_optimal_exponent(wide_runs, approach="isoflop", window="auto", n_resamples=N, seed=3,
                                       compare=False)
    assert gamma.details["window_narrow_share"] <= MAX_NARROW
    assert gamma.to_decide != _advice(wide_runs)
