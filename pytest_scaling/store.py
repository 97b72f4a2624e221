"""The run cache: one JSON record per run, content-addressed, written atomically, locked per key.

Not ``.pytest_cache``: ``--cache-clear`` must never wipe hours of training.
Location: ``--scaling-cache-dir`` → ``$PYTEST_SCALING_CACHE`` → platformdirs' user cache.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import platformdirs
import torch
from filelock import FileLock, Timeout

from pytest_scaling.errors import CacheError, CacheFull
from pytest_scaling.fileio import atomic_write
from pytest_scaling.runs import RunResult, RunSpec

CACHE_ENV = "PYTEST_SCALING_CACHE"
RECORD_FORMAT = 1
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)  # a full disk, or this user's quota: the same story for the cache


class CorruptCacheRecord(UserWarning):
    """A cache record failed its checksum or did not parse; it is retrained."""


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("pytest-scaling"))


@dataclass(frozen=True)
class Context:
    """What besides the spec decides a run's numbers; all of it goes into the key."""

    dataset: str  # the data source's identity (DatasetSource / TensorSource)
    device_kind: str
    code_version: str  # the trainer's version (the built-in engine's: train.TRAINING_CODE_VERSION)
    torch_version: str = torch.__version__
    settings: str = ""  # repr of TrainSettings
    #: How this device computes bf16 (``native`` or ``rounded``, precision.py): the two agree but for the
    #: order of sums, so a bf16 run's key names it; fp32 keys leave it out (they are unchanged).
    bf16_arithmetic: str = ""
    #: The trainer's name (``trainers``), its version being ``code_version``. Empty for the built-in CNN
    #: engine, whose keys leave it out (they are the keys its runs always had); any other trainer's name is
    #: in every key and record, so two families never share a run.
    trainer: str = ""

    def as_dict(self) -> dict:
        context = {"dataset": self.dataset, "device_kind": self.device_kind, "code_version": self.code_version,
                   "torch_version": self.torch_version, "settings": self.settings}
        if self.trainer:
            context["trainer"] = self.trainer
        return context

    def for_spec(self, spec: RunSpec) -> dict:
        """What of the context goes into this spec's key."""
        context = self.as_dict()
        if spec.precision == "bf16":
            context["bf16_arithmetic"] = self.bf16_arithmetic
        return context


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def run_key(spec: RunSpec, context: Context) -> str:
    return hashlib.sha256(_canonical({"spec": spec.as_dict(), "context": context.for_spec(spec)})).hexdigest()


class RunStore:
    """Reads and writes run records under one directory."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self.runs_dir = self.directory / "runs"
        self.locks_dir = self.directory / "locks"

    def prepare(self) -> RunStore:
        """Create the directories and prove they are writable, or raise a clear CacheError."""
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            self.locks_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.runs_dir, prefix=".probe-"):
                pass
        except OSError as error:
            raise CacheError(
                f"cannot write the run cache at {str(self.directory)!r} ({error.strerror or error}).\n"
                f"Choose another place with --scaling-cache-dir=PATH or {CACHE_ENV}=PATH."
            ) from None
        return self

    def path_for(self, key: str) -> Path:
        return self.runs_dir / key[:2] / f"{key}.json"

    def get(self, spec: RunSpec, context: Context) -> RunResult | None:
        """The cached result, or None when absent; a corrupt record is removed with a warning."""
        key = run_key(spec, context)
        path = self.path_for(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            record = json.loads(raw)
            result_json = record["result"]
            if record.get("format") != RECORD_FORMAT or record.get("key") != key:
                raise ValueError("format or key mismatch")
            if record.get("checksum") != hashlib.sha256(_canonical(result_json)).hexdigest():
                raise ValueError("checksum mismatch")
            result = RunResult.from_json(result_json)
            if result.spec != spec:
                raise ValueError("spec mismatch")
            return result
        except (ValueError, KeyError, TypeError) as error:
            warnings.warn(CorruptCacheRecord(f"corrupt cache record {path} ({error}); it will be retrained"),
                          stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def put(self, result: RunResult, context: Context) -> Path:
        """Write atomically: a reader sees the old state or the whole new record, never half."""
        key = run_key(result.spec, context)
        path = self.path_for(key)
        result_json = result.to_json()
        record = {
            "format": RECORD_FORMAT, "key": key, "context": context.for_spec(result.spec), "result": result_json,
            "checksum": hashlib.sha256(_canonical(result_json)).hexdigest(),
        }
        data = _canonical(record)
        try:
            atomic_write(path, data)  # on failure it leaves no temp file, and the old record (if any) stands
        except OSError as error:
            if error.errno not in _NO_SPACE:
                raise
            raise CacheFull(self.directory, self.free_bytes(), len(data)) from error
        return path

    def free_bytes(self) -> int:
        """Free space on the cache's filesystem for this user (0 where it cannot be read)."""
        try:
            return shutil.disk_usage(self.directory).free
        except OSError:
            return 0

    def _file_lock(self, spec: RunSpec, context: Context) -> FileLock:
        return FileLock(str(self.locks_dir / f"{run_key(spec, context)}.lock"))

    @contextmanager
    def lock(self, spec: RunSpec, context: Context, timeout: float = -1) -> Iterator[bool]:
        """Hold the run's lock (yields True), or yield False if ``timeout`` ran out first."""
        lock = self._file_lock(spec, context)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def try_lock(self, spec: RunSpec, context: Context) -> FileLock | None:
        """A held lock for the run, or None if another process holds it."""
        lock = self._file_lock(spec, context)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        return lock

    def records(self) -> Iterator[tuple[dict, RunResult]]:
        """Every readable record with its context (for ``pytest-scaling runs`` and ``cache info``)."""
        for path in sorted(self.runs_dir.glob("*/*.json")):
            try:
                record = json.loads(path.read_bytes())
                yield record["context"], RunResult.from_json(record["result"])
            except (ValueError, KeyError, TypeError, OSError):
                continue

    def info(self) -> dict:
        paths = list(self.runs_dir.glob("*/*.json"))
        return {"directory": str(self.directory), "runs": len(paths),
                "bytes": sum(p.stat().st_size for p in paths if p.exists())}

    def clear(self) -> int:
        n = len(list(self.runs_dir.glob("*/*.json")))
        shutil.rmtree(self.runs_dir, ignore_errors=True)
        shutil.rmtree(self.locks_dir, ignore_errors=True)
        return n
