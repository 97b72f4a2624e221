"""A model family of this project's own: a one-hidden-layer MLP of growing width, on a teacher task.

The data: inputs x ~ N(0, I) in 16 dimensions, labels drawn from a fixed random teacher network's
softmax (so the best possible loss, the labels' own entropy, is above 0). The student family: MLPs
16 → h → 10 with ReLU, h the budget's width. Both are built from fixed seeds, so every process
(an xdist worker, a process-pool worker) builds the same tensors and the same trainer.

``MLPTrainer`` is what pytest-scaling calls (``pytest_scaling.trainers.Trainer``): its name and version
go into every run's cache key. It trains each chain (one width, seed, dropout and LR) once, to the
chain's largest fraction, and scores every shorter run where its data end: the data order is the
runner's block-nested one (``Dataset.training_order``), so the run on f/2 is the first half of the run
on f. It lives in a module of its own, not in conftest.py, so that worker processes can unpickle it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from pytest_scaling.data import TensorSource
from pytest_scaling.runs import Checkpoint, RunResult
from pytest_scaling.trainers import Trainer

D_IN, N_CLASSES = 16, 10


def teacher_task(n_train: int = 32768, n_val: int = 4096, hidden: int = 512, sharpness: float = 10.0,
                 steepness: float = 2.0, seed: int = 0) -> TensorSource:
    """Inputs and teacher-drawn labels, the same tensors for the same arguments."""
    generator = torch.Generator().manual_seed(seed)
    w1 = torch.randn(D_IN, hidden, generator=generator) / math.sqrt(D_IN)
    w2 = torch.randn(hidden, N_CLASSES, generator=generator) * sharpness / math.sqrt(hidden)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, D_IN, generator=generator)
        probs = torch.softmax(torch.tanh(x @ w1 * steepness) @ w2, dim=1)
        return x, torch.multinomial(probs, 1, generator=generator).squeeze(1)

    train_x, train_y = split(n_train)
    val_x, val_y = split(n_val)
    return TensorSource("teacher", train_x, train_y, val_x, val_y, display="teacher task (16-d, 10 classes)")


@dataclass(frozen=True)
class MLPTrainer(Trainer):
    """16 → width → 10, ReLU, Adam with per-layer LR = c · multiplier / sqrt(fan_in); constant LR, one epoch."""

    name: ClassVar[str] = "mlp"
    version: ClassVar[str] = "1"  # bump when a change here changes results: it is part of every cache key

    def params(self, width: int) -> int:
        return (D_IN + 1) * width + (width + 1) * N_CLASSES

    def flops_per_example(self, width: int) -> int:
        return 2 * (D_IN * width + width * N_CLASSES)  # the two matmuls' multiply-adds

    def train(self, specs, data, settings):
        chains: dict[tuple, list] = {}
        for spec in specs:
            if spec.schedule != "constant" or spec.epochs != 1 or spec.fraction > 1 or spec.precision != "fp32":
                raise ValueError(f"MLPTrainer trains constant-LR, one-epoch fp32 runs on fractions ≤ 1, not {spec}")
            chains.setdefault(spec.chain_key, []).append(spec)
        results = {}
        for chain in chains.values():
            results.update(self._train_chain(chain, data, settings))
        return [results[spec] for spec in specs]

    def _train_chain(self, chain, data, settings) -> dict:
        head, batch = chain[0], chain[0].batch_size
        width, device = head.width, data.train_x.device
        generator = torch.Generator().manual_seed(head.seed)
        layers = [(D_IN, width), (width, N_CLASSES)]
        params = []
        for fan_in, fan_out in layers:  # PyTorch's default Linear init: U(±1/sqrt(fan_in))
            bound = 1 / math.sqrt(fan_in)
            params += [((torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound).to(device),
                       ((torch.rand(fan_out, generator=generator) * 2 - 1) * bound).to(device)]
        for p in params:
            p.requires_grad_(True)
        lr = head.lr_scale * head.lr_mult
        optimizer = torch.optim.Adam([{"params": params[:2], "lr": lr / math.sqrt(D_IN)},
                                      {"params": params[2:], "lr": lr / math.sqrt(width)}])
        keep = 1 - head.dropout

        def forward(x, train: bool):
            h = F.relu(x @ params[0] + params[1])
            if train and head.dropout > 0:
                h = h * (torch.rand(h.shape, generator=generator).to(device) < keep) / keep
            return h @ params[2] + params[3]

        # Where each run ends and where its checkpoints fall (every half-octave of its own steps).
        ends = {spec: data.subset_size(spec.fraction, batch) // batch for spec in chain}
        marks = {spec: sorted({data.subset_size(spec.fraction * f, batch) // batch
                               for f in settings.checkpoint_fractions
                               if spec.fraction * f * data.n_train >= batch} - {ends[spec]}) for spec in chain}
        scored = {step for steps in marks.values() for step in steps} | set(ends.values())
        order = data.training_order(max(spec.fraction for spec in chain), head.seed, batch)
        n_slice = min(settings.intermediate_val_size, data.val_x.shape[0])

        @torch.no_grad()
        def score(x, y):
            logits = forward(x, train=False)
            return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

        scores, seconds, started = {}, {}, time.perf_counter()
        for step in range(1, max(ends.values()) + 1):
            ids = order[(step - 1) * batch:step * batch]
            loss = F.cross_entropy(forward(data.train_x[ids], train=True), data.train_y[ids])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step in scored:
                full = step in ends.values()
                scores[step] = (score(data.val_x[:n_slice], data.val_y[:n_slice]),
                                score(data.val_x, data.val_y) if full else None)
                seconds[step] = time.perf_counter() - started

        results = {}
        for spec in chain:
            end = ends[spec]
            (slice_loss, slice_acc), (val_loss, val_acc) = scores[end]
            history = [Checkpoint(m * batch, *scores[m][0]) for m in marks[spec]]
            history.append(Checkpoint(end * batch, val_loss, val_acc))
            diverged = not all(math.isfinite(c.val_loss) for c in history)
            results[spec] = RunResult(
                spec=spec, params=self.params(width), flops_per_example=self.flops_per_example(width),
                examples=end * batch, val_loss=val_loss, val_acc=val_acc, diverged=diverged,
                collapsed=not diverged and val_loss > math.log(N_CLASSES) - 0.05 and val_acc < 0.2,
                train_seconds=seconds[end], checkpoints=tuple(history), slice_loss=slice_loss, slice_acc=slice_acc)
        return results
