"""Train runs for exactly one epoch, K of one shape at a time, and report each run's result.

Members of a group share width, data fraction and batch size; each has its own
seed (initialisation and data order), dropout rate and learning rate, so each
result is a valid run of its own. Adam is written out because every member
needs its own per-layer LR (c·multiplier/sqrt(fan_in)); it is elementwise, so
members never interact.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pytest_scaling.data import Dataset
from pytest_scaling.device import synchronize
from pytest_scaling.models import GroupedCNN, fan_in, forward_flops_per_example, count_params, init_member
from pytest_scaling.runs import Checkpoint, RunResult, RunSpec

#: Bumped whenever a change here or in models.py changes results; part of every cache key.
TRAINING_CODE_VERSION = "2"
CHANCE_LOSS = math.log(10.0)
#: A training loss above this (chance is ln 10 ≈ 2.3) means the run has blown up even if still finite.
DIVERGED_LOSS = 100.0


@dataclass(frozen=True)
class TrainSettings:
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    #: Intermediate checkpoints, as fractions of the run's steps (log-spaced); the end is always one.
    checkpoint_fractions: tuple[float, ...] = (1 / 8, 1 / 4, 1 / 2)
    #: Intermediate checkpoints score a fixed slice of the validation split; the final one, all of it.
    intermediate_val_size: int = 2000
    #: How often (in steps) to look for NaN/inf losses; each look is a host sync on accelerators.
    divergence_check_every: int = 25
    #: Target bytes of activations per evaluation chunk.
    eval_chunk_bytes: int = 256 * 2**20


def member_learning_rates(spec: RunSpec, width: int) -> dict[str, float]:
    """Per-layer Adam LR: c · multiplier / sqrt(fan_in) (the exercise's rule of thumb)."""
    return {name: spec.lr_scale * spec.lr_mult / math.sqrt(f) for name, f in fan_in(width).items()}


def _checkpoint_steps(steps: int, fractions: tuple[float, ...]) -> list[int]:
    return sorted({max(1, round(f * steps)) for f in fractions} | {steps})


class _Adam:
    """Adam with one learning-rate tensor per parameter (broadcast over the member axis)."""

    def __init__(self, params: list[torch.Tensor], lrs: list[torch.Tensor], settings: TrainSettings):
        self.params, self.lrs = params, lrs
        self.b1, self.b2 = settings.betas
        self.eps = settings.eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        self.t += 1
        torch._foreach_lerp_(self.m, grads, 1 - self.b1)
        torch._foreach_mul_(self.v, self.b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - self.b2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, math.sqrt(1 - self.b2 ** self.t))
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(self.m, denom)
        torch._foreach_mul_(update, 1 / (1 - self.b1 ** self.t))
        torch._foreach_mul_(update, self.lrs)
        torch._foreach_sub_(self.params, update)

    def freeze(self, member: int) -> None:
        """Stop a diverged member: zero LR, and zero its weights so NaNs stop flowing."""
        with torch.no_grad():
            for p, lr in zip(self.params, self.lrs):
                lr[member].zero_()
                p[member].zero_()


@torch.no_grad()
def evaluate(model: GroupedCNN, x: torch.Tensor, y: torch.Tensor, settings: TrainSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and accuracy of every member on (x, y); returns two [K] tensors on the device."""
    model.training = False
    k = model.k
    bytes_per_image = 4 * k * model.width * 28 * 28 * 2
    chunk = max(64, min(x.shape[0], settings.eval_chunk_bytes // bytes_per_image))
    loss_sum = torch.zeros(k, device=x.device)
    correct = torch.zeros(k, device=x.device)
    for start in range(0, x.shape[0], chunk):
        xb, yb = x[start:start + chunk], y[start:start + chunk]
        logits = model.forward(xb.unsqueeze(0).expand(k, *xb.shape))
        targets = yb.unsqueeze(0).expand(k, -1)
        loss_sum += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none").view(k, -1).sum(1)
        correct += (logits.argmax(-1) == targets).sum(1)
    model.training = True
    return loss_sum / x.shape[0], correct / x.shape[0]


def train_group(specs: list[RunSpec], data: Dataset, settings: TrainSettings = TrainSettings()) -> list[RunResult]:
    """Train every spec (all of one shape) for one epoch; one RunResult per spec, in order."""
    if len({s.shape_key for s in specs}) != 1:
        raise ValueError("train_group needs specs of one shape (width, fraction, batch size)")
    device = data.train_x.device
    width, fraction, batch = specs[0].width, specs[0].fraction, specs[0].batch_size
    k = len(specs)
    started = time.perf_counter()

    model = GroupedCNN(width, [init_member(width, s.seed) for s in specs],
                       torch.tensor([s.dropout for s in specs]), device)
    params = model.parameters()
    names = list(model.params)
    lrs = []
    for name, p in zip(names, params):
        per_member = torch.tensor([member_learning_rates(s, width)[name] for s in specs], device=device)
        lrs.append(per_member.view(k, *([1] * (p.dim() - 1))).expand_as(p).contiguous())
    adam = _Adam(params, lrs, settings)

    subset = data.subset_indices(fraction)
    n = subset.numel()
    orders = torch.stack([
        subset[torch.randperm(n, generator=torch.Generator().manual_seed(s.seed)).to(device)] for s in specs
    ])
    steps = math.ceil(n / batch)
    checkpoint_steps = _checkpoint_steps(steps, settings.checkpoint_fractions)
    dropout_generator = torch.Generator(device=device).manual_seed(hash(tuple(s.seed for s in specs)) & 0x7FFFFFFF)
    val_slice = slice(0, min(settings.intermediate_val_size, data.val_x.shape[0]))

    diverged = torch.zeros(k, dtype=torch.bool)
    history: list[list[Checkpoint]] = [[] for _ in specs]
    recent_loss = torch.zeros(k, device=device)
    for step in range(1, steps + 1):
        idx = orders[:, (step - 1) * batch: step * batch]
        logits = model.forward(data.train_x[idx], dropout_generator)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), data.train_y[idx].reshape(-1),
                                 reduction="none").view(k, -1).mean(1)
        grads = torch.autograd.grad(losses.sum(), params)
        adam.step(list(grads))
        recent_loss = torch.where(recent_loss < DIVERGED_LOSS, losses.detach(), recent_loss)  # a blow-up sticks

        final = step == steps
        if step in checkpoint_steps or step % settings.divergence_check_every == 0:
            bad = ~(recent_loss < DIVERGED_LOSS).cpu() & ~diverged  # NaN compares False: caught too
            for member in bad.nonzero().flatten().tolist():
                adam.freeze(member)
            diverged |= bad
            if diverged.all():
                break
        if step in checkpoint_steps:
            vx, vy = (data.val_x, data.val_y) if final else (data.val_x[val_slice], data.val_y[val_slice])
            loss, acc = (t.cpu().tolist() for t in evaluate(model, vx, vy, settings))
            for member in range(k):
                if not diverged[member]:
                    history[member].append(Checkpoint(min(step * batch, n), loss[member], acc[member]))

    synchronize(device)
    seconds = (time.perf_counter() - started) / k
    flops_per_example = forward_flops_per_example(width)
    results = []
    for member, spec in enumerate(specs):
        reached_end = bool(history[member]) and history[member][-1].examples == n and not diverged[member]
        loss, acc = (history[member][-1].val_loss, history[member][-1].val_acc) if reached_end else (math.nan, math.nan)
        is_diverged = bool(diverged[member]) or not (math.isfinite(loss))
        collapsed = (not is_diverged) and loss > CHANCE_LOSS - 0.05 and acc < 0.2
        results.append(RunResult(
            spec=spec, params=count_params(width), flops_per_example=flops_per_example, examples=n,
            val_loss=loss, val_acc=acc, diverged=is_diverged, collapsed=collapsed,
            train_seconds=seconds, checkpoints=tuple(history[member]),
        ))
    return results
