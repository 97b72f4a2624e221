"""The CNN family, indexed by width, trained K members at a time.

One member is: conv3×3(1→w) · maxpool2 · ReLU · dropout · conv3×3(w→2w) · maxpool2 ·
ReLU · dropout · linear(2w·7·7 → 10). K members of one width run as one
grouped model (grouped convolutions, a batched matmul for the classifier), so
each member keeps its own weights, data and dropout masks while the per-step
overhead is paid once. Parameters are stored with a leading member axis.
"""

from __future__ import annotations

import math
from functools import cache

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from pytest_scaling.runs import WIDTHS  # noqa: F401  (the family's widths, defined without torch)

IMAGE_SIDE = 28
N_CLASSES = 10


def layer_shapes(width: int) -> dict[str, tuple[int, ...]]:
    """Per-member parameter shapes; the fan-in of each is the product of all but the first dim."""
    hidden = 2 * width
    return {
        "conv1.weight": (width, 1, 3, 3),
        "conv1.bias": (width,),
        "conv2.weight": (hidden, width, 3, 3),
        "conv2.bias": (hidden,),
        "head.weight": (hidden * 7 * 7, N_CLASSES),
        "head.bias": (N_CLASSES,),
    }


def fan_in(width: int) -> dict[str, int]:
    """Fan-in of the layer each parameter belongs to (biases share their layer's)."""
    w = {"conv1": 9, "conv2": 9 * width, "head": 2 * width * 49}
    return {name: w[name.split(".")[0]] for name in layer_shapes(width)}


def count_params(width: int) -> int:
    return sum(math.prod(shape) for shape in layer_shapes(width).values())


def init_member(width: int, seed: int) -> dict[str, torch.Tensor]:
    """Kaiming-uniform weights and biases as PyTorch's default Conv2d/Linear init gives them."""
    generator = torch.Generator().manual_seed(seed)
    fans = fan_in(width)
    params = {}
    for name, shape in layer_shapes(width).items():
        bound = 1.0 / math.sqrt(fans[name])  # kaiming_uniform(a=√5) and the bias rule both reduce to this
        params[name] = (torch.rand(shape, generator=generator) * 2 - 1) * bound
    return params


