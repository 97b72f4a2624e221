"""Protocol estimators on synthetic grids with a known schedule effect and a known R*.

Noise is as uneven as in real runs: larger at small fractions (few steps, Adam's end-of-run
noise) and on the constant-LR runs than on the cooldown ones (the issue measured a seed
spread of 0.08 vs 0.014 at width 4, fraction 1/2), and correlated along a chain.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_scaling.errors import FitError
from pytest_scaling.estimators import protocols as P
from pytest_scaling.runs import RunResult, RunSpec, RunTable
from tests import synthetic as S

WIDTHS = (4, 6, 8, 11)
FRACTIONS = tuple(2.0 ** -j for j in range(6, -1, -1))  # 1/64 … 1
TRUE_R_STAR = 6.0


def _run(width, fraction, seed, loss, schedule="constant", epochs=1):
    spec = RunSpec(width=width, fraction=fraction, seed=seed, schedule=schedule, epochs=epochs)
    examples = int(S.TOTAL * fraction) * epochs
    return RunResult(spec=spec, params=int(S.params(width)), flops_per_example=int(S.flops_per_example(width)),
                     examples=examples, val_loss=float(loss), val_acc=0.8)


def _noise(rng, fraction, chain_effect, scale):
    """Seed noise: a chain effect shared along the trajectory, plus more at small fractions."""
    return chain_effect + scale * (1 + 0.5 * np.log2(1 / fraction) / 6) * rng.normal()


def schedule_grid(rng, seeds=(0, 1, 2), gain=(-0.02, -0.06), sigma=0.02):
    """Constant and cooldown runs; the cooldown lowers ln L by gain[0] at the smallest fraction to gain[1]
    at the largest (linear in ln fraction)."""
    runs = []
    for w in WIDTHS:
        for s in seeds:
            chain = sigma * rng.normal()
            for f in FRACTIONS:
                base = S.law(S.params(w), S.TOTAL * f)
                t = np.log(f / FRACTIONS[0]) / np.log(FRACTIONS[-1] / FRACTIONS[0])
                shift = gain[0] + t * (gain[1] - gain[0])
                const_noise = _noise(rng, f, chain, sigma)
                cool_noise = 0.6 * const_noise + 0.3 * sigma * rng.normal()  # shares the trunk, less end noise
                runs.append(_run(w, f, s, base * np.exp(const_noise)))
                runs.append(_run(w, f, s, base * np.exp(shift + cool_noise), schedule="cooldown"))
    return RunTable(runs)


def effective(U, epochs, r_star=TRUE_R_STAR):
    R = epochs - 1
    return U * (1 + r_star * (1 - np.exp(-R / r_star)))


def repetition_grid(rng, seeds=(0, 1, 2), sigma=0.015, r_star=TRUE_R_STAR, rep_fractions=(1 / 32, 1 / 8),
                    epochs=(2, 4, 8), widths=(4, 11)):
    runs = []
    for w in WIDTHS:
        for s in seeds:
            chain = sigma * rng.normal()
            for f in FRACTIONS:
                runs.append(_run(w, f, s, S.law(S.params(w), S.TOTAL * f) * np.exp(_noise(rng, f, chain, sigma))))
            if w not in widths:
                continue
            for f in rep_fractions:
                for e in epochs:
                    loss = S.law(S.params(w), effective(S.TOTAL * f, e, r_star))
                    runs.append(_run(w, f, s, loss * np.exp(_noise(rng, f, chain, sigma)), epochs=e))
    return RunTable(runs)


def test_schedule_gain_recovers_the_worst_budget():
    est = P.schedule_gain(schedule_grid(np.random.default_rng(1)).where(schedule="cooldown"),
                          schedule_grid(np.random.default_rng(1)).where(schedule="constant"), n_resamples=400)
    assert est.value == pytest.approx(-0.02, abs=0.012)
    assert est.details["worst_fraction"] <= 1 / 16
    assert est.ci(0.95)[1] < 0


def test_schedule_gain_sees_a_budget_where_the_schedule_hurts():
    runs = schedule_grid(np.random.default_rng(2), gain=(0.04, -0.06))
    est = P.schedule_gain(runs.where(schedule="cooldown"), runs.where(schedule="constant"), n_resamples=400)
    assert est.ci(0.95)[0] > 0


def test_schedule_gain_interval_covers_the_truth():
    """Coverage of the true worst-budget gain (−0.02 at the smallest fraction) over replicates."""
    hits = []
    for r in range(40):
        runs = schedule_grid(np.random.default_rng(100 + r))
        lo, hi = P.schedule_gain(runs.where(schedule="cooldown"), runs.where(schedule="constant"),
                                 n_resamples=300, seed=r).ci(0.95)
        hits.append(lo <= -0.02 <= hi)
    assert np.mean(hits) >= 0.85, np.mean(hits)


def test_effective_data_of_a_noise_free_grid_is_the_law():
    runs = repetition_grid(np.random.default_rng(0), sigma=0.0)
    cells, layout = P.repetition_cells(runs)
    ratio, extrapolated = P.effective_data_ratio(cells.means()[None], cells, layout)
    truth = np.array([effective(1.0, e) for *_, e in layout["repeated"]])
    # log-log interpolation between half-octave fractions: within 3% of the law's D'/U
    np.testing.assert_allclose(ratio[0], truth, rtol=0.03)
    assert not extrapolated.any()
    reps = np.array([e - 1.0 for *_, e in layout["repeated"]])
    assert P.fit_r_star(ratio, reps)[0] == pytest.approx(TRUE_R_STAR, rel=0.15)


@pytest.mark.parametrize("r_star", [1.0, 2.0, 6.0])
def test_r_star_is_recovered(r_star):
    runs = repetition_grid(np.random.default_rng(3), r_star=r_star)
    est = P.repetition_r_star(runs, n_resamples=300)
    lo, hi = est.ci(0.95)
    assert lo <= r_star <= hi, (r_star, est.value, lo, hi)


def test_a_large_r_star_says_more_epochs_would_decide():
    """With 8 epochs, R* = 200 (repeats worth nearly fresh data) cannot be told from infinity."""
    runs = repetition_grid(np.random.default_rng(3), r_star=200.0)
    est = P.repetition_r_star(runs, n_resamples=300)
    assert "not bounded above" in est.reason and "epochs up to 32" in est.to_decide


def test_r_star_interval_covers_the_truth():
    hits, widths = [], []
    for r in range(30):
        runs = repetition_grid(np.random.default_rng(200 + r))
        lo, hi = P.repetition_r_star(runs, n_resamples=300, seed=r).ci(0.95)
        hits.append(lo <= TRUE_R_STAR <= hi)
        widths.append(np.log(hi / lo))
    assert np.mean(hits) >= 0.85, np.mean(hits)


def test_worth_of_repeats_and_diminishing_returns():
    runs = repetition_grid(np.random.default_rng(4))
    worth = P.repeat_worth(runs, 4, n_resamples=300)
    assert worth.value == pytest.approx(TRUE_R_STAR * (1 - np.exp(-3 / TRUE_R_STAR)) / 3, abs=0.1)
    drop = P.diminishing_returns(runs, 4, 8, n_resamples=300)
    truth = (effective(1, 8) - effective(1, 4)) / 4 - (effective(1, 4) - 1) / 3
    assert drop.value == pytest.approx(truth, abs=0.1)
    assert drop.ci(0.95)[1] < 0


def test_no_epochs_sub_grid_cannot_decide():
    runs = RunTable([r for r in repetition_grid(np.random.default_rng(5)) if r.spec.epochs == 1])
    with pytest.raises(FitError, match="no multi-epoch runs"):
        P.repetition_r_star(runs, n_resamples=50)


def test_reach_past_one_epoch():
    """Epochs × fraction ≤ 1 never passes a width's own one-epoch compute; 4 epochs over all the data do."""
    runs = repetition_grid(np.random.default_rng(6), rep_fractions=(1 / 32, 1 / 8))
    assert not P.reach_past_one_epoch(runs)["brackets"]
    runs = repetition_grid(np.random.default_rng(6), rep_fractions=(1 / 8, 1.0), epochs=(2, 4))
    reach = P.reach_past_one_epoch(runs)
    assert reach["brackets"] and reach["widths"] == [4.0, 11.0]
