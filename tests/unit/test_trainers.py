"""Trainers (trainers.py): the built-in engine keeps every cache key; another trainer's name and version key its
runs; tensors as a data source; the hooks that supply both are registered."""

import dataclasses
import pickle
from types import SimpleNamespace

import pytest
import torch

from pytest_scaling.data import TensorSource
from pytest_scaling.errors import DatasetNotFound, ScalingError
from pytest_scaling.runs import RunSpec
from pytest_scaling.session import ScalingOptions, ScalingSession
from pytest_scaling.store import run_key
from pytest_scaling.train import TRAINING_CODE_VERSION
from pytest_scaling.trainers import CNNTrainer, Trainer, check_picklable, check_trainer, is_builtin

SPEC = RunSpec(width=4, fraction=0.25, seed=1)
BF16_SPEC = RunSpec(width=4, fraction=0.25, seed=1, precision="bf16", dropout=0.2)


class OtherTrainer(Trainer):
    name = "other"

    def __init__(self, version="1"):
        self.version = version

    def flops_per_example(self, width):
        return 10 * width

    def train(self, specs, data, settings):
        raise NotImplementedError


def session(tmp_path, trainer=None) -> ScalingSession:
    s = ScalingSession(ScalingOptions(budget="tiny", device="cpu", precision="fp32", cache_dir=str(tmp_path)),
                       trainer=trainer)
    s._source = SimpleNamespace(identity="fashion-mnist:0123456789abcdef", display_name="Fashion-MNIST")
    return s


def test_the_builtin_engine_keeps_every_cache_key(tmp_path):
    """Digests computed with the code before trainers existed (engine version 6, torch 2.14.1): a session's
    built-in trainer adds nothing to the key, so every run cached before stays a hit."""
    s = session(tmp_path)
    assert is_builtin(s.trainer) and s.trainer.version == TRAINING_CODE_VERSION
    context = s.context()
    assert context.code_version == TRAINING_CODE_VERSION and context.trainer == ""
    context = dataclasses.replace(context, code_version="6", torch_version="2.14.1", bf16_arithmetic="rounded")
    assert run_key(SPEC, context) == "35647b239bd2dbd1d78a50d3f04c3b5a6f6124d1cf7c354c44c17d98aeea1167"
    assert run_key(BF16_SPEC, context) == "8bd47c3ae1509b58b5b6a2f5d18a7329b070fd5b3f6c2e982319159a546f6053"


def test_another_trainers_name_and_version_key_its_runs(tmp_path):
    builtin = run_key(SPEC, session(tmp_path).context())
    v1 = session(tmp_path, OtherTrainer("1")).context()
    v2 = session(tmp_path, OtherTrainer("2")).context()
    assert (v1.trainer, v1.code_version, v2.code_version) == ("other", "1", "2")
    assert len({builtin, run_key(SPEC, v1), run_key(SPEC, v2)}) == 3
    # same version string as the engine, still another family
    assert run_key(SPEC, session(tmp_path, OtherTrainer(TRAINING_CODE_VERSION)).context()) != builtin
    assert v1.for_spec(SPEC)["trainer"] == "other" and "trainer" not in session(tmp_path).context().for_spec(SPEC)


def test_with_options_keeps_the_trainer_and_the_data(tmp_path):
    s = session(tmp_path, OtherTrainer("3"))
    other = s.with_options(no_train=True)
    assert other.trainer is s.trainer and other.source is s.source


def test_a_trainer_without_what_the_runner_calls_is_refused():
    with pytest.raises(ScalingError, match="has no version, flops_per_example, train"):
        check_trainer(SimpleNamespace(name="x"))
    with pytest.raises(ScalingError, match="version must be a string"):
        check_trainer(SimpleNamespace(name="x", version=2, flops_per_example=len, train=len))
    assert check_trainer(CNNTrainer()) == CNNTrainer()


def test_a_trainer_that_cannot_travel_to_workers_says_how_to_fix_it():
    class Local(OtherTrainer):  # a class inside a function: pickle cannot find it by name
        pass

    with pytest.raises(ScalingError, match="--scaling-executor=local"):
        check_picklable(Local())
    check_picklable(OtherTrainer())
    assert pickle.loads(pickle.dumps(CNNTrainer())) == CNNTrainer()


def test_cnn_trainer_counts_as_the_models_do():
    from pytest_scaling.models import count_params, forward_flops_per_example

    trainer = CNNTrainer()
    assert (trainer.params(4), trainer.flops_per_example(4)) == (count_params(4), forward_flops_per_example(4))
    assert trainer.group_size(torch.device("cpu"), 4) == 1


def _tensors(seed=0, n=64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_a_tensor_source_is_identified_by_its_tensors():
    a = TensorSource("toy", *_tensors(0), *_tensors(1, 16))
    assert TensorSource("toy", *_tensors(0), *_tensors(1, 16)).identity == a.identity
    assert TensorSource("toy", *_tensors(2), *_tensors(1, 16)).identity != a.identity
    assert a.identity.startswith("toy:") and a.display_name == "toy"
    again = pickle.loads(pickle.dumps(a))  # how process-pool and Ray workers get it
    assert again == a and again.identity == a.identity
    data = a.load(torch.device("cpu"))
    assert data.n_train == 64 and data.subset_size(0.25, 8) == 16 and data.source is a


def test_a_malformed_tensor_source_says_what_is_wrong():
    x, y = _tensors()
    with pytest.raises(DatasetNotFound, match="same n"):
        TensorSource("toy", x, y[:10], x, y)
    with pytest.raises(DatasetNotFound, match="integer class labels"):
        TensorSource("toy", x, y.float(), x, y)


def test_the_hooks_are_registered(pytestconfig):
    hook = pytestconfig.pluginmanager.hook
    for name in ("pytest_scaling_make_trainer", "pytest_scaling_resolve_dataset"):
        assert getattr(hook, name).spec.opts["firstresult"]
    assert hasattr(hook, "pytest_scaling_update_report_json")
