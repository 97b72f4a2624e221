"""Design diagnostics on synthetic chains with a known law: binding constraints, the
compute-limited window, γ inside it, and "what would decide" prescriptions."""

import math

import numpy as np
import pytest

from pytest_scaling import analysis as A
from pytest_scaling import claims
from pytest_scaling.budgets import BUILTIN_BUDGETS, budget_for_seeds, parse_budget_line
from pytest_scaling.claims import expect, seeds_factor
from pytest_scaling.estimators.design import choose_window, diagnose, profiles, trajectory_cells
from tests import synthetic_chains as S

BRACKETING_LAW = dict(E=0.2, A=300.0, B=50.0, alpha=0.5, beta=0.5)


def _truth(runs, law):
    """Per slice of the diagnosis, its binding under the exact law: "interior" where the law's best size among
    the widths read has a smaller and a larger one beside it, and also where that best is the smallest width
    read, not the grid's smallest, while the law's own compute-optimal size N*(C) (unconstrained:
    ``S.true_nopt``) is larger than it: such a slice lacks only sizes below N* (one epoch cannot take them to
    that compute), so the data does not bind its optimum; the argmin over the widths read only looks capped
    because the widths are a lattice and N* sits nearer the smaller one. At the grid's smallest width nothing
    says where N* lies: an edge."""
    cells = trajectory_cells(runs)
    prof = profiles(cells)
    out = []
    for s, C in enumerate(prof.compute):
        idx = np.flatnonzero(prof.present[s])
        N = prof.size[idx]
        k = int(np.argmin(S.law(N, C / (3 * S.fpe(N)), **law)))
        lacks_only_smaller = k == 0 and idx[0] > 0 and S.true_nopt(C, law) > N[0]
        out.append("interior" if 0 < k < idx.size - 1 or lacks_only_smaller else "edge")
    return prof.compute, out


def _longest_interior(compute, bindings):
    best, run = [], []
    for c, b in zip(compute, bindings):
        run = run + [c] if b == "interior" else []
        best = run if len(run) > len(best) else best
    return (best[0], best[-1]) if best else None


@pytest.mark.parametrize("law", [S.LAW, BRACKETING_LAW], ids=["capped", "bracketing"])
def test_noise_free_window_is_the_laws_own(law):
    """On noise-free trajectories the window is the longest run of slices whose exact-law optimum
    over the widths present is interior (to one half-octave slice: profiles interpolate)."""
    runs = S.make_chains(sigma=1e-7, rng=0, law_kw=law)
    design = diagnose(runs)
    compute, truth = _truth(runs, law)
    lo, hi = _longest_interior(compute, truth)
    assert design.window is not None
    step = 2 ** 0.5 * (1 + 1e-6)
    assert lo / step <= design.window[0] <= lo * step
    # the window also stops below the compute where every frontier point is data-capped
    cap = design.data_cap_from or math.inf
    assert design.window[1] <= min(hi, cap) * step
    assert design.window[1] >= min(hi, cap) / step ** 2


def test_a_grid_that_brackets_n_opt_has_a_window_spanning_it():
    runs = S.make_chains(sigma=1e-7, rng=0, law_kw=BRACKETING_LAW)
    design = diagnose(runs)
    interior = [s.compute for s in design.slices if s.binding == "interior"]
    assert len(interior) >= 0.75 * len(design.slices)
    assert design.window == (interior[0], interior[-1]) or design.window[1] < (design.data_cap_from or math.inf)
    assert design.window_decades >= 2.5 and design.usable_window() is not None


def test_the_capped_law_binds_where_it_should():
    """Smallest width at low compute, the data cap at high compute, interior between; frontier
    points past the cap are full-data runs and are named so."""
    design = diagnose(S.make_chains(sigma=1e-7, rng=0))
    order = [s.binding for s in design.slices]
    first_interior = order.index("interior")
    assert set(order[:first_interior]) == {"smallest_width"}
    assert order[-1] == "data_cap"
    assert design.data_cap_from is not None and design.window[1] < design.data_cap_from
    past = [p for p in design.frontier if p.compute >= design.data_cap_from]
    assert past and all(p.fraction == 1.0 and p.binding == "data_cap" for p in past)
    inside = [p for p in design.frontier if design.window[0] <= p.compute <= design.window[1]]
    # a full-data run on the frontier inside the window is a lattice neighbour of N*, not a model that wants
    # more data: the law's optimum there is larger than it
    assert inside and all(S.true_nopt(p.compute) > S.params(p.width) for p in inside if p.binding == "data_cap")
    text = " ".join(design.summary_lines())
    assert f"{design.data_cap_from:.2g}" in text and "data-limited" in text
    report = design.to_dict()
    assert report["window"] == list(design.window)
    assert {p["binding"] for p in report["frontier"]} <= {"interior", "data_cap", "smallest_width",
                                                         "largest_width", "smallest_fraction"}


