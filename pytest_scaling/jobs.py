"""What every executor shares: the picklable job a worker trains from, and the bounded submit loop.

Its own module so that the local/process executors and the Ray executor both import it
and neither imports the other at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Hashable, Iterable, Iterator

from pytest_scaling.data import Dataset, DatasetSource
from pytest_scaling.runs import RunResult, RunSpec
from pytest_scaling.train import TrainSettings, train_group


@dataclass(frozen=True)
class TrainJob:
    """Everything a worker needs to train a group, in picklable form."""

    source: DatasetSource
    device: str
    settings: TrainSettings


_worker_data: dict[tuple, Dataset] = {}


def worker_dataset(job: TrainJob) -> Dataset:
    """Load the dataset once per worker process and keep it for later groups."""
    import torch

    from pytest_scaling.data import load_dataset

    key = (job.source.identity, job.device)
    if key not in _worker_data:
        _worker_data.clear()
        _worker_data[key] = load_dataset(job.source, torch.device(job.device))
    return _worker_data[key]


def train_in_worker(group: list[RunSpec], job: TrainJob) -> list[RunResult]:
    return train_group(group, worker_dataset(job), job.settings)


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
