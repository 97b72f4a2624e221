"""Train runs for exactly one epoch, many at once, and report each run's result.

Two ways of sharing work, both exact in distribution:

* **Chains.** With a constant LR and a block-nested data order
  (``Dataset.training_order``), the run on fraction f/2 is the first half of the
  run on f. One chain per (width, seed, dropout, LR) is trained to its largest
  fraction and scored where each shorter run ends: half the training compute of
  separate runs, and one setup instead of one per fraction.
* **Groups.** K chains of one width train as one grouped model; each member has
  its own seed (initialisation and data order), dropout rate and learning rate.
  Adam is written out because every member needs its own per-layer LR
  (c·multiplier/sqrt(fan_in)); it is elementwise, so members never interact.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pytest_scaling.data import Dataset
from pytest_scaling.device import activation_chunk_bytes, keep_freed_host_memory, synchronize
from pytest_scaling.models import (IMAGE_SIDE, GroupedCNN, count_params, fan_in, forward_flops_per_example,
                                   init_member)
from pytest_scaling.runs import Checkpoint, RunResult, RunSpec

#: Bumped whenever a change here or in models.py changes results; part of every cache key.
TRAINING_CODE_VERSION = "6"
CHANCE_LOSS = math.log(10.0)
#: A training loss above this (chance is ln 10 ≈ 2.3) means the run has blown up even if still finite.
DIVERGED_LOSS = 100.0


@dataclass(frozen=True)
class TrainSettings:
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    #: Intermediate checkpoints, as fractions of the run's steps: every half-octave down to 1/512
    #: (the end is always one). With chains these land on the same steps for every run of a chain,
    #: so the longest run traces each width's loss along its whole trajectory: the iso-compute
    #: profiles (``estimators.design``) compare every width at the same compute from them.
    checkpoint_fractions: tuple[float, ...] = tuple(2.0 ** (-j / 2) for j in range(1, 19))
    #: Intermediate checkpoints score a fixed slice of the validation split; the final one, all of it.
    intermediate_val_size: int = 2000
    #: How often (in steps) to look for NaN/inf losses; each look is a host sync on accelerators.
    divergence_check_every: int = 25
    #: Target bytes of activations per evaluation chunk; None: the device's default
    #: (``device.activation_chunk_bytes``).
    eval_chunk_bytes: int | None = None


def member_learning_rates(spec: RunSpec, width: int) -> dict[str, float]:
    """Per-layer Adam LR: c · multiplier / sqrt(fan_in) (the exercise's rule of thumb)."""
    return {name: spec.lr_scale * spec.lr_mult / math.sqrt(f) for name, f in fan_in(width).items()}


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


@dataclass(frozen=True)
class Scores:
    """Mean validation loss and accuracy per member ([K] tensors) on the first
    ``intermediate_val_size`` images and, for a final evaluation, on all of them."""

    slice_loss: torch.Tensor
    slice_acc: torch.Tensor
    full_loss: torch.Tensor | None = None
    full_acc: torch.Tensor | None = None


def eval_chunk_size(model: GroupedCNN, settings: TrainSettings, device: torch.device) -> int:
    """Images per evaluation chunk, within the device's memory target."""
    # float32 3×3 patches, then conv1's matmul and bias outputs: the largest live activations
    bytes_per_image = 4 * model.k * IMAGE_SIDE ** 2 * (9 + 2 * model.width)
    return max(1, (settings.eval_chunk_bytes or activation_chunk_bytes(device)) // bytes_per_image)


@torch.no_grad()
def evaluate(model: GroupedCNN, data: Dataset, settings: TrainSettings, full: bool) -> Scores:
    """Score every member on the validation slice, and on the whole split if ``full``."""
    model.training = False
    k = model.k
    x, y = data.val_x, data.val_y
    n_slice = min(settings.intermediate_val_size, x.shape[0])
    n = x.shape[0] if full else n_slice
    chunk = eval_chunk_size(model, settings, x.device)
    loss_sum = torch.zeros(k, device=x.device)
    correct = torch.zeros(k, device=x.device)
    slice_scores = None
    # Chunks restart at the slice's end, so the slice is scored by the same chunks whether
    # it is scored alone or as the start of the full split.
    for start, stop in [*_chunks(0, n_slice, chunk), *_chunks(n_slice, n, chunk)]:
        if start >= n_slice and slice_scores is None:
            slice_scores = (loss_sum / n_slice, correct / n_slice)
        xb, yb = x[start:stop], y[start:stop]
        logits = model.forward(xb.unsqueeze(0).expand(k, *xb.shape))
        targets = yb.unsqueeze(0).expand(k, -1)
        loss_sum += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                    reduction="none").view(k, -1).sum(1)
        correct += (logits.argmax(-1) == targets).sum(1)
    model.training = True
    if slice_scores is None:
        slice_scores = (loss_sum / n_slice, correct / n_slice)
    return Scores(*slice_scores, *((loss_sum / n, correct / n) if full else ()))


def _chunks(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(i + size, stop)) for i in range(start, stop, size)]


def _run_steps(data: Dataset, fraction: float, batch: int) -> int:
    return data.subset_size(fraction, batch) // batch


