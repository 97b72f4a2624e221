"""Is bf16 faster than fp32 for this family on this device? A short measurement, cached per device.

Native bf16 arithmetic does not make the grid faster by itself: on a 2-core AMD EPYC with
avx512_bf16 the whole cold ``small`` claims run took 459 s in bf16 against 428 s in fp32, back
to back (issue 22), although its second convolution alone is faster in bf16: at the narrow
widths a step is bound by per-op overhead, and autocast adds casts to every op. So ``auto``
picks bf16 only where this probe measures it faster by :data:`BF16_MARGIN` (``precision.
choose_precision``).

The probe times the grid's own training step (``train._train_lines``'s loop body, written out
as ``benchmarks/step_profile.py`` does: the grouped model's forward in the run's arithmetic, the
loss in fp32, the gradients, ``train._Adam``'s update) at :data:`PROBE_WIDTHS` — the narrow,
overhead-bound end and the convolution-bound wide end of the built-in grids — one step at each
width per pass, as the grid trains every width on the same examples. Group size and threads
are the grid's: ``device.default_group_size`` members per model, and on CPU one thread (each
grid worker is a single-threaded process). Passes alternate between the precisions after
:data:`WARMUP_PASSES` untimed ones each, and the fastest of :data:`TIMED_PASSES` counts: the
least disturbed by whatever else the machine runs. About a second on a CPU.

The result (both timings, their ratio, the torch version, the device) is a small JSON file per
device model (``device.device_model``) in the directory the caller names (the session's run
cache), written atomically under a file lock, so a machine probes once and parallel workers
agree; a file that cannot be read, or was measured with another torch or probe version, is
measured again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

#: Bumped whenever the probe's workload changes: a cached result of another version is measured again.
PROBE_VERSION = 1
#: ``auto`` takes bf16 only if the probe measures it at least this much faster (fp32 time / bf16 time):
#: under it, the probe's noise and the grid's scoring and data movement (which it leaves out) could
#: turn the gain into a loss, as on the avx512_bf16 EPYC.
BF16_MARGIN = 1.10
PROBE_WIDTHS = (2, 8, 32)
PROBE_BATCH = 64
WARMUP_PASSES = 2
TIMED_PASSES = 5

#: ``timer(device) -> (fp32_seconds, bf16_seconds)``: the probe's workload timed in each precision.
Timer = Callable[[torch.device], tuple[float, float]]


@dataclass(frozen=True)
class ProbeResult:
    """One measurement: seconds for a pass (one training step at each of ``widths``) per precision."""

    device: str  # device.device_model
    torch: str
    fp32_seconds: float
    bf16_seconds: float
    widths: tuple[int, ...] = PROBE_WIDTHS
    probe_version: int = PROBE_VERSION
    measured_at: str = ""

    @property
    def speedup(self) -> float:
        """fp32's time over bf16's: above 1, bf16 is faster."""
        return self.fp32_seconds / self.bf16_seconds

    def as_json(self) -> dict:
        return {**asdict(self), "widths": list(self.widths), "speedup": round(self.speedup, 4)}

    @classmethod
    def from_json(cls, data) -> ProbeResult:
        """The result a cache file holds; ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        try:
            result = cls(device=str(data["device"]), torch=str(data["torch"]),
                         fp32_seconds=float(data["fp32_seconds"]), bf16_seconds=float(data["bf16_seconds"]),
                         widths=tuple(int(w) for w in data["widths"]), probe_version=int(data["probe_version"]),
                         measured_at=str(data.get("measured_at", "")))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed probe record: {error!r}") from None
        if not all(math.isfinite(t) and t > 0 for t in (result.fp32_seconds, result.bf16_seconds)):
            raise ValueError("probe timings must be positive and finite")
        return result


def _training_step(device: torch.device, width: int, group: int):
    """``precision -> None``: one training step of a ``group``-member model of ``width`` on a fixed
    batch, in that precision, as ``train._train_lines`` runs it."""
    import torch.nn.functional as F

    from pytest_scaling.models import GroupedCNN, init_member
    from pytest_scaling.precision import forward_precision
    from pytest_scaling.train import TrainSettings, _Adam

    settings = TrainSettings()
    model = GroupedCNN(width, [init_member(width, seed) for seed in range(group)], torch.zeros(group), device)
    params = model.parameters()
    adam = _Adam(params, [torch.full_like(p, 1e-3) for p in params], settings)
    generator = torch.Generator(device=device).manual_seed(0)
    images = torch.randn(group, PROBE_BATCH, 1, 28, 28, generator=generator, device=device)
    labels = torch.randint(0, 10, (group, PROBE_BATCH), generator=generator, device=device)

    def step(precision: str) -> None:
        with forward_precision(device, precision):
            logits = model.forward(images, generator)
        logits = logits.float()
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                 reduction="none").view(group, -1).mean(1)
        adam.step(list(torch.autograd.grad(losses.sum(), params)))
    return step


