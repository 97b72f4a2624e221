"""A project's trainer and data through the hooks (hookspecs.py): the session trains with them, keys its runs
by them, and a bad one is a usage error before anything runs."""

import json

import pytest

CONFTEST = '''
import torch

from pytest_scaling.data import TensorSource
from pytest_scaling.runs import RunResult
from pytest_scaling.trainers import Trainer

CALLS = []


class FormulaTrainer(Trainer):
    """Trains nothing: each run's loss is a formula of its width and examples."""
    name, version = "formula", "7"

    def params(self, width):
        return 100 * width

    def flops_per_example(self, width):
        return 10 * width

    def train(self, specs, data, settings):
        CALLS.append(len(specs))
        return [RunResult(spec=s, params=self.params(s.width), flops_per_example=self.flops_per_example(s.width),
                          examples=data.subset_size(s.fraction, s.batch_size),
                          val_loss=1 + 1 / s.width + 1 / data.subset_size(s.fraction, s.batch_size), val_acc=0.5)
                for s in specs]


def pytest_scaling_make_trainer(config):
    return {TRAINER}


def pytest_scaling_resolve_dataset(config, name):
    if name != "toy":
        return None
    g = torch.Generator().manual_seed(0)
    return TensorSource("toy", torch.randn(512, 4, generator=g), torch.randint(0, 10, (512,), generator=g),
                        torch.randn(64, 4, generator=g), torch.randint(0, 10, (64,), generator=g), display="toy task")
'''

CLAIM = '''
from conftest import CALLS

def test_runs_come_from_the_projects_trainer(scaling_grid):
    runs = scaling_grid(dropout=0.0)
    assert sorted(set(runs.column("params"))) == [200, 400]
    assert sorted(set(runs.column("examples"))) == [64, 128]  # fractions of the toy set's 512 examples
    assert CALLS
'''


@pytest.fixture
def hooked(pytester, tmp_path):
    def make(trainer="FormulaTrainer()", dataset="toy"):
        pytester.makeini(f"""
            [pytest]
            scaling_dataset = {dataset}
            scaling_cache_dir = {tmp_path / 'cache'}
            scaling_budget = toy
            scaling_executor = local
            scaling_precision = fp32
            scaling_budgets =
                toy: parent=tiny widths=2,4 fractions=1/8,1/4 seeds=0,1 dropouts=0 sweep_widths=
        """)
        pytester.makeconftest(CONFTEST.replace("{TRAINER}", trainer))
        pytester.makepyfile(test_claims=CLAIM)
        return pytester
    return make


def test_the_session_trains_with_the_hooks_trainer_and_data(hooked, tmp_path):
    result = hooked().runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pytest-scaling · budget toy · toy task · trainer formula 7 · *"])
    records = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "runs").glob("*/*.json")]
    assert len(records) == 8
    assert {(r["context"]["trainer"], r["context"]["code_version"]) for r in records} == {("formula", "7")}
    assert {r["context"]["dataset"].split(":")[0] for r in records} == {"toy"}


@pytest.mark.parametrize("trainer, fragment", [
    ("object()", "pytest_scaling_make_trainer returned <object object"),
    ("type('T', (), {'name': 'x', 'version': '1', 'flops_per_example': len})()", "which has no train"),
])
def test_a_trainer_the_runner_cannot_use_is_a_usage_error(hooked, trainer, fragment):
    result = hooked(trainer=trainer).runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fragment in result.stderr.str() and "Traceback" not in result.stderr.str()


def test_a_name_no_hook_supplies_is_a_usage_error(hooked):
    result = hooked(dataset="cifar").runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no pytest_scaling_resolve_dataset hook supplies dataset 'cifar'" in result.stderr.str()
