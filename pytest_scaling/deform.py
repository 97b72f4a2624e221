"""Deformed copies of training images, batched on their device: the warp behind the stream.

Copy k ≥ 1 of image i is a function of (stream parameters, k, i) alone, whichever batch it
falls in and whichever device computes it. Its random numbers come from a counter-based hash of
(stream seed, k, i, slot) in int64 arithmetic, not from a torch.Generator: a generator's numbers
depend on the device (CPU Mersenne Twister, CUDA Philox), on how many were drawn before, and on the
CPU only on the seed's low 32 bits, so the copies would have to be drawn in fixed chunks on the CPU
and moved. Integer arithmetic is exact on every device, so the random bits are identical everywhere;
the warp after them (matmuls, ``grid_sample``) is float and agrees across devices to rounding, as
training does (and the stored copies are rounded to 8 bits, data.py).

Each image gets 2·H·W uniforms for its elastic field and five for its affine map. The field is
smoothed by a Gaussian as two H×H matrix products (reflecting at the edges, each row scaled to one
variance), added to the affine map's sampling points and sampled bilinearly (``grid_sample``) with
blank pixels beyond the frame: the output is a convex combination of input and blank pixels, so it
stays within their range.
"""

from __future__ import annotations

import math
from functools import cache

import torch
import torch.nn.functional as F

from pytest_scaling.stream import DeformParams

_MASK32 = 0xFFFFFFFF
#: Thomas Mueller's 32-bit integer hash constant: below 2^27, so x·C stays inside int64 for x < 2^32.
_HASH_MUL = 0x45D9F3B
_GOLDEN = 0x9E3779B9  # spaces the slots of one image apart before hashing (a Weyl sequence)
_AFFINE_SLOTS = 5  # rotation, scale, shear, x and y translation


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A bijective avalanche on 32-bit values held in int64 (no step overflows)."""
    x = ((x >> 16) ^ x) * _HASH_MUL & _MASK32
    x = ((x >> 16) ^ x) * _HASH_MUL & _MASK32
    return (x >> 16) ^ x


def uniforms(seed: int, copies: torch.Tensor, images: torch.Tensor, count: int) -> torch.Tensor:
    """[N, count] uniforms in [0, 1) with 16 bits each, a pure function of (seed, copy, image, slot), on
    ``images``' device. One hash gives two (its halves): the hashing is most of the warp's cost."""
    key = _mix(torch.full_like(images, seed & _MASK32))
    key = _mix((key + copies) & _MASK32)
    key = _mix((key + images) & _MASK32)
    slot = torch.arange((count + 1) // 2, device=images.device, dtype=torch.int64) * _GOLDEN
    bits = _mix((key.unsqueeze(1) + slot) & _MASK32)
    halves = torch.stack([bits >> 16, bits & 0xFFFF], 2).view(images.shape[0], -1)[:, :count]
    return halves.to(torch.float32) * 2.0 ** -16


@cache
def _smoothing_matrix(side: int, sigma: float, device: torch.device) -> torch.Tensor:
    """The Gaussian blur of a length-``side`` signal as a matrix: taps to 3σ, normalised, reflected at the
    edges (``F.pad``'s reflect, applied any number of times). Built in float64 on the CPU, so the same on
    every device."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    taps /= taps.sum()
    period = 2 * (side - 1)
    source = (torch.arange(side).unsqueeze(1) + offsets.to(torch.int64)) % period
    source = torch.where(source >= side, period - source, source)  # reflect without repeating the edge
    matrix = torch.zeros(side, side, dtype=torch.float64)
    matrix.scatter_add_(1, source, taps.expand(side, -1).contiguous())
    # Reflected taps add up near an edge, and there the field would move pixels up to 1.8× further
    # than inside: scale each row to the interior's norm, so every pixel's displacement has one variance.
    matrix *= taps.norm() / matrix.norm(dim=1, keepdim=True)
    return matrix.to(device=device, dtype=torch.float32)


@cache
def _pixel_centres(side: int, device: torch.device) -> torch.Tensor:
    """[3, H·W]: each output pixel's centre (x, y, 1) in normalised coordinates (``align_corners=False``)."""
    axis = (torch.arange(side, dtype=torch.float32, device=device) * 2 + 1) / side - 1
    return torch.stack([axis.repeat(side), axis.repeat_interleave(side), torch.ones(side * side, device=device)])


def _affine(u: torch.Tensor, params: DeformParams, side: int) -> torch.Tensor:
    """[N, 2, 3] maps from output to input positions in ``grid_sample``'s normalised coordinates."""
    angle = torch.deg2rad((2 * u[:, 0] - 1) * params.degrees)
    zoom = 1 + (2 * u[:, 1] - 1) * params.scale  # the image grows by ``zoom``: it is sampled at 1/zoom
    shear = torch.tan(torch.deg2rad((2 * u[:, 2] - 1) * params.shear))
    shift = (2 * u[:, 3:5] - 1) * params.translate * 2 / side  # pixels → normalised units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # rotation · x-shear, over the zoom
    linear = torch.stack([torch.stack([cos, cos * shear - sin], 1), torch.stack([sin, sin * shear + cos], 1)], 1)
    return torch.cat([linear, shift.unsqueeze(2)], 2)


def deform(images: torch.Tensor, image_ids: torch.Tensor, copies: torch.Tensor | int, params: DeformParams,
           background: float = 0.0) -> torch.Tensor:
    """Copy ``copies`` of each of ``images`` ([N, 1, H, W], H = W), identified by ``image_ids`` ([N] int64,
    the images' indices in the training split): the elastic field and affine map of (params, copy, image),
    applied in one batch. Copy 0 is the image itself. What moves in from outside the frame is
    ``background`` (the value of a blank pixel in the images' normalisation)."""
    n, _, side, width = images.shape
    if side != width:
        raise ValueError(f"deform needs square images, got {side}×{width}")
    device = images.device
    image_ids = image_ids.to(device=device, dtype=torch.int64)
    copies = torch.as_tensor(copies, dtype=torch.int64, device=device).expand(n)
    u = uniforms(params.seed, copies, image_ids, 2 * side * side + _AFFINE_SLOTS)
    noise = (2 * u[:, : 2 * side * side] - 1).view(n, 2, side, side)
    blur = _smoothing_matrix(side, float(params.sigma), device).T
    # Both axes smoothed by one GEMM each over all rows at once (a batched B·noise·Bᵀ is far slower here). The
    # result is B·noiseᵀ·Bᵀ: as good a field, the noise being i.i.d. Channel 0 displaces x, channel 1 y.
    field = (noise @ blur).transpose(2, 3).contiguous() @ blur
    # affine_grid's points, as one GEMM against the pixel centres: its own batched matmul costs several times more
    grid = _affine(u[:, 2 * side * side:], params, side) @ _pixel_centres(side, device)
    grid = grid.view(n, 2, side, side) + field * (params.alpha * 2 / side)  # pixels → normalised units
    grid = grid.permute(0, 2, 3, 1)
    warped = F.grid_sample(images - background, grid.to(images.dtype), mode="bilinear", padding_mode="zeros",
                           align_corners=False) + background
    return torch.where((copies > 0).view(n, 1, 1, 1), warped, images)