@contextlib.contextmanager
def _as_a_grid_worker(device: torch.device):
    """On CPU: one thread, and glibc keeping freed blocks, as each grid worker process runs; the
    thread count is restored after. On CUDA: IEEE fp32 (no TF32), as training sets it."""
    from pytest_scaling.device import keep_freed_host_memory
    from pytest_scaling.precision import exact_fp32

    exact_fp32(device)
    if device.type != "cpu":
        yield
        return
    keep_freed_host_memory()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def time_passes(device: torch.device, widths=PROBE_WIDTHS, precisions=("fp32", "bf16"), group: int | None = None,
                warmup: int = WARMUP_PASSES, passes: int = TIMED_PASSES) -> dict[str, dict[int, float]]:
    """Per precision, per width: the fastest of ``passes`` timed training steps (seconds), the precisions
    alternating step by step after ``warmup`` untimed steps each. ``group``: members per model; None:
    the grid's (``device.default_group_size``)."""
    from pytest_scaling.device import default_group_size, synchronize

    best = {p: {w: math.inf for w in widths} for p in precisions}
    with _as_a_grid_worker(device):
        for width in widths:
            step = _training_step(device, width, group or default_group_size(device, width))
            for precision in precisions:
                for _ in range(warmup):
                    step(precision)
            synchronize(device)
            for _ in range(passes):
                for precision in precisions:
                    started = time.perf_counter()
                    step(precision)
                    synchronize(device)
                    best[precision][width] = min(best[precision][width], time.perf_counter() - started)
    return best


def time_probe(device: torch.device) -> tuple[float, float]:
    """The default :data:`Timer`: seconds for one step at each of :data:`PROBE_WIDTHS`, in fp32 and bf16."""
    best = time_passes(device)
    return sum(best["fp32"].values()), sum(best["bf16"].values())


def probe_path(probe_dir: Path, model: str) -> Path:
    """The cache file of one device model: readable, and distinct for distinct names."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-")[:60]
    return Path(probe_dir) / f"precision-probe-{slug}-{hashlib.sha256(model.encode()).hexdigest()[:8]}.json"


def _read(path: Path, model: str) -> ProbeResult | None:
    """The cached result if it is one for this device, torch and probe version; else None (rebuilt)."""
    try:
        result = ProbeResult.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if (result.device, result.torch, result.probe_version, result.widths) != (model, torch.__version__,
                                                                               PROBE_VERSION, PROBE_WIDTHS):
        return None
    return result


#: Default-timer results measured in this process, by device model: every ``auto`` here agrees.
_measured: dict[str, ProbeResult] = {}


def measure(device: torch.device, probe_dir: Path | str | None = None, timer: Timer | None = None,
            lock_timeout: float = 300.0) -> tuple[ProbeResult, bool]:
    """This device's probe result and whether it came from the cache (a file in ``probe_dir``, or
    an earlier measurement in this process). ``probe_dir`` None: nothing is read or written.
    ``timer``: the measurement (default :func:`time_probe`); one passed in is never remembered in
    the process, so tests see every call. Writing the file may fail (read-only cache): the result
    still counts."""
    from filelock import FileLock, Timeout

    from pytest_scaling.device import device_model
    from pytest_scaling.fileio import atomic_write

    model = device_model(device)
    remember = timer is None
    timer = timer or time_probe

    def run() -> ProbeResult:
        if remember and model in _measured:
            return _measured[model]
        fp32_seconds, bf16_seconds = timer(device)
        result = ProbeResult.from_json({
            "device": model, "torch": torch.__version__, "fp32_seconds": fp32_seconds,
            "bf16_seconds": bf16_seconds, "widths": PROBE_WIDTHS, "probe_version": PROBE_VERSION,
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        if remember:
            _measured[model] = result
        return result

    if probe_dir is None:
        cached = remember and model in _measured
        return run(), cached
    path = probe_path(Path(probe_dir), model)
    if (result := _read(path, model)) is not None:
        return result, True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path.with_suffix(".lock")))
        lock.acquire(timeout=lock_timeout)
    except (OSError, Timeout):  # no lock to be had: measure anyway, and let the atomic write settle it
        lock = None
    try:
        if lock is not None and (result := _read(path, model)) is not None:
            return result, True  # another process measured while we waited
        cached = remember and model in _measured
        result = run()
        with contextlib.suppress(OSError):
            atomic_write(path, (json.dumps(result.as_json(), indent=1) + "\n").encode())
        return result, cached
    finally:
        if lock is not None:
            lock.release()
