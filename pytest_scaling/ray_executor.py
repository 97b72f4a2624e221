"""Train grid groups as Ray tasks on a Ray cluster (or a local Ray instance).

Each group of same-shape runs becomes one Ray task. The task gets the group and a
small picklable :class:`~pytest_scaling.jobs.TrainJob` (never the images' tensors)
with the session's trainer, which trains the group; the worker reads the dataset from
``job.source.files`` on its own disk, once per worker process, so every node needs the
dataset at the same path as the driver (a ``TensorSource``, a project's own tensors,
travels in the job instead, and a project's trainer class must be importable on every
node). Results come back to the driver, which writes every cache record: workers
need no shared filesystem.

Resources: a CPU group asks for one CPU (and trains single-threaded); a CUDA group
asks for ``gpus_per_task`` GPUs, by default one whole GPU. The CUDA group sizes
(16-32 runs per grouped model, see ``device.default_group_size``) were measured
with one group at a time on a GPU, so one GPU per task keeps those measurements
valid and memory predictable; pass a fraction (e.g. ``0.25``) to let several
groups share a GPU.

Guards: the worker checks that it sees the same dataset (by fingerprint) and the
same device kind as the driver, because the driver files every result under its
own cache context: a different dataset or GPU model on a worker would otherwise
file wrong results under the right keys.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from dataclasses import replace
from pathlib import Path
from collections.abc import Callable, Iterator

try:
    import ray
    import ray.exceptions
except ImportError as _error:  # also when a test sets sys.modules["ray"] = None
    raise ImportError("the Ray executor needs Ray: pip install 'pytest-scaling[ray]'") from _error

from pytest_scaling.data import Dataset
from pytest_scaling.errors import DatasetNotFound, DeviceUnavailable, ScalingError
from pytest_scaling.jobs import TrainJob, bounded_map, train_in_worker
from pytest_scaling.runs import RunResult, RunSpec
import contextlib

#: Tasks in flight per schedulable slot (CPU or GPU share): enough to keep every
#: slot busy while results travel back, few enough that the runner's locks only
#: cover runs that are about to be trained.
IN_FLIGHT_PER_SLOT = 2


def _probe(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a head that does not answer: ray.init retries an unreachable GCS for minutes."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():  # "auto", "ray://...": Ray resolves these itself
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ScalingError(f"cannot reach the Ray head at {address!r} ({error}). Start the cluster with "
                           "'ray start --head --port=PORT' on the head node (workers: 'ray start "
                           "--address=HEAD:PORT') and pass --scaling-ray-address=HEAD:PORT, or leave "
                           "--scaling-ray-address out to start a local Ray instance.") from None


class RayTaskFailed(RuntimeError):
    """A group's Ray task raised, or its worker died; the message names the group."""


def describe_group(group: list[RunSpec]) -> str:
    width, batch_size, *_ = group[0].group_key
    seeds = sorted({spec.seed for spec in group})
    fractions = sorted({spec.fraction for spec in group})
    return (f"group of {len(group)} run(s) width={width} fractions={','.join(f'{f:g}' for f in fractions)} "
            f"batch_size={batch_size} seeds={seeds}")


def _worker_device(device: str) -> str:
    """On a worker Ray exposes only the GPU(s) it assigned, as cuda:0; the driver's index means nothing there."""
    return "cuda" if device.startswith("cuda") else device


def _train_group_task(group: list[RunSpec], job: TrainJob, dataset_identity: str,
                      device_kind_name: str) -> list[RunResult]:
    import torch

    from pytest_scaling.device import device_kind

    host = socket.gethostname()
    files = getattr(job.source, "files", None) or {}  # a tensor source travels in the job: nothing to find
    missing = [str(path) for path in files.values() if not Path(path).is_file()]
    if missing:
        raise DatasetNotFound(
            f"Ray worker on {host} cannot find the dataset: {', '.join(missing)} missing there. "
            "Every Ray worker reads the dataset from the same path as the driver: copy the IDX files "
            f"to {job.source.directory} on every node (or mount that directory there).")
    if job.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"Ray worker on {host} was given a GPU task but CUDA is not available there")
    else:
        torch.set_num_threads(1)  # one CPU per task: single-threaded beats oversubscribed threads on tiny models
    job = replace(job, device=_worker_device(job.device))
    if job.source.identity != dataset_identity:
        raise DatasetNotFound(
            f"Ray worker on {host} has a different dataset at {job.source.directory} than the driver "
            "(fingerprints differ); every node needs identical dataset files at the same path.")
    kind = device_kind(torch.device(job.device))
    if kind != device_kind_name:
        raise DeviceUnavailable(
            f"Ray worker on {host} trains on {kind!r} but the driver caches results as {device_kind_name!r}; "
            "results differ across device kinds, so run this grid on a cluster of one device kind.")
    return train_in_worker(group, job)


