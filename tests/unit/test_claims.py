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
    ref = multipletests([r.p_value for r in recs], method="holm")[1]
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