def test_noisy_windows_stay_near_the_truth():
    """With uneven, chain-correlated noise the window's ends move by a slice or two: the lower end
    less (the small-width edge is steep), the upper more (at the cap the best width and the
    smallest one allowed nearly tie, and one noisy slice there ends the run)."""
    clean = diagnose(S.make_chains(sigma=1e-7, rng=0)).window
    lo_err, hi_err = [], []
    for r in range(30):
        w = diagnose(S.make_chains(rng=500 + r)).window
        assert w is not None
        lo_err.append(abs(math.log2(w[0] / clean[0])))
        hi_err.append(abs(math.log2(w[1] / clean[1])))
    # in octaves of compute; slices are half an octave apart
    assert np.median(lo_err) <= 0.51 and max(lo_err) <= 2.01
    assert np.median(hi_err) <= 1.01 and np.quantile(hi_err, 0.8) <= 2.01


@pytest.mark.parametrize("n_seeds", [2, 3])
def test_gamma_inside_the_window_covers_the_laws_gamma(n_seeds):
    """IsoFLOP γ inside the compute-limited window against the law's β/(α + kβ): 92–98% coverage
    over 400 replicates of uneven (small-D-heavy, AR(1) along each trajectory) seed noise, the upper end with
    half a point of binomial slack (its standard error at 400 replicates is 0.7 points). Since the window
    bridges a capped slice that lacks only widths below the optimum (``design.real_data_caps``) 2 seeds cover
    in 98.25 % and 3 in 98.0 %, against 97.5 % and 96.5 % over 200 replicates under the earlier rule, with
    intervals 14–15 % narrower (median 0.183 and 0.141 against 0.214 and 0.164)."""
    truth = S.true_gamma()
    hits, widths = 0, []
    for r in range(400):
        runs = S.make_chains(rng=10_000 * n_seeds + r, seeds=tuple(range(n_seeds)))
        est = A.compute_optimal_exponent(runs, approach="isoflop", window="auto", n_resamples=200, compare=False,
                                         seed=r)
        assert not est.reason and est.details["window"] is not None
        lo, hi = est.ci()
        hits += lo <= truth <= hi
        widths.append(hi - lo)
    assert 0.92 <= hits / 400 <= 0.985
    assert np.median(widths) < 0.25


def test_too_narrow_a_window_makes_compute_limited_claims_inconclusive_with_a_cause():
    """Widths 8…32 under the capped law: every slice wants a smaller model or more data."""
    runs = S.make_chains(rng=3, widths=(8, 11, 16, 23, 32))
    choice = choose_window(runs, "auto")
    assert choice.window is None and choice.reason
    assert "smaller widths" in choice.to_decide
    est = A.frontier_slope(runs, window="auto", n_resamples=200)
    assert est.reason and est.to_decide == choice.to_decide and est.details["window"] is None
    claims.take_records()
    with pytest.raises(pytest.skip.Exception):
        expect(est, "slope").below(0)
    (record,) = claims.take_records()
    assert record.verdict == "inconclusive" and record.to_decide == choice.to_decide


def test_window_is_recorded_on_every_compute_limited_estimate():
    runs = S.make_chains(rng=4)
    window = list(diagnose(runs).window)
    for est in (A.frontier_slope(runs, window="auto", n_resamples=100),
                A.frontier_curvature(runs, window="auto", n_resamples=100),
                A.compute_optimal_exponent(runs, window="auto", n_resamples=100, compare=False)):
        assert est.details["window"] == window and not est.reason
    parametric = A.compute_optimal_exponent(runs, approach="parametric", window="auto", n_resamples=20,
                                            compare=False, starts=A.small_chinchilla_grid())
    assert parametric.details["window"] is None and "data axis" in parametric.details["window_source"]


