"""``--scaling-precision=auto`` decided: fp32 without bf16 hardware, else bf16 only where the probe
(``precision_probe``) measures it faster. Apart from ``precision.py`` so that the probe, which runs
the grid's step in each precision, imports ``precision`` and nothing imports back."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pytest_scaling import precision as _precision
from pytest_scaling.precision_probe import BF16_MARGIN, measure
from pytest_scaling.runs import precision_option


def native_bf16(device: torch.device) -> bool:
    """``precision.native_bf16``, looked up at call time, so that a test replacing it there changes
    both what a bf16 forward pass runs and what ``auto`` picks."""
    return _precision.native_bf16(device)


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a session trains in, and why: ``reason`` is one line for the header (empty
    where the option named the precision), ``probe`` the measurement behind an ``auto`` choice."""

    precision: str
    reason: str = ""
    probe: object = None  # precision_probe.ProbeResult, where one decided

    @property
    def label(self) -> str:
        """``fp32``, or ``bf16 (auto: native, measured 1.31× faster)``."""
        return f"{self.precision} ({self.reason})" if self.reason else self.precision


def choose_precision(option: str, device: torch.device, probe_dir=None, timer=None) -> PrecisionChoice:
    """Turn ``--scaling-precision`` into ``fp32`` or ``bf16`` for this device, with the reason.

    ``auto`` takes fp32 where the device has no bf16 hardware, without measuring: there bf16 is
    rounded around fp32 kernels (module docstring), the same kernels plus the roundings, never
    faster. Where bf16 is native, ``precision_probe`` times the grid's training step in both and
    ``auto`` takes bf16 only if it is at least ``BF16_MARGIN`` faster: on an avx512_bf16 EPYC the
    whole ``small`` grid was slower in bf16 (459 s against 428 s) although its biggest kernel is
    faster. ``probe_dir``: where the measurement is cached per device model (the run cache), None
    for nowhere; ``timer``: the measurement (tests inject one; see ``precision_probe.measure``). A
    probe that fails gives fp32, and says so."""
    name = precision_option(option)
    if name != "auto":
        return PrecisionChoice(name)
    if not native_bf16(device):
        return PrecisionChoice("fp32", "auto: no bf16 hardware here; rounded bf16 is slower")
    try:
        probe, _cached = measure(device, probe_dir, timer)
    except Exception as error:  # a failed probe must not fail the session
        return PrecisionChoice("fp32", f"auto: bf16 probe failed ({type(error).__name__}): fp32")
    speedup = probe.speedup
    if speedup >= BF16_MARGIN:
        return PrecisionChoice("bf16", f"auto: native, measured {speedup:.2f}× faster", probe)
    if speedup >= 1:
        return PrecisionChoice("fp32", f"auto: bf16 measured only {speedup:.2f}× faster here "
                                       f"(under {BF16_MARGIN:.2f}×)", probe)
    return PrecisionChoice("fp32", f"auto: bf16 measured {1 / speedup:.2f}× slower here", probe)


def resolve_precision(option: str, device: torch.device, probe_dir=None, timer=None) -> str:
    """``choose_precision``'s precision alone: ``fp32`` or ``bf16``."""
    return choose_precision(option, device, probe_dir, timer).precision
