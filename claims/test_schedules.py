"""A learning-rate schedule tuned to each data budget changes what a grid measures.

Source: Hoffmann et al. 2022 (Chinchilla), as the exercise's reading note puts it
(seeds/000): "The difference comes from using a separately-tuned learning rate schedule
for each token budget, rather than using a single training run to measure performance
for every token budget"; Kaplan et al. 2020 (seed 003) found γ ≈ 0.73 with one run per
size, Chinchilla γ ≈ 0.5; Porian et al. 2024 and Pearce & Song 2024 trace the gap to
this and other protocol choices; Hägele et al. 2024 for the cooldown schedule.

Protocols. ``constant``: every data budget is read off one constant-LR trajectory per
width (Kaplan's protocol; the engine's chains). ``cooldown``: each budget gets its own
schedule that ends at its own last step: the constant trunk, then a linear decay to 0
over the last 20% of the run's steps (warmup-stable-decay without warmup, which Hägele
et al. find matches cosine). Cooldown runs branch off the trunk, so a pair shares the
trunk's seed noise and every comparison here is a paired seed bootstrap.

1. Gain: the schedule lowers the final loss at every data budget. Per fraction, the mean
   over widths of ln L_cooldown − ln L_constant; the claim is that the largest of these
   (the budget where the schedule helps least) is < 0.
2. γ: the single-run protocol overstates how fast the optimal size grows. Δγ (IsoFLOP,
   cooldown − constant) < 0, the direction of Kaplan → Chinchilla. Both conditions' iso-compute
   slices are read off final losses only: a cooldown run's early checkpoints are the constant
   trunk's, so trajectories would compare the trunk with itself.
3. Frontier slope: the cooldown gain grows with the budget (a longer run has more end-of-
   run noise to remove), so the frontier steepens: Δ slope (cooldown − constant) < 0. This
   direction is our hypothesis from the issue's measurements, not a published result.

The slope and γ are compared inside the single-run protocol's compute-limited window (from
the constant runs' trajectories). Runs on a budget with both schedules
(``--scaling-budget=protocols``); on other budgets these claims are skipped at collection,
with the budget that has them (``scaling_needs``).
"""

import pytest

from pytest_scaling import expect
from pytest_scaling.analysis import paired_difference, schedule_gain, single_run_window

N_RESAMPLES = 1000
pytestmark = pytest.mark.scaling_needs("cooldown")


@pytest.fixture
def schedules(scaling_grid):
    """(cooldown, constant) runs of the main grid without dropout."""
    return scaling_grid(dropout=0.0, schedule="cooldown"), scaling_grid(dropout=0.0, schedule="constant")


def test_cooldown_lowers_the_loss_at_every_data_budget(schedules):
    est = schedule_gain(*schedules, n_resamples=N_RESAMPLES)
    expect(est, "largest mean Δ ln L over data budgets (cooldown − constant)").below(0)


def test_single_run_protocol_overstates_gamma(schedules):
    est = paired_difference(*schedules, "compute_optimal_exponent", approach="isoflop", n_resamples=N_RESAMPLES,
                            window=single_run_window(schedules[1]), trajectories=False)
    expect(est, "Δγ isoflop (cooldown − constant)").below(0)


def test_cooldown_steepens_the_frontier(schedules):
    est = paired_difference(*schedules, "frontier_slope", n_resamples=N_RESAMPLES,
                            window=single_run_window(schedules[1]), trajectories=False)
    expect(est, "Δ slope d lnL/d lnC (cooldown − constant)").below(0)
