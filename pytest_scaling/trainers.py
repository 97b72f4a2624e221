"""Trainers: a model family and the code that trains it, behind one small interface.

A trainer names itself (``name``), says which version of its code made a run (``version``: both go into
the run's cache key), counts a member's parameters and forward FLOPs per example at a width, and trains a
list of specs — runs of one width, batch size, fraction family and precision (``RunSpec.group_key``) — on a
dataset (``data.Dataset``), returning one :class:`~pytest_scaling.runs.RunResult` per spec, in order::

    class MyTrainer(Trainer):
        name, version = "mlp", "1"
        def params(self, width): ...
        def flops_per_example(self, width): ...
        def train(self, specs, data, settings): ...

The built-in engine is :class:`CNNTrainer` (``train.train_group`` on ``models.GroupedCNN``). A project supplies
its own through the ``pytest_scaling_make_trainer`` hook (hookspecs.py); the session (``session.ScalingSession``)
is the one place that decides which trainer a session uses, and every executor trains through it.

Workers get the session's trainer by pickle: it rides in the picklable ``jobs.TrainJob`` to process-pool
workers (spawned: they import the trainer's class by its module path) and Ray tasks; pytest-xdist workers run
the project's conftest, so each asks the hook itself. A trainer must therefore be picklable — an instance of a
class defined at module level in an importable module (``pythonpath = .`` in the ini makes a project's own
modules importable) — and deterministic: the same name and version must mean the same code.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pytest_scaling.errors import ScalingError

if TYPE_CHECKING:
    import torch

    from pytest_scaling.data import Dataset
    from pytest_scaling.runs import RunResult, RunSpec
    from pytest_scaling.train import TrainSettings

#: What a trainer must have (the rest has defaults in :class:`Trainer`).
REQUIRED = ("name", "version", "flops_per_example", "train")


class Trainer:
    """Base class of trainers (subclassing it is optional: any object with :data:`REQUIRED` will do)."""

    name: str = ""
    version: str = ""

    def params(self, width: int) -> int:
        """Parameters of one member at ``width`` (what the trainer puts in ``RunResult.params``)."""
        raise NotImplementedError

    def flops_per_example(self, width: int) -> int:
        """Forward FLOPs of one member on one example; a run's compute is 3 × this × examples seen."""
        raise NotImplementedError

    def group_size(self, device: torch.device, width: int) -> int:
        """How many chains of one width the runner hands over per call of :meth:`train` (``--scaling-group-size``
        overrides it)."""
        return 1

    def train(self, specs: list[RunSpec], data: Dataset, settings: TrainSettings) -> list[RunResult]:
        """Train ``specs`` (one ``group_key``; whole chains: a chain's shorter fractions come with it) on ``data``;
        one result per spec, in order. ``settings`` says where to score checkpoints (``TrainSettings``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class CNNTrainer(Trainer):
    """The built-in engine: the grouped CNN of ``models.py`` trained by ``train.train_group``. Its runs'
    cache keys are the ones they always were (no trainer field; its version is ``TRAINING_CODE_VERSION``)."""

    name: ClassVar[str] = "cnn"

    @property
    def version(self) -> str:
        from pytest_scaling.train import TRAINING_CODE_VERSION

        return TRAINING_CODE_VERSION

    def params(self, width: int) -> int:
        from pytest_scaling.models import count_params

        return count_params(width)

    def flops_per_example(self, width: int) -> int:
        from pytest_scaling.models import forward_flops_per_example

        return forward_flops_per_example(width)

    def group_size(self, device: torch.device, width: int) -> int:
        from pytest_scaling.device import default_group_size

        return default_group_size(device, width)

    def train(self, specs: list[RunSpec], data: Dataset, settings: TrainSettings) -> list[RunResult]:
        from pytest_scaling.train import train_group

        return train_group(specs, data, settings)


def is_builtin(trainer) -> bool:
    """The built-in CNN engine (exactly: a subclass may train differently), whose keys carry no trainer."""
    return type(trainer) is CNNTrainer


def group_size(trainer, device, width: int) -> int:
    """The trainer's chains per group (1 for a trainer without ``group_size``)."""
    size = getattr(trainer, "group_size", None)
    return max(1, int(size(device, width))) if callable(size) else 1


def check_trainer(trainer, where: str = "pytest_scaling_make_trainer") -> Trainer:
    """``trainer`` if it has what the runner calls, else a ScalingError naming what is missing."""
    missing = [attr for attr in REQUIRED if not getattr(trainer, attr, None)]
    if missing:
        raise ScalingError(f"{where} returned {trainer!r}, which has no {', '.join(missing)}: a trainer needs a "
                           f"name and a version (both go into the cache key), flops_per_example(width) and "
                           f"train(specs, data, settings) (see pytest_scaling.trainers.Trainer)")
    for attr in ("name", "version"):
        if not isinstance(getattr(trainer, attr), str):
            raise ScalingError(f"{where}: the trainer's {attr} must be a string, got {getattr(trainer, attr)!r}")
    return trainer


def check_picklable(trainer) -> None:
    """Worker processes and Ray tasks get the trainer by pickle: say how to fix one that cannot travel."""
    try:
        pickle.dumps(trainer)
    except Exception as error:
        raise ScalingError(f"the trainer {trainer!r} cannot be sent to worker processes ({type(error).__name__}: "
                           f"{error}): define its class at module level in an importable module (a project's own "
                           "module: add `pythonpath = .` to its pytest.ini), or train in this process with "
                           "--scaling-executor=local") from None
