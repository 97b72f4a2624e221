"""Along the compute-efficient frontier, the error rate falls as a power law in compute.

Source: the exercise (seeds/000: "How does validation accuracy behave?").

Form: the
frontier of error rate (1 − accuracy) against compute, fitted as
ln(1 − acc) = a + s·ln C, i.e. err ∝ C^s, with s seed-bootstrapped through the
frontier (as for the loss). The claim is s < 0. Accuracy itself saturates at 1 and is
not a power law; its complement is the quantity that scales (Kaplan et al. 2020, seed
003, scale losses, not accuracies; the exercise's CNN error rate behaves the same way).

Fitted inside the compute-limited window (``window="auto"``, see
``pytest_scaling.estimators.design``): past the data cap the frontier is L(N) at full data.
"""

from pytest_scaling import expect
from pytest_scaling.analysis import accuracy_frontier_slope

#: The report's plots this module feeds (``report.PLOTS`` stems): the error-rate frontier.
SCALING_PLOTS = ("compute_error",)


def test_error_rate_falls_with_compute(scaling_grid):
    runs = scaling_grid(dropout=0.0)
    expect(accuracy_frontier_slope(runs, n_resamples=1000, window="auto"), "slope d ln(err)/d lnC").below(0)