def test_seeds_factor_follows_the_square_root_rule():
    # half-width 0.1 at 95%, boundary 0.05 away: ((1.96 + 0.84)/1.96 · 0.1/0.05)² ≈ 8.2
    f = seeds_factor(0.0, -0.1, 0.1, 0.05, math.inf, 0.95)
    assert f == pytest.approx(((1.959964 + 0.841621) / 1.959964 * 2) ** 2, rel=1e-4)
    assert seeds_factor(0.05, -0.05, 0.15, 0.05, math.inf, 0.95) == math.inf


def test_budget_for_seeds_names_a_budget_or_a_line():
    small = BUILTIN_BUDGETS["small"]
    line = budget_for_seeds(small, 2.4)
    assert "small5: parent=small seeds=0,1,2,3,4" in line
    assert "more than" in budget_for_seeds(small, 40)
    assert "--scaling-budget=full" in line  # a built-in budget with small's grid and ≥5 seeds
    assert "tiny3: parent=tiny seeds=0,1,2" in budget_for_seeds(BUILTIN_BUDGETS["tiny"], 1.4)
    # an LR claim's seeds are the sweep's: the line must change those, and it must parse
    line = budget_for_seeds(small, 2.4, "sweep_seeds")
    definition = line.split("'")[1]
    want = tuple(range(math.ceil(2.4 * len(small.sweep_seeds))))
    assert parse_budget_line(definition, dict(BUILTIN_BUDGETS)).sweep_seeds == want


def test_prescribed_seeds_decide_the_claim():
    """The prescription's premise: when the truth is where the estimate is, the prescribed seeds
    decide the claim in ≥ 80% of replicates. "The estimate" is the estimator's mean on 2 seeds
    (the frontier of noisy means is biased at few seeds, so the noise-free value is not what
    2 seeds report); a claim "slope < b" with b 0.7 CI half-widths above it is inconclusive
    there, and n' seeds from ``seeds_factor`` must decide it in ≥ 80% of 20 replicates."""
    window = diagnose(S.make_chains(sigma=1e-7, rng=0)).window
    two = [A.frontier_slope(S.make_chains(rng=900 + r), window=window, n_resamples=400) for r in range(8)]
    estimate = float(np.mean([e.value for e in two]))
    half = float(np.median([np.ptp(e.ci()) for e in two])) / 2
    boundary = estimate + 0.7 * half
    n = math.ceil(2 * seeds_factor(estimate, estimate - half, estimate + half, -math.inf, boundary, 0.95))
    assert 4 <= n <= 20
    decided = 0
    for r in range(20):
        lo, hi = A.frontier_slope(S.make_chains(rng=9000 + r, seeds=tuple(range(n))), window=window,
                                  n_resamples=300).ci()
        decided += not lo < boundary < hi
    assert decided / 20 >= 0.8, (decided, n)


def test_a_compute_range_on_runs_without_trajectories_reads_the_cells_in_it():
    """Diagonals on a CSV without checkpoints: a given window is the same as fitting only the runs in it."""
    import dataclasses

    from pytest_scaling.estimators.common import cells_from_runs
    from pytest_scaling.estimators.compute_optimal import _optimum_stat
    from pytest_scaling.estimators.design import in_window
    from pytest_scaling.runs import RunTable

    runs = RunTable(dataclasses.replace(r, checkpoints=()) for r in S.make_chains(rng=0))
    window = (5.86e8, 2.3e12)
    est = A.compute_optimal_exponent(runs, window=window, n_resamples=50, compare=False)
    narrowed = in_window(cells_from_runs(runs), window)
    direct = _optimum_stat(narrowed)[0](narrowed.means()[None])[0]
    assert est.value == pytest.approx(direct)


def test_without_a_window_gamma_uses_every_profile_slice():
    runs = S.make_chains(rng=0)
    est = A.compute_optimal_exponent(runs, window=None, n_resamples=50, compare=False)
    assert est.details["slices_used"] == profiles(trajectory_cells(runs)).compute.size


def test_each_width_is_data_capped_at_its_own_largest_fraction():
    """A grid that feeds some widths more examples (``extra_fractions``): a frontier point at a width's own
    largest fraction is data-capped, whatever other widths get."""
    from pytest_scaling.runs import RunTable

    runs = S.make_chains(sigma=1e-7, rng=0)
    trimmed = RunTable([r for r in runs if not (r.spec.width >= 16 and r.spec.fraction == 1.0)])
    capped = [p for p in diagnose(trimmed).frontier if p.width >= 16 and p.fraction == 0.5]
    assert capped and all(p.binding == "data_cap" for p in capped)
