"""bf16 arithmetic: the option's resolution, and rounded bf16 against autocast's."""

import pytest
import torch
import torch.nn.functional as F

import pytest_scaling.precision as precision

import pytest_scaling.auto_precision as auto_precision
from pytest_scaling.models import GroupedCNN, init_member

CPU = torch.device("cpu")


def test_precision_option_resolves_per_device(monkeypatch):
    assert auto_precision.resolve_precision("fp32", CPU) == "fp32"
    assert auto_precision.resolve_precision(" BF16 ", CPU) == "bf16"  # asked for explicitly: native or rounded
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        auto_precision.resolve_precision("fp16", CPU)
    monkeypatch.setattr(precision, "native_bf16", lambda _device: False)
    assert auto_precision.resolve_precision("auto", CPU) == "fp32"  # no bf16 hardware: fp32, unmeasured
    monkeypatch.setattr(precision, "native_bf16", lambda _device: True)  # bf16 hardware: as measured
    for fp32_seconds, expected in ((1.3, "bf16"), (0.7, "fp32")):
        timer = lambda _device, fp32_seconds=fp32_seconds: (fp32_seconds, 1.0)
        assert auto_precision.resolve_precision("auto", CPU, timer=timer) == expected
    assert auto_precision.resolve_precision("bf16", CPU, timer=lambda _device: (0.5, 1.0)) == "bf16"  # asked: kept


def test_bf16_is_autocast_on_bf16_hardware_and_rounding_elsewhere(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda _device: True)
    assert isinstance(precision.forward_precision(CPU, "bf16"), torch.autocast)
    monkeypatch.setattr(precision, "native_bf16", lambda _device: False)
    assert isinstance(precision.forward_precision(CPU, "bf16"), precision.RoundToBf16)
    with precision.forward_precision(CPU, "fp32"):  # fp32 leaves every op alone
        assert torch.matmul(torch.tensor([[1 + 2 ** -10]]), torch.ones(1, 1)).item() == 1 + 2 ** -10
    with pytest.raises(ValueError, match="unknown precision"):
        precision.forward_precision(CPU, "fp8")


def test_rounding_keeps_bf16_values_and_rounds_to_nearest_even():
    x = torch.tensor([1.0, 1 + 2 ** -8, 1 + 2 ** -7, 1 + 3 * 2 ** -8, -2.5, 0.0], requires_grad=True)
    y = precision.round_to_bf16(x)
    # 8 significant bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 and goes to the even 1.
    assert y.tolist() == [1.0, 1.0, 1 + 2 ** -7, 1 + 2 ** -6, -2.5, 0.0]
    y.backward(torch.full_like(x, 1 + 2 ** -9))
    assert x.grad.tolist() == [1.0] * 6  # gradients are bf16 too
    assert precision.round_to_bf16(torch.tensor([3])).dtype == torch.int64  # integers pass through


def _logits_and_grads(width: int, context) -> tuple[torch.Tensor, list[torch.Tensor]]:
    members = [init_member(width, seed) for seed in range(2)]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 64, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (2, 64), generator=generator)
    model = GroupedCNN(width, members, torch.zeros(2), CPU)
    with context:
        logits = model.forward(x)
    loss = F.cross_entropy(logits.float().reshape(-1, 10), y.reshape(-1))
    return logits.float().detach(), list(torch.autograd.grad(loss, model.parameters()))


@pytest.mark.parametrize("width", [2, 8])
def test_rounded_bf16_computes_what_autocast_computes(width):
    """Forward and backward of the CNN: rounded bf16 differs from autocast's bf16 (emulated here or
    native) by accumulation order only, under a fifth of either's distance from fp32."""
    autocast = _logits_and_grads(width, torch.autocast("cpu", dtype=torch.bfloat16))
    rounded = _logits_and_grads(width, precision.RoundToBf16())
    fp32 = _logits_and_grads(width, torch.autocast("cpu", enabled=False))

    def distance(a, b):
        return float((a - b).norm() / b.norm())

    assert distance(rounded[0], autocast[0]) < 0.05 * distance(fp32[0], autocast[0])
    for r, a, f in zip(rounded[1], autocast[1], fp32[1]):
        assert distance(r, a) < 0.2 * distance(f, a)


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).float()


def test_rounding_covers_the_ops_autocast_lowers_and_leaves_the_rest():
    """Linear, conv with a bias, Tensor methods, einsum and out=: operands and result rounded, as
    autocast does; fp64 and elementwise ops untouched."""
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, 16, generator=generator), torch.randn(16, 4, generator=generator)
    expected = _bf16(_bf16(a) @ _bf16(b))
    with precision.RoundToBf16():
        results = [a @ b, a.mm(b), torch.einsum("ij,jk->ik", a, b), F.linear(a, b.T), torch.tensordot(a, b, 1)]
        out = torch.empty(8, 4)
        torch.mm(a, b, out=out)
        conv = F.conv2d(a.view(1, 1, 8, 16), b[:9, :1].reshape(1, 1, 3, 3), torch.tensor([0.1]), padding=1)
        untouched = a + 2 ** -12, (a.double() @ b.double())
    for result in [*results, out]:
        assert torch.allclose(result, expected, rtol=0, atol=1e-6)
        assert torch.equal(result, _bf16(result))  # results are bf16 values
    reference = F.conv2d(_bf16(a).view(1, 1, 8, 16), _bf16(b[:9, :1]).reshape(1, 1, 3, 3), _bf16(torch.tensor([0.1])),
                         padding=1)
    assert torch.allclose(conv, _bf16(reference), rtol=0, atol=1e-6)
    assert torch.equal(untouched[0], a + 2 ** -12) and untouched[1].dtype == torch.float64
    assert torch.equal(untouched[1], a.double() @ b.double())


def test_exact_fp32_turns_off_tf32_on_cuda_only():
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = True
        precision.exact_fp32(CPU)
        assert torch.backends.cudnn.allow_tf32 is True  # a CPU session leaves the process's flags alone
        precision.exact_fp32(torch.device("cuda", 0))  # the flags are global; no GPU needed to set them
        assert torch.backends.cudnn.allow_tf32 is False and torch.backends.cuda.matmul.allow_tf32 is False
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
