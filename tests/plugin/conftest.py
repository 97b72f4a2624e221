"""The plugin tests' project: claims on fake IDX data with the micro budget, trained in-process.

pytester runs in-process and forgets modules first imported inside a run; torch registers
operator libraries at import and refuses a second registration, so import them here once. The
plugin imports nothing heavy until a session uses it, so the statistics (scipy, statsmodels) are
imported here too, once, rather than again in every run."""

import pytest

import pytest_scaling.claims
import pytest_scaling.fits  # noqa: F401
from pytest_scaling.models import forward_flops_per_example
from tests.conftest import MICRO_BUDGET

forward_flops_per_example(2)

#: Two claims (one confirmed, one inconclusive) and a test of the LR sweep.
CLAIM = '''
from pytest_scaling import Estimate, expect

def test_claim(scaling_grid):
    runs = scaling_grid(dropout=0.0)
    assert len(runs) == 3 * 2 * 2
    assert set(runs.column("dropout")) == {0.0}
    expect(Estimate(-0.3, "normal", runs=len(runs), se=0.05), "slope").below(0)

def test_undecided(scaling_grid):
    runs = scaling_grid(dropout=0.2, widths=(2, 3))
    expect(Estimate(0.05, "normal", runs=len(runs), se=0.1), "shift").above(0)

def test_sweep(scaling_grid):
    assert sorted(set(scaling_grid.lr_sweep().column("lr_mult"))) == [0.25, 0.5, 1.0, 2.0, 4.0]
'''


@pytest.fixture
def project(pytester, fake_data_dir, tmp_path):
    pytester.makeini(f"""
        [pytest]
        scaling_dataset = mnist
        scaling_data_dir = {fake_data_dir}
        scaling_cache_dir = {tmp_path / 'cache'}
        scaling_budget = micro
        scaling_executor = local
        scaling_budgets =
            {MICRO_BUDGET}
    """)
    pytester.makepyfile(test_claims=CLAIM)
    return pytester
