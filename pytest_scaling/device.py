"""The one place that knows about devices: parse the option, describe the device, sync it."""

from __future__ import annotations

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
            raise DeviceUnavailable(f"device {name!r} asked for, but CUDA is not available here; use --scaling-device=cpu")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
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


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels (for honest timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
