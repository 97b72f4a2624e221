"""The arithmetic of a forward pass: fp32, or bf16 natively or by rounding.

bf16 means what autocast does: each convolution and matmul takes its operands rounded to
bf16, multiplies them exactly (a bf16 × bf16 product fits in fp32), accumulates in fp32 and
rounds its result to bf16; the gradients flowing back through it are bf16 as well. Weights,
Adam's state and the loss stay fp32.

Where the device computes bf16 natively (CUDA compute capability ≥ 8.0, CPUs with
avx512_bf16 or AMX) that is ``torch.autocast``. Elsewhere torch falls back to emulated bf16
kernels: on an AMD EPYC without avx512_bf16 a 1024² matmul ran at 0.7 GFLOP/s in bf16
against 35 in fp32, and a width-16 run took 44 s against 6. There :class:`RoundToBf16`
produces the same numbers from fp32 kernels: it rounds the operands and the result of each of
those ops (and their gradients) to bf16 and computes in between in fp32. It differs from
autocast only in the order of the fp32 accumulation (``tests/unit/test_precision.py``
measures how little), so a bf16 run means the same on every machine and the claim that bf16
does not move the estimates can be decided on a CPU without bf16 hardware.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from pytest_scaling.device import native_bf16

PRECISION_CHOICES = ("fp32", "bf16", "auto")


class _Bf16Round(torch.autograd.Function):
    """x rounded to the nearest bf16 (ties to even), kept in x's dtype; its gradient rounded too."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.bfloat16).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.to(torch.bfloat16).to(grad.dtype)


def round_to_bf16(x):
    """Tensors in floating point are rounded to bf16 (differentiably); anything else passes through."""
    if isinstance(x, torch.Tensor) and x.dtype in (torch.float32, torch.float64):
        return _Bf16Round.apply(x)
    return x


class RoundToBf16(TorchFunctionMode):
    """Within it, the ops autocast runs in bf16 compute in fp32 on bf16-rounded operands and
    return a bf16-rounded result: bf16 arithmetic at fp32 kernels' speed (module docstring)."""

    #: The convolutions and matmuls autocast puts in bf16 (the ops this package uses and their kin).
    LOWERED = frozenset({
        torch.conv1d, torch.conv2d, torch.conv3d, F.conv1d, F.conv2d, F.conv3d,
        torch.conv_transpose1d, torch.conv_transpose2d, torch.conv_transpose3d,
        torch.matmul, torch.mm, torch.bmm, torch.addmm, torch.addbmm, torch.baddbmm, torch.addmv, torch.mv,
        F.linear, torch.Tensor.matmul, torch.Tensor.__matmul__,
    })

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in self.LOWERED:
            return func(*args, **kwargs)
        args = tuple(round_to_bf16(a) for a in args)
        kwargs = {k: round_to_bf16(v) for k, v in kwargs.items()}
        return round_to_bf16(func(*args, **kwargs))


def forward_precision(device: torch.device, precision: str):
    """The context a forward pass runs in: none for fp32 (today's arithmetic, to the bit); for bf16,
    autocast where the device has bf16 hardware and :class:`RoundToBf16` where it does not. Only the
    forward pass: weights, gradients' accumulation, Adam's state and the loss stay fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        if native_bf16(device):
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return RoundToBf16()
    raise ValueError(f"unknown precision {precision!r}")


def bf16_arithmetic(device: torch.device) -> str:
    """How this device computes bf16: ``native`` or ``rounded`` (fp32 kernels, see :class:`RoundToBf16`)."""
    return "native" if native_bf16(device) else "rounded"


def resolve_precision(option: str, device: torch.device) -> str:
    """Turn ``--scaling-precision`` into ``fp32`` or ``bf16`` for this device. ``auto`` takes bf16
    only where the device computes it natively: rounded bf16 is slower than fp32, never faster."""
    name = (option or "fp32").strip().lower()
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name in ("fp32", "bf16"):
        return name
    raise ValueError(f"unknown precision {option!r}; use one of: {', '.join(PRECISION_CHOICES)}")
