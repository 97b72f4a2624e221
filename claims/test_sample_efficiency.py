"""Larger models are more sample-efficient: they reach a given loss after fewer examples.

Source: Kaplan et al. 2020 (seed 003), §5 and Fig. 2 ("larger models are significantly
more sample-efficient"); the checkpoints come from the design (DESIGN.md §2: log-spaced
validation points during the epoch).

Estimate: for each width, its run at the largest data fraction traces loss against
examples seen (checkpoints, seed-averaged in log space). The target loss is the worst
width's final loss, so every width reaches it; examples-to-target interpolates
ln(examples) linearly in ln(loss) between the bracketing checkpoints. The slope of
ln(examples to target) on ln N is seed-bootstrapped. Claim: slope < 0.
"""

from pytest_scaling import expect
from pytest_scaling.analysis import sample_efficiency_slope


def test_larger_models_need_fewer_examples(scaling_grid):
    est = sample_efficiency_slope(scaling_grid(dropout=0.0), n_resamples=1000)
    expect(est, "slope d ln(examples to target)/d lnN").below(0)
