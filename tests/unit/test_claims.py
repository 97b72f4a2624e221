"""Verdict logic of expect(), settings, records and the Holm correction."""

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from pytest_scaling.claims import ClaimRecord, Estimate, configure, expect, holm, holm_adjust, take_records
from pytest_scaling.errors import FitError
import contextlib


@pytest.fixture(autouse=True)
def _reset():
    configure()
    take_records()
    yield
    configure()
    take_records()


def boot(center, sd=0.01, n=4000, seed=0):
    """A bootstrap estimate whose 95% CI is ≈ center ± 1.96·sd."""
    s = np.random.default_rng(seed).normal(center, sd, n)
    return Estimate(value=center, method="seed bootstrap (test)", runs=12, quantity="q", samples=s)


def tint(center, se=0.01, df=10):
    return Estimate(value=center, method="OLS t-interval", runs=12, quantity="q", se=se, df=df)


CASES = [  # (claim, args, estimate centre → confirmed, refuted, inconclusive)
    ("below", (0.0,), -0.1, 0.1, 0.0),
    ("above", (0.0,), 0.1, -0.1, 0.0),
    ("between", (0.0, 1.0), 0.5, 1.5, 1.0),
    ("near", (-0.5, 0.1), -0.52, -0.2, -0.6),
]


@pytest.mark.parametrize("make", [boot, tint])
@pytest.mark.parametrize("form,args,conf,ref,inc", CASES)
def test_three_verdicts_for_every_form(make, form, args, conf, ref, inc):
    assert getattr(expect(make(conf), "q"), form)(*args).value == conf
    with pytest.raises(AssertionError) as exc:
        getattr(expect(make(ref), "q"), form)(*args)
    msg = str(exc.value)
    for part in ("refuted", "CI", "expected", "runs", "OLS" if make is tint else "bootstrap"):
        assert part in msg
    with pytest.raises(pytest.skip.Exception) as exc:
        getattr(expect(make(inc), "q"), form)(*args)
    assert "straddles" in str(exc.value)
    recs = take_records()
    assert [r.verdict for r in recs] == ["confirmed", "refuted", "inconclusive"]
    assert all(r.quantity == "q" and r.runs == 12 for r in recs)


def test_strict_mode_fails_inconclusive():
    configure(strict=True)
    with pytest.raises(pytest.fail.Exception, match="strict"):
        expect(boot(0.0), "q").below(0)
    assert take_records()[0].verdict == "inconclusive"


def test_bonferroni_widens_interval_with_family_size():
    # 95% CI of N(0.03, 0.01²) excludes 0 (z = 3 > 1.96) but the 1 − 0.05/20 one does not (z_crit ≈ 3.02)
    est = tint(0.03, se=0.01, df=None)
    expect(est, "q").above(0)
    configure(family_size=20)
    with pytest.raises(pytest.skip.Exception):
        expect(est, "q").above(0)
    r1, r2 = take_records()
    assert r1.confidence == pytest.approx(0.95) and r2.confidence == pytest.approx(1 - 0.05 / 20)
    assert r2.ci_low < r1.ci_low < 0.03
    assert r2.details["family_size"] == 20 and r2.details["nominal_confidence"] == 0.95


def test_flagged_estimate_is_inconclusive_with_its_reason():
    est = Estimate(value=-0.5, method="m", runs=3, samples=np.array([-0.5, -0.5, -0.5]),
                   reason="LR optimum at the sweep edge for width 32")
    with pytest.raises(pytest.skip.Exception, match="sweep edge for width 32"):
        expect(est, "slope").near(-0.5, 0.1)
    (r,) = take_records()
    assert r.verdict == "inconclusive" and "width 32" in r.reason and r.details["flagged"]


def test_p_value_matches_the_ci_verdict():
    """p ≤ α exactly when the (1−α) CI lies inside the claimed region."""
    rng = np.random.default_rng(1)
    for make in (boot, tint):
        for _ in range(40):
            c = rng.normal(0, 0.03)
            est = make(c)
            a, b = -0.05, 0.04
            for alpha in (0.01, 0.05, 0.2):
                lo, hi = est.ci(1 - alpha)
                inside = a < lo and hi < b
                p = est.p_value(a, b)
                if abs(p - alpha) > 2e-3:  # away from ties caused by quantile interpolation
                    assert (p <= alpha) == inside


def test_t_p_value_formula():
    est = tint(0.02, se=0.01, df=8)
    import scipy.stats
    assert est.p_value(high=0.05) == pytest.approx(2 * scipy.stats.t.sf(3.0, 8))
    assert est.p_value(0.0, 0.05) == pytest.approx(2 * max(scipy.stats.t.cdf(-2.0, 8), scipy.stats.t.sf(3.0, 8)))


