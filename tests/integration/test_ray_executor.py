"""The Ray executor against a real (local, 2-CPU) Ray cluster started by the test, on fake IDX data.

The cluster is started with ``ray start --head`` in a subprocess and joined by address,
as a driver joins a real cluster; the driver writes the cache, workers only train.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from pytest_scaling.budgets import get_budget
from tests.conftest import MICRO_BUDGET
from tests.integration.test_runner import session


def test_make_executor_ray_without_ray_says_how_to_install(monkeypatch):
    from pytest_scaling.executors import make_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" now raises ImportError
    monkeypatch.delitem(sys.modules, "pytest_scaling.ray_executor", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'pytest-scaling\[ray\]'"):
        make_executor("ray")


def test_unreachable_head_fails_fast_with_how_to_start_one():
    pytest.importorskip("ray")
    from pytest_scaling.errors import ScalingError
    from pytest_scaling.ray_executor import _probe

    with pytest.raises(ScalingError, match=r"cannot reach the Ray head.*ray start --head"):
        _probe(f"127.0.0.1:{_free_port()}", timeout=2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory):
    """A 2-CPU Ray head node in a subprocess (``--block``: SIGTERM stops everything it started)."""
    ray = pytest.importorskip("ray")
    ray_cli = shutil.which("ray") or pytest.skip("the 'ray' command is not on PATH")
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "ray-start.log"
    # Its own short temp dir (socket paths must stay < 108 bytes): the head's address file goes
    # there, not to /tmp/ray/ray_current_cluster, where a plain ray.init() would find it after we stop.
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    # A private loopback cluster: no token auth (Ray ≥2.5x turns it on when ~/.ray/auth_token exists,
    # and head and driver may then disagree on the token). Head and driver both see this setting.
    previous_auth_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    with open(log, "w") as out:
        head = subprocess.Popen(
            [ray_cli, "start", "--head", f"--port={port}", f"--temp-dir={temp_dir}", "--num-cpus=2", "--num-gpus=0",
             "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=100000000", "--block"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the head's port (ray.init on a dead address would retry for minutes)
            if head.poll() is not None:
                pytest.fail(f"'ray start --head' exited with {head.returncode}:\n{log.read_text()[-3000:]}")
            if os.path.exists(os.path.join(temp_dir, "ray_current_cluster")):  # written once the head is up
                break
            if time.monotonic() > deadline:
                pytest.fail(f"Ray head did not come up within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=40)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)
        if previous_auth_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_auth_mode


def test_ray_executor_matches_in_process_training_and_driver_writes_the_cache(fake_data_dir, tmp_path, ray_address):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()[:8]
    local = session(fake_data_dir, tmp_path / "a").runs(specs)

    on_ray = session(fake_data_dir, tmp_path / "b", executor="ray", ray_address=ray_address)
    table = on_ray.runs(specs)
    assert on_ray.stats()["runs_trained"] == 8 and on_ray.stats()["runs_cached"] == 0
    # Same groups, same seeds: single-threaded Ray workers agree with in-process training up to float error.
    by_spec = {r.spec: r for r in table}
    assert [by_spec[r.spec].val_loss for r in local] == pytest.approx([r.val_loss for r in local], rel=1e-3)
    assert [by_spec[r.spec].val_acc for r in local] == pytest.approx([r.val_acc for r in local], rel=1e-3)

    # The driver wrote every record: a fresh session (no Ray) finds all of them in the cache.
    cached = session(fake_data_dir, tmp_path / "b", no_train=True)
    assert len(cached.runs(specs)) == 8
    assert cached.stats()["runs_cached"] == 8 and cached.stats()["runs_missing"] == 0


def _job(source):
    from pytest_scaling.executors import TrainJob
    from pytest_scaling.train import TrainSettings

    return TrainJob(source, "cpu", TrainSettings())


def _copied_source(fake_data_dir, directory):
    from pytest_scaling.data import resolve_dataset

    shutil.copytree(fake_data_dir, directory)
    return resolve_dataset("mnist", directory)


def test_worker_without_the_dataset_says_it_needs_it_at_the_same_path(fake_data_dir, tmp_path, ray_address):
    from pytest_scaling.errors import DatasetNotFound
    from pytest_scaling.ray_executor import RayExecutor

    source = _copied_source(fake_data_dir, tmp_path / "data")
    spec = get_budget("micro", [MICRO_BUDGET]).main_specs()[0]

    def groups():  # the driver has fingerprinted the dataset; now it vanishes before the worker reads it
        shutil.rmtree(source.directory)
        yield [spec]

    executor = RayExecutor(ray_address)
    with pytest.raises(DatasetNotFound, match=r"cannot find the dataset.*same path as the driver") as info:
        list(executor.map(groups(), _job(source), lambda: None))
    assert f"width={spec.width}" in str(info.value)  # names the group


def test_failing_task_names_its_group(fake_data_dir, tmp_path, ray_address):
    from pytest_scaling.ray_executor import RayExecutor, RayTaskFailed
    from pytest_scaling.runs import RunSpec

    source = _copied_source(fake_data_dir, tmp_path / "data")
    bad = [RunSpec(width=2, fraction=1 / 16, seed=0, batch_size=0)]  # a zero batch size fails in the worker
    with pytest.raises(RayTaskFailed, match=r"group of 1 run\(s\) width=2 fractions=0.0625 batch_size=0"):
        list(RayExecutor(ray_address).map(iter([bad]), _job(source), lambda: None))
