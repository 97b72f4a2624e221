"""What every executor shares: the picklable job a worker trains from, and the bounded submit loop.

The job carries the session's trainer (``trainers``) and its data source: a worker trains with exactly
the trainer the session chose, unpickled from the job (by its class's module path), never one of its own.

Its own module so that the local/process executors and the Ray executor both import it
and neither imports the other at load time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Hashable, Iterable, Iterator

from pytest_scaling.data import Dataset, DatasetSource, TensorSource
from pytest_scaling.runs import RunResult, RunSpec
from pytest_scaling.train import TrainSettings
from pytest_scaling.trainers import CNNTrainer, Trainer


@dataclass(frozen=True)
class TrainJob:
    """Everything a worker needs to train a group, in picklable form: where the data is (a file source
    is a path, a tensor source carries its tensors), the device, the settings and the trainer."""

    source: DatasetSource | TensorSource
    device: str
    settings: TrainSettings
    trainer: Trainer = field(default_factory=CNNTrainer)


_worker_data: dict[tuple, Dataset] = {}


def worker_dataset(job: TrainJob) -> Dataset:
    """Load the dataset once per worker process and keep it for later groups."""
    import torch

    key = (job.source.identity, job.device)
    if key not in _worker_data:
        _worker_data.clear()
        _worker_data[key] = job.source.load(torch.device(job.device))
    return _worker_data[key]


def train_in_worker(group: list[RunSpec], job: TrainJob) -> list[RunResult]:
    return job.trainer.train(group, worker_dataset(job), job.settings)


def bounded_map(groups: Iterator[list[RunSpec]], limit: int, submit: Callable[[list[RunSpec]], Hashable],
                wait_any: Callable[[list[Hashable]], Iterable[Hashable]],
                in_flight: dict[Hashable, list[RunSpec]]) -> Iterator[tuple[Hashable, list[RunSpec]]]:
    """Keep at most ``limit`` groups submitted and yield ``(handle, group)`` as each finishes.

    A group is pulled (and so locked by the runner) only when it can start, so an
    executor never claims runs that another process could be training meanwhile.
    ``in_flight`` (handle → group) is the caller's, to cancel what is left on error.
    """
    iterator = iter(groups)
    exhausted = False
    while in_flight or not exhausted:
        while not exhausted and len(in_flight) < limit:
            group = next(iterator, None)
            if group is None:
                exhausted = True
            else:
                in_flight[submit(group)] = group
        if not in_flight:
            break
        for handle in wait_any(list(in_flight)):
            yield handle, in_flight.pop(handle)