class _MaxPool2(torch.autograd.Function):
    """2×2 max pooling as ``F.max_pool2d`` computes it, forward as the max of four strided slices.

    On this CPU build ``max_pool2d`` runs at ~0.3 G elements/s: scoring 10k validation images at
    width 32 spent more time pooling than convolving. The four-slice max is 8× faster without
    grad. With grad, the argmax is built from three comparisons and handed to aten's own
    backward (2× faster than ``max_pool2d``; ``torch.where`` on index tensors cost twice that).
    Values, tie-breaking (first maximum in scan order) and gradients are bitwise those of
    ``max_pool2d``.
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        (c00, c01, c10, c11), (top, bottom), out = _window_max(h)
        # Ties go to the earlier pixel in scan order, as in max_pool2d: strict comparisons only.
        lower = bottom > top
        right_in_top = c01 > c00
        # right = right_in_bottom where lower else right_in_top, in boolean ops (torch.where on bools is slow here)
        right = (c11 > c10).logical_xor_(right_in_top).logical_and_(lower).logical_xor_(right_in_top)
        argmax = _corner_index(h.shape[-2], h.shape[-1], h.device) + (lower.to(torch.int64) * h.shape[-1] + right)
        ctx.save_for_backward(h, argmax)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        h, argmax = ctx.saved_tensors
        return torch.ops.aten.max_pool2d_with_indices_backward(grad, h, [2, 2], [2, 2], [0, 0], [1, 1], False, argmax)


@cache
def _corner_index(height: int, width: int, device: torch.device) -> torch.Tensor:
    """Flat index of each 2×2 window's top-left pixel, as max_pool2d's indices count."""
    rows = torch.arange(height // 2, device=device).view(-1, 1) * 2 * width
    return rows + torch.arange(width // 2, device=device).view(1, -1) * 2


def _window_max(h: torch.Tensor):
    """The four corners of every 2×2 window, the max of each row pair, and the window max."""
    corners = (h[..., 0::2, 0::2], h[..., 0::2, 1::2], h[..., 1::2, 0::2], h[..., 1::2, 1::2])
    rows = (torch.maximum(corners[0], corners[1]), torch.maximum(corners[2], corners[3]))
    return corners, rows, torch.maximum(*rows)


def _patches3x3(h: torch.Tensor) -> torch.Tensor:
    """[B, K, 28, 28] → [B, K, 9, 28·28]: each pixel's zero-padded 3×3 neighbourhood (im2col).

    A strided view of the padded images copied once; ``F.unfold`` took 2-7× longer here.
    """
    b, k = h.shape[:2]
    padded = F.pad(h, (1, 1, 1, 1))
    side = IMAGE_SIDE + 2
    windows = padded.as_strided((b, k, 3, 3, IMAGE_SIDE, IMAGE_SIDE),
                                (padded.stride(0), padded.stride(1), side, 1, side, 1))
    return windows.reshape(b, k, 9, IMAGE_SIDE * IMAGE_SIDE)


def max_pool2(h: torch.Tensor) -> torch.Tensor:
    """``F.max_pool2d(h, 2)`` on even-sized maps, faster here (see :class:`_MaxPool2`)."""
    if torch.is_grad_enabled() and h.requires_grad:
        return _MaxPool2.apply(h)
    return _window_max(h)[2]


class GroupedCNN:
    """K members of one width; ``forward`` maps [K, B, 1, 28, 28] to logits [K, B, 10]."""

    def __init__(self, width: int, members: list[dict[str, torch.Tensor]], dropout: torch.Tensor,
                 device: torch.device):
        self.width = width
        self.k = len(members)
        self.params = {
            name: torch.stack([m[name] for m in members]).to(device).requires_grad_(True)
            for name in layer_shapes(width)
        }
        self.keep = (1.0 - dropout.to(device=device, dtype=torch.float32))  # [K]
        self.any_dropout = bool((dropout > 0).any())
        self.training = True

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def _dropout(self, h: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        # h: [B, K*C, H, W]; member k keeps each unit with probability keep[k] (inverted dropout).
        if not (self.training and self.any_dropout):
            return h
        b, kc, hh, ww = h.shape
        keep = self.keep.view(1, self.k, 1, 1, 1)
        noise = torch.rand((b, self.k, kc // self.k, hh, ww), device=h.device, generator=generator)
        mask = (noise < keep).to(h.dtype) / keep
        return h * mask.view(b, kc, hh, ww)

    def _conv1(self, h: torch.Tensor) -> torch.Tensor:
        """[B, K, 28, 28] → [B, K·w, 28, 28]: each member's 3×3 filters on its own images.

        One input channel makes this a thin matmul on 3×3 patches (im2col): per training step on
        one CPU thread it took 35% less time than mkldnn's grouped convolution at width 2 and
        40% less at width 8 (no slower at 11-32).
        """
        k, w, p = self.k, self.width, self.params
        b = h.shape[0]
        out = torch.matmul(p["conv1.weight"].reshape(k, w, 9), _patches3x3(h))  # [B, K, w, 28·28]
        return (out + p["conv1.bias"].view(1, k, w, 1)).view(b, k * w, IMAGE_SIDE, IMAGE_SIDE)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        k, b = x.shape[:2]
        p, w = self.params, self.width
        h = x.transpose(0, 1).reshape(b, k, IMAGE_SIDE, IMAGE_SIDE)
        h = self._conv1(h)
        h = self._dropout(F.relu(max_pool2(h)), generator)  # pool first: same result, 4× fewer ReLUs
        h = F.conv2d(h, p["conv2.weight"].reshape(k * 2 * w, w, 3, 3), p["conv2.bias"].reshape(-1), padding=1, groups=k)
        h = self._dropout(F.relu(max_pool2(h)), generator)  # pool first: same result, 4× fewer ReLUs
        h = h.reshape(b, k, -1).transpose(0, 1)  # [K, B, 2w·49]
        return torch.baddbmm(p["head.bias"].unsqueeze(1), h, p["head.weight"])


@cache
def forward_flops_per_example(width: int) -> int:
    """Forward FLOPs of one member on one image, counted by ``torch.utils.flop_counter``."""
    model = GroupedCNN(width, [init_member(width, 0)], torch.zeros(1), torch.device("cpu"))
    model.training = False
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.forward(torch.zeros(1, 1, 1, IMAGE_SIDE, IMAGE_SIDE))
    return int(counter.get_total_flops())
