"""The arithmetic of a forward pass: fp32, or bf16 natively or by rounding.

bf16 means what autocast does: each convolution and matmul takes its fp32 operands rounded to
bf16, multiplies them exactly (a bf16 × bf16 product fits in fp32), accumulates in fp32 and
rounds its result to bf16; the gradients flowing back through it are bf16 as well. Weights,
Adam's state and the loss stay fp32.

Where the device computes bf16 natively (CUDA compute capability ≥ 8.0, CPUs with
avx512_bf16, AMX or Arm's BF16) that is ``torch.autocast``. Elsewhere torch falls back to
emulated bf16 kernels: on an AMD EPYC without avx512_bf16 a 1024² matmul ran at 0.7 GFLOP/s in
bf16 against 35 in fp32, and a width-16 run took 44 s against 6. There :class:`RoundToBf16`
computes the same arithmetic with fp32 kernels: it rounds the operands and the result of each
such op (and their gradients) to bf16. It differs from autocast in the order of the fp32 sums
and in roundings inside composite ops (autocast's weight gradient of a broadcast matmul rounds
each example's part before summing them; we round the sum): logits agree to 4e-5, gradients
5-20× closer to autocast's than fp32's are, and whole runs end within a tenth of the bf16-fp32
gap of autocast's (``tests/unit/test_precision.py``, ``tests/unit/test_train.py``). A bf16 run's
cache key names which arithmetic computed it (``bf16_arithmetic``).

fp32 on CUDA is IEEE fp32: :func:`exact_fp32` turns off the TF32 convolutions cuDNN uses by
default from Ampere on, so that the precision claims compare bf16 with fp32, not with TF32.

``--scaling-precision=auto`` (:func:`choose_precision`) is fp32 without bf16 hardware, and where
bf16 is native, bf16 only if a short probe of the grid's training step measures it faster
(``precision_probe``): native bf16 alone did not make a whole grid faster.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from pytest_scaling.device import native_bf16


class _Bf16Round(torch.autograd.Function):
    """x rounded to the nearest bf16 (ties to even), kept in x's dtype; its gradient rounded too."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.bfloat16).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.to(torch.bfloat16).to(grad.dtype)


def round_to_bf16(x):
    """fp32 tensors are rounded to bf16 (differentiably); anything else passes through, fp64 included."""
    if isinstance(x, torch.Tensor) and x.dtype == torch.float32:
        return _Bf16Round.apply(x)
    if isinstance(x, (list, tuple)):  # einsum's and tensordot's operand lists
        return type(x)(round_to_bf16(v) for v in x)
    return x


class RoundToBf16(TorchFunctionMode):
    """Within it, the convolutions and matmuls the model uses (and their kin) compute in fp32 on
    bf16-rounded operands and return a bf16-rounded result: bf16 arithmetic at fp32 kernels' speed
    (module docstring). The ops are those CPU autocast lowers to bf16, with the Tensor methods and
    einsum/tensordot (which autocast lowers through the matmuls they dispatch to); fp64 operands are
    left alone, as autocast leaves them."""

    LOWERED = frozenset({
        torch.conv1d, torch.conv2d, torch.conv3d, F.conv1d, F.conv2d, F.conv3d,
        torch.conv_transpose1d, torch.conv_transpose2d, torch.conv_transpose3d,
        F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d,
        torch.matmul, torch.mm, torch.bmm, torch.addmm, torch.addbmm, torch.baddbmm, F.linear,
        torch.einsum, torch.tensordot, torch.linalg.matmul,
        torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.__rmatmul__, torch.Tensor.mm,
        torch.Tensor.bmm, torch.Tensor.addmm, torch.Tensor.addbmm, torch.Tensor.baddbmm,
    })

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in self.LOWERED:
            return func(*args, **kwargs)
        out = kwargs.pop("out", None)
        args = tuple(round_to_bf16(a) for a in args)
        kwargs = {k: round_to_bf16(v) for k, v in kwargs.items()}
        result = round_to_bf16(func(*args, **kwargs))
        if out is None:
            return result
        return out.copy_(result)


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


def exact_fp32(device: torch.device) -> None:
    """Make fp32 convolutions and matmuls IEEE fp32 on CUDA (no TF32); a no-op elsewhere. Called once
    per training process: the flags are global, and backward passes run outside any context. (The
    ``allow_tf32`` flags, not torch 2.9's ``fp32_precision``: after the new setters, reading the old
    flags raises, and other code may read them.)"""
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def bf16_arithmetic(device: torch.device) -> str:
    """How this device computes bf16: ``native`` or ``rounded`` (fp32 kernels, see :class:`RoundToBf16`)."""
    return "native" if native_bf16(device) else "rounded"