def test_holm_matches_statsmodels():
    p = np.random.default_rng(3).uniform(0, 0.1, 17)
    p[[2, 5]] = [0.0004, 0.9]
    ref = multipletests(p, alpha=0.05, method="holm")[1]
    np.testing.assert_allclose(holm(p), ref)


def test_holm_adjust_records():
    ests = [boot(c, sd=0.01, seed=i) for i, c in enumerate([-0.06, -0.045, -0.03, 0.0, 0.05])]
    configure(family_size=5)
    for e in ests:
        with contextlib.suppress(AssertionError, pytest.skip.Exception):
            expect(e, "q").below(0)
    recs = take_records()
    out = holm_adjust(recs)
    # one hypothesis per claim: the smaller of its confirmation and refutation p-values
    ref = multipletests([min(r.p_value, r.details["p_refute"]) for r in recs], method="holm")[1]
    np.testing.assert_allclose([r.adjusted_p for r in out], ref)
    # Holm is at least as powerful as the Bonferroni used at test time
    for r, o in zip(recs, out):
        if r.verdict in ("confirmed", "refuted"):
            assert o.adjusted_verdict == r.verdict
    assert out[0].adjusted_verdict == "confirmed" and out[-1].adjusted_verdict == "refuted"
    assert out[3].adjusted_verdict == "inconclusive"


def test_record_roundtrip_and_nodeid(monkeypatch):
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "claims/test_x.py::test_gamma[small] (call)")
    expect(boot(-0.2), "slope").below(0)
    expect(boot(-0.2), "slope", claim="frontier is a power law").below(0)
    r, r2 = take_records()
    assert r.nodeid == "claims/test_x.py::test_gamma[small]" and r.name == "test_gamma[small]"
    assert r2.name == "frontier is a power law"
    d = r.to_dict()
    import json
    assert ClaimRecord.from_dict(json.loads(json.dumps(d))) == ClaimRecord.from_dict(d)
    assert d["expected"] == "< 0" and d["n_resamples"] == 4000 and d["method"].startswith("seed bootstrap")
    assert take_records() == []


def test_estimate_summary_and_errors():
    e = boot(-0.171)
    s = str(e)
    assert "95% CI" in s and "-0.171" in s and "resamples" in s and "runs used" in s
    assert float(e) == -0.171 and f"{e:.2f}" == "-0.17"
    with pytest.raises(FitError):
        Estimate(value=math.nan, method="m", runs=1, se=0.1)
    with pytest.raises(FitError):
        Estimate(value=0.0, method="m", runs=1, samples=np.array([0.0, np.nan]))
    with pytest.raises(ValueError):
        expect(e, "q").between(1, 0)
    with pytest.raises(TypeError):
        expect(0.5, "q")
    with pytest.raises(ValueError):
        configure(confidence=1.5)


def test_holm_is_one_family_of_one_decision_per_claim():
    """Each claim enters Holm once, with min(p_confirm, p_refute), and takes that side: a confirmation
    and a refutation share one ordering instead of spending α each in two families."""
    a = tint(-0.0411, se=0.01, df=None)  # "below 0": p_confirm ≈ 4e-5
    b = tint(0.0411, se=0.02, df=None)  # p_refute ≈ 0.04: refuted only at Holm's second step (×1)
    configure(family_size=2)
    for e in (a, b):
        with contextlib.suppress(AssertionError, pytest.skip.Exception):
            expect(e, "q").below(0)
    recs = take_records()
    p = np.array([min(r.p_value, r.details["p_refute"]) for r in recs])
    out = holm_adjust(recs)
    np.testing.assert_allclose([o.adjusted_p for o in out], multipletests(p, method="holm")[1])
    expected = ["inconclusive" if q > 0.05 else ("confirmed" if r.p_value <= r.details["p_refute"] else "refuted")
                for q, r in zip(multipletests(p, method="holm")[1], recs)]
    assert [o.adjusted_verdict for o in out] == expected
    assert expected == ["confirmed", "refuted"]