_remote_train_group = ray.remote(max_retries=2)(_train_group_task)  # retries only when a worker dies


class RayExecutor:
    """Submit each group as a Ray task and yield results as tasks finish.

    ``address``: an existing cluster (``"HOST:PORT"`` of the head, ``"ray://HOST:10001"`` for Ray
    Client, or ``"auto"`` for the cluster ``ray start`` runs on this machine). ``None``: the
    cluster in ``RAY_ADDRESS`` if set (as under ``ray job submit``), else a private local Ray
    instance; if this process already called ``ray.init``, that connection is used as is.
    Ray is initialised on the first :meth:`map`, so a session whose runs are all cached never
    touches the cluster.
    """

    def __init__(self, address: str | None = None, *, gpus_per_task: float = 1.0,
                 in_flight_per_slot: int = IN_FLIGHT_PER_SLOT):
        if gpus_per_task <= 0 or (gpus_per_task > 1 and not float(gpus_per_task).is_integer()):
            raise ValueError(f"gpus_per_task must be a fraction in (0, 1] or a whole number, got {gpus_per_task!r}")
        self.address = address
        self.gpus_per_task = gpus_per_task
        self.in_flight_per_slot = in_flight_per_slot
        self._started_here = False

    def connect(self) -> None:
        if ray.is_initialized():  # e.g. a test or an outer program already called ray.init
            return
        common = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                      ignore_reinit_error=True)
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        if address:
            _probe(address)
            try:
                ray.init(address=address, **common)
            except ConnectionError as error:
                raise ScalingError(f"cannot connect to the Ray cluster at {address!r}: {error}. "
                                   "Start one with 'ray start --head' (then workers with "
                                   "'ray start --address=HEAD:PORT'), or leave out --scaling-ray-address "
                                   "to start a local Ray instance.") from None
        else:
            # "local": a private instance. Plain ray.init() would instead join whatever cluster
            # /tmp/ray/ray_current_cluster names, and hang if that cluster has since died.
            ray.init(address="local", **common)
            self._started_here = True

    def close(self) -> None:
        """Shut down the local Ray instance this executor started (a cluster it joined keeps running)."""
        if self._started_here and ray.is_initialized():
            ray.shutdown()
        self._started_here = False

    def _slots(self, gpu: bool) -> int:
        resources = ray.cluster_resources()
        if gpu:
            gpus = resources.get("GPU", 0)
            if gpus <= 0:
                raise DeviceUnavailable("the Ray cluster has no GPUs but the device is CUDA; "
                                        "start workers with GPUs or use --scaling-device=cpu")
            return max(1, math.floor(gpus / self.gpus_per_task))
        return max(1, int(resources.get("CPU", 1)))

    def map(self, groups: Iterator[list[RunSpec]], job: TrainJob,
            local_data: Callable[[], Dataset]) -> Iterator[list[RunResult]]:
        import torch

        from pytest_scaling.device import device_kind

        self.connect()
        gpu = job.device.startswith("cuda")
        options = {"num_gpus": self.gpus_per_task, "num_cpus": 1} if gpu else {"num_cpus": 1}
        task = _remote_train_group.options(**options)
        identity = job.source.identity
        kind = device_kind(torch.device(job.device))
        job_ref = ray.put(job)  # tiny, but shared by every task instead of pickled into each
        limit = self.in_flight_per_slot * self._slots(gpu)

        in_flight: dict[ray.ObjectRef, list[RunSpec]] = {}
        try:
            for ref, group in bounded_map(groups, limit, lambda group: task.remote(group, job_ref, identity, kind),
                                          lambda refs: ray.wait(refs, num_returns=1)[0], in_flight):
                yield self._result(ref, group)
        finally:
            for ref in in_flight:  # interrupted or failed: don't leave the cluster training orphans
                with contextlib.suppress(Exception):
                    ray.cancel(ref)

    @staticmethod
    def _result(ref, group: list[RunSpec]) -> list[RunResult]:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, ScalingError):  # dataset/device problems: keep their user-facing type
                raise type(cause)(f"{describe_group(group)}: {cause}") from error
            raise RayTaskFailed(f"Ray task for {describe_group(group)} failed: "
                                f"{type(cause).__name__ if cause else 'error'}: {cause or error}") from error
        except ray.exceptions.RayError as error:  # worker or node died (after retries), task cancelled, ...
            raise RayTaskFailed(f"Ray task for {describe_group(group)} failed: {type(error).__name__}: {error}") \
                from error
