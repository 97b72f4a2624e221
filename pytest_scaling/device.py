"""The one place that knows about devices: parse the option, describe the device, sync it."""

from __future__ import annotations

import ctypes
import sys
from functools import cache

import torch

from pytest_scaling.errors import DeviceUnavailable

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``--scaling-device`` into a torch device, or raise with what is available."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceUnavailable(f"unknown device {name!r}; use one of: {DEVICE_CHOICES}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"device {name!r} asked for, but CUDA is not available here; "
                                    "use --scaling-device=cpu")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"device {name!r} asked for, but only {torch.cuda.device_count()} "
                                    "CUDA device(s) exist")
        return torch.device("cuda", index)
    if device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceUnavailable("device 'mps' asked for, but MPS is not available here; use --scaling-device=cpu")
        return device
    raise DeviceUnavailable(f"unsupported device {name!r}; use one of: {DEVICE_CHOICES}")


def device_kind(device: torch.device) -> str:
    """What goes into cache keys: results differ across device kinds, not across indices."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return device.type


def describe_device(device: torch.device) -> str:
    """The device as a person names it: ``cpu``, ``cuda:0 NVIDIA H200``, ``mps``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} {torch.cuda.get_device_name(index)}"
    return device.type


def default_group_size(device: torch.device, width: int) -> int:
    """How many chains of one width to train as one grouped model.

    On a GPU a single tiny CNN leaves the device idle, so group wide. On CPU, don't:
    the grid runs in one single-threaded process per core, and there the whole
    `small` grid took 9.6 min with every chain alone against 10.9 min with groups of
    4 up to width 8 (`benchmarks/grid_speed.py`); grouping only amortises per-op
    overhead that a single thread does not have.
    """
    if device.type == "cpu":
        return 1
    return 32 if width <= 32 else 16


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 in hardware. Where it does not (pre-Ampere GPUs, CPUs without
    AVX512-BF16, AMX or Arm's BF16) torch's bf16 kernels are emulated, several times slower than fp32;
    see precision.py. On CPUs the instruction flags decide, not mkldnn's own probe, which also says yes
    to plain AVX-512 (where oneDNN emulates bf16)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type != "cpu":
        return False  # MPS: bf16 support is partial and version-dependent
    return _cpu_has_bf16_flags()


@cache
def _cpu_has_bf16_flags() -> bool:
    """The CPU's bf16 instructions as /proc/cpuinfo lists them (False where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})  # x86 flags; "bf16" in an Arm CPU's Features


def device_model(device: torch.device) -> str:
    """The hardware model, finer than :func:`device_kind`: what a speed measurement holds for.
    ``cpu AMD EPYC 9R14 (avx512_bf16)``, ``cuda NVIDIA H200 sm_90``, ``mps``. A CPU is named by
    /proc/cpuinfo's model name (the platform's processor string elsewhere) and the bf16 flags it
    has, since a hypervisor may show two generations under one name (``AMD EPYC``)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"cuda {torch.cuda.get_device_name(device)} sm_{major}{minor}"
    if device.type != "cpu":
        return device.type
    name, flags = _cpu_model_and_bf16_flags()
    return f"cpu {name}" + (f" ({', '.join(flags)})" if flags else "")


@cache
def _cpu_model_and_bf16_flags() -> tuple[str, tuple[str, ...]]:
    import platform

    name, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "model name" and not name:
                    name = " ".join(value.split())
                elif key in ("flags", "features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "unknown"
    return name, tuple(sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"}))


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels (for honest timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


#: glibc's mallopt parameters (malloc.h) and the largest mmap threshold it accepts on 64-bit.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MAX_MMAP_THRESHOLD = 32 * 2**20


def activation_chunk_bytes(device: torch.device) -> int:
    """How many bytes of activations one evaluation chunk may hold.

    On CPU, chunks stay under glibc's largest mmap threshold so that their memory is
    reused (:func:`keep_freed_host_memory`): scoring 10k images at width 32 took 1.9 s in
    32 MiB chunks against 3.3 s in 256 MiB ones. An accelerator wants few, large
    launches and has the memory for them.
    """
    return _MAX_MMAP_THRESHOLD if device.type == "cpu" else 2**30


@cache
def keep_freed_host_memory() -> bool:
    """Let glibc reuse freed blocks of up to 32 MiB instead of handing them back to the OS.

    By default, a block over ~128 KiB-32 MiB is mmapped and unmapped on every allocation, so
    each of a training step's activation tensors page-faults in afresh: ~4,000 faults
    and 15-30% of a width-32 CPU step. Kept, the process holds at most its peak
    working set. A no-op off glibc. Returns whether it took effect.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, 2**30))
