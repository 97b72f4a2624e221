"""A deformed copy of a training image is worth more than nothing, and less than a fresh image.

Source: InfiMNIST (Loosli, Canu & Bottou 2007, "Training invariant support vector machines using selective
sampling", in Large-Scale Kernel Machines) made 8.1 M MNIST-like training examples from the 60k by elastic
deformations and small affine maps (Simard, Steinkraus & Platt 2003, "Best practices for convolutional
neural networks applied to visual document analysis": trained on elastically distorted copies, a CNN reached
0.4 % MNIST test error, against 0.6 % with affine distortions only); Muennighoff et al. 2023 ("Scaling
Data-Constrained Language Models") measure what non-fresh data (repeated epochs) is worth in fresh data, D'
= U + U·R*·(1 − e^(−R/R*)). The deformed stream (stream.py) is how budgets reach past the 60k images; a copy
is not an i.i.d. fresh image, so its worth is measured here, below 60k, where fresh images exist to compare
with.

Design (``Budget.worth_specs``; `small` and `decide`, not `tiny`): at widths 1, 2, 4, a run on U = 1/16
(1/8) of the images, then deformed copies of those same U images (copy 1 of each, then copy 2, …), to
D = k·U examples, k = 2 and 4 (D ≤ 30k), with the grid's seeds, constant LR, no dropout. Up to U it is the
fresh run of its seed (same initialisation, same U images in the same order), so it is paired with the
same seed's fresh trajectory. The fresh trajectory is the width's fresh run on all 60k images, scored every
half-octave of its examples on the 2,000-image validation slice; D_eff is where it reaches the copies
run's loss (on the same slice), and w = (D_eff − U)/(D − U) (``estimators.worth``): 0 = the copies bought
nothing beyond stopping at U, 1 = each copy example was as good as a fresh one. The claims read the mean of
w over the 12 (width, U, k) readings; every quantity is a seed bootstrap through the whole pipeline.

1. Worth more than nothing: w > 0. The bound is the scale's own zero, not a tolerance: copies that only
   repeated what the U images taught, or hurt, give w ≤ 0.
2. Worth less than a fresh image: w < 1, the scale's other end: a copy is correlated with its base image,
   so it should teach less than a new one; a refutation (w > 1) would say the deformations teach more than
   new garments do.

Both read runs below 60k only: what past 60k the deformed stream is worth (fractions above 1, `decide`) is
an extrapolation of this w, not a measurement of it. Not claimed here: a copy against an exact repeat of its
base image (an epochs sub-grid on the same widths and U reads that on the same yardstick).
"""

import pytest

from pytest_scaling import expect
from pytest_scaling.analysis import copy_worth
from pytest_scaling.runs import RunTable

N_RESAMPLES = 2000
pytestmark = pytest.mark.scaling_needs("worth")


@pytest.fixture
def worth(scaling_grid):
    def compute():
        copies = scaling_grid.worth_runs()
        widths = sorted({r.spec.width for r in copies})
        fresh = scaling_grid(dropout=0.0, widths=widths)
        return copy_worth(RunTable([*fresh, *copies]), n_resamples=N_RESAMPLES)

    return scaling_grid.memo("stream_worth", compute)


def test_a_deformed_copy_is_worth_more_than_nothing(worth):
    expect(worth, "worth w of a deformed copy (fresh = 1, nothing = 0)").above(0)


def test_a_deformed_copy_is_worth_less_than_a_fresh_image(worth):
    expect(worth, "worth w of a deformed copy (fresh = 1, nothing = 0)").below(1)