def _scoring_steps(spec: RunSpec, data: Dataset, settings: TrainSettings) -> tuple[int, list[int]]:
    """A run's last step (scored on the full split) and its checkpoint steps before it (the slice)."""
    end = _run_steps(data, spec.fraction, spec.batch_size)
    marks = {data.subset_size(spec.fraction * f, spec.batch_size) // spec.batch_size
             for f in settings.checkpoint_fractions if spec.fraction * f * data.n_train >= spec.batch_size}
    return end, sorted(step for step in marks if step < end)


def train_group(specs: list[RunSpec], data: Dataset, settings: TrainSettings = TrainSettings()) -> list[RunResult]:
    """Train the chains behind ``specs`` together, one epoch each; one RunResult per spec, in order.

    A chain is one (width, seed, dropout, LR) trained once to its largest fraction;
    each shorter run of it is the chain's state where that run's data end
    (``Dataset.training_order``), scored there on the full validation split, with
    its intermediate checkpoints (on the validation slice) every half-octave of its own steps.
    """
    if len({s.group_key for s in specs}) != 1:
        raise ValueError("train_group needs specs of one width, batch size and fraction family")
    device = data.train_x.device
    if device.type == "cpu":
        keep_freed_host_memory()
    width, batch = specs[0].width, specs[0].batch_size
    by_chain: dict[tuple, list[RunSpec]] = {}
    for spec in specs:
        by_chain.setdefault(spec.chain_key, []).append(spec)
    members = [sorted(chain, key=lambda s: s.fraction) for chain in by_chain.values()]
    heads = [chain[0] for chain in members]  # seed, dropout and LR of each member
    k = len(members)
    started = time.perf_counter()

    model = GroupedCNN(width, [init_member(width, s.seed) for s in heads],
                       torch.tensor([s.dropout for s in heads]), device)
    params = model.parameters()
    lrs = []
    for name, p in zip(model.params, params):
        per_member = torch.tensor([member_learning_rates(s, width)[name] for s in heads], device=device)
        lrs.append(per_member.view(k, *([1] * (p.dim() - 1))).expand_as(p).contiguous())
    adam = _Adam(params, lrs, settings)

    longest = max(s.fraction for s in specs)
    orders = torch.stack([data.training_order(longest, s.seed, batch) for s in heads])
    points = {spec: _scoring_steps(spec, data, settings) for spec in specs}
    final_steps = {end for end, _ in points.values()}
    scoring_steps = final_steps.union(*(marks for _, marks in points.values()))
    steps = max(final_steps)
    dropout_generator = torch.Generator(device=device).manual_seed(hash(tuple(s.seed for s in heads)) & 0x7FFFFFFF)

    diverged_at = [math.inf] * k  # step at which each member was found diverged
    scores: dict[int, Scores] = {}
    seconds: dict[int, float] = {}
    recent_loss = torch.zeros(k, device=device)
    for step in range(1, steps + 1):
        idx = orders[:, (step - 1) * batch: step * batch]
        logits = model.forward(data.train_x[idx], dropout_generator)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), data.train_y[idx].reshape(-1),
                                 reduction="none").view(k, -1).mean(1)
        grads = torch.autograd.grad(losses.sum(), params)
        adam.step(list(grads))
        recent_loss = torch.where(recent_loss < DIVERGED_LOSS, losses.detach(), recent_loss)  # a blow-up sticks

        scoring = step in scoring_steps
        if scoring or step % settings.divergence_check_every == 0:
            bad = ~(recent_loss < DIVERGED_LOSS).cpu()  # NaN compares False: caught too
            for member in bad.nonzero().flatten().tolist():
                if diverged_at[member] == math.inf:
                    diverged_at[member] = step
                    adam.freeze(member)
            if all(d <= step for d in diverged_at):
                break
        if scoring:
            scores[step] = evaluate(model, data, settings, full=step in final_steps)
            seconds[step] = time.perf_counter() - started

    synchronize(device)
    elapsed = time.perf_counter() - started
    host_scores = {step: Scores(*(None if t is None else t.cpu().tolist() for t in (
        sc.slice_loss, sc.slice_acc, sc.full_loss, sc.full_acc))) for step, sc in scores.items()}
    flops_per_example = forward_flops_per_example(width)
    results = {}
    for member, chain in enumerate(members):
        for spec in chain:
            end, marks = points[spec]
            history = [Checkpoint(step * batch, host_scores[step].slice_loss[member],
                                  host_scores[step].slice_acc[member])
                       for step in marks if step in host_scores and step < diverged_at[member]]
            is_diverged = diverged_at[member] <= end or end not in host_scores
            if not is_diverged:
                final = host_scores[end]
                history.append(Checkpoint(end * batch, final.full_loss[member], final.full_acc[member]))
            loss, acc = (history[-1].val_loss, history[-1].val_acc) if not is_diverged else (math.nan, math.nan)
            slice_loss, slice_acc = ((host_scores[end].slice_loss[member], host_scores[end].slice_acc[member])
                                     if not is_diverged else (math.nan, math.nan))
            is_diverged = is_diverged or not math.isfinite(loss)
            collapsed = (not is_diverged) and loss > CHANCE_LOSS - 0.05 and acc < 0.2
            results[spec] = RunResult(
                spec=spec, params=count_params(width), flops_per_example=flops_per_example, examples=end * batch,
                val_loss=loss, val_acc=acc, diverged=is_diverged, collapsed=collapsed,
                train_seconds=seconds.get(end, elapsed) / k, checkpoints=tuple(history),
                slice_loss=slice_loss, slice_acc=slice_acc,
            )
    return [results[spec] for spec in specs]