@pytest.mark.parametrize("n", [200, 400, 1000])
def test_one_tail_model_for_interval_and_p_value_at_deep_levels(n):
    """p ≤ α exactly when the (1−α) CI lies inside the region, at Holm/Bonferroni depths where fewer than
    MIN_TAIL resamples lie beyond an end (the extrapolated tail), for skewed resamples, estimates off the
    resamples' centre, and resamples with an atom on a parameter's bound with regions just above it."""
    rng = np.random.default_rng(n)
    checked = 0
    for i in range(90):
        c = rng.normal(0, 0.03)
        s = c + 0.01 * (rng.gamma(2.0, 1.0, n) - 2.0) * rng.choice([-1, 1])
        value = c + rng.choice([0.0, 0.015, -0.015])  # off-centre: the estimate near its own 2.5 % quantile
        details = {}
        a, b = -0.05, 0.04
        if i % 3 == 0:  # a bound at the region's edge or just inside it, with an atom of resamples on it
            s = np.where(rng.uniform(size=n) < rng.choice([0.005, 0.02, 0.2]), -0.06, np.maximum(s, -0.06))
            details = {"parameter_bounds": [-0.06, math.inf]}
            a = rng.choice([-0.06, -0.0599999, -0.059, -0.05])
        est = Estimate(value=value, method="seed bootstrap (test)", runs=12, quantity="q", samples=s,
                       details=details)
        for alpha in (0.05, 0.01, 0.05 / 8, 0.05 / 25, 1e-4):
            lo, hi = est.ci(1 - alpha)
            p = est.p_value(a, b)
            if abs(p - alpha) > 1e-9 * alpha:  # away from exact ties
                assert (p <= alpha) == (a < lo and hi < b), (c, value, alpha, p, lo, hi, a)
                checked += 1
    assert checked > 300


def test_bonferroni_confirmed_stays_holm_confirmed_with_counted_ends():
    """Two claims whose boundary lies between an order statistic and the interpolated quantile: both
    confirmed at test time (level 1 − 0.05/2) must stay confirmed under Holm."""
    rng = np.random.default_rng(7)
    s = np.sort(rng.normal(0.4, 0.03, 1000))
    boundary = 0.5 * (s[12] + s[13])  # 13 resamples ≤ boundary: p = 0.026
    configure(family_size=2)
    for _ in range(2):
        est = Estimate(value=0.4, method="seed bootstrap (test)", runs=12, quantity="q", samples=s)
        with contextlib.suppress(AssertionError, pytest.skip.Exception):
            expect(est, "q").above(boundary)
    recs = take_records()
    out = holm_adjust(recs)
    for r, o in zip(recs, out):
        assert r.verdict == "inconclusive" or o.adjusted_verdict == r.verdict


def test_resamples_on_a_parameter_bound_are_an_atom_never_extrapolated_through():
    """E ≥ 0 with 30 % of resamples on 0: P(E ≤ 0) is that share, the CI's lower end is 0 at every level,
    and "E > 0" cannot be confirmed however deep the family-wise level."""
    rng = np.random.default_rng(0)
    s = np.where(rng.uniform(size=400) < 0.3, 0.0, rng.gamma(2.0, 0.01, 400))
    est = Estimate(value=0.01, method="m", runs=12, quantity="E", samples=s,
                   details={"parameter_bounds": [0.0, 1.0]})
    assert est._tail(0.0, upper=False) == pytest.approx(np.mean(s <= 0))
    assert est.p_value(low=0.0) >= 0.5
    for level in (0.95, 0.995, 0.9999):
        assert est.ci(level)[0] == 0.0
    # with 3 of 400 on the bound (fewer than MIN_TAIL): the atom still bounds p from below
    s2 = np.concatenate([np.zeros(3), 0.05 + 0.005 * rng.standard_normal(397)])
    est2 = Estimate(value=0.05, method="m", runs=12, quantity="E", samples=s2,
                    details={"parameter_bounds": [0.0, 1.0]})
    assert est2.p_value(low=0.0) >= 2 * 3 / 400
    lo = est2.ci(1 - 2 * 3 / 400 * 0.9)[0]
    assert lo == 0.0 and est2.ci(0.95)[0] > 0.0


def test_no_seed_count_for_an_estimator_whose_shrinkage_is_unmeasured():
    """A bootstrap estimate without a measured seed exponent prescribes no seeds; a measured one does."""
    with pytest.raises(pytest.skip.Exception):
        expect(boot(0.01, sd=0.02), "q").below(0)
    measured = Estimate(value=0.01, method="m", runs=12, quantity="q",
                        samples=np.random.default_rng(0).normal(0.01, 0.02, 4000), details={"seed_exponent": 0.37})
    with pytest.raises(pytest.skip.Exception):
        expect(measured, "q").below(0)
    unmeasured, known = take_records()
    assert "no seed count is prescribed" in unmeasured.to_decide and "seeds_factor" not in unmeasured.details
    assert unmeasured.details["seeds_factor_if_sqrt"] > 1
    assert "seeds^−0.37" in known.to_decide and known.details["seeds_factor"] > unmeasured.details[
        "seeds_factor_if_sqrt"]
