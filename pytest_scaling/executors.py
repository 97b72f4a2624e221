"""Where groups of runs are trained: in this process, in a pool of local processes, or on Ray.

An executor takes an iterator of groups (the runner locks each group just before
handing it over, so a lazy executor never claims more than it is training) and
yields each group's results as they finish, trained by the job's trainer. Remote workers rebuild the
dataset from a picklable :class:`~pytest_scaling.jobs.TrainJob` (and unpickle its trainer), so they need
the dataset on disk (or in the job, for tensors) but no shared cache: the driver writes every record.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Iterator

from pytest_scaling.data import Dataset
from pytest_scaling.jobs import TrainJob, bounded_map, train_in_worker
from pytest_scaling.runs import RunResult, RunSpec

EXECUTOR_CHOICES = ("auto", "local", "processes", "ray")


class LocalExecutor:
    """Train groups one after another in this process (``threads`` torch threads; None: torch's default)."""

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def map(self, groups: Iterator[list[RunSpec]], job: TrainJob,
            local_data: Callable[[], Dataset]) -> Iterator[list[RunResult]]:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        for group in groups:
            yield job.trainer.train(group, local_data(), job.settings)

    def close(self) -> None:
        pass


def _init_single_thread() -> None:
    import torch

    torch.set_num_threads(1)


class ProcessExecutor:
    """Train groups in N single-threaded processes: on these small models torch's intra-op threads
    barely help (a step takes about as long on 2 threads as on 1), so N processes give ~N× the
    throughput. The pool lives until :meth:`close`, so workers start and load the dataset once."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _get_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # never fork a process holding torch threads
            self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context,
                                                                initializer=_init_single_thread)
        return self._pool

    def map(self, groups: Iterator[list[RunSpec]], job: TrainJob,
            local_data: Callable[[], Dataset]) -> Iterator[list[RunResult]]:
        pool = self._get_pool()
        in_flight: dict[concurrent.futures.Future, list[RunSpec]] = {}
        try:
            for future, _ in bounded_map(
                    groups, self.workers, lambda group: pool.submit(train_in_worker, group, job),
                    lambda futures: concurrent.futures.wait(futures, return_when="FIRST_COMPLETED")[0], in_flight):
                yield future.result()
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def xdist_worker_count() -> int:
    """How many pytest-xdist workers share this machine (0 outside xdist)."""
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")) if os.environ.get("PYTEST_XDIST_WORKER") else 0


def resolve_executor_name(name: str, device_type: str) -> str:
    """``auto``: on a multi-core CPU, one single-threaded process per core (measured faster than
    one multi-threaded process, see README); on a GPU, or inside a pytest-xdist worker (the
    workers already are the processes), this process."""
    if name != "auto":
        return name
    if device_type == "cpu" and (os.cpu_count() or 1) > 1 and not xdist_worker_count():
        return "processes"
    return "local"


def make_executor(name: str, *, device_type: str = "cpu", workers: int | None = None,
                  ray_address: str | None = None):
    name = resolve_executor_name(name, device_type)
    if name == "local":
        shared_by = xdist_worker_count()
        return LocalExecutor(threads=max(1, (os.cpu_count() or 1) // shared_by) if shared_by else None)
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "ray":
        from pytest_scaling.ray_executor import RayExecutor

        return RayExecutor(address=ray_address)
    raise ValueError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTOR_CHOICES)}")
