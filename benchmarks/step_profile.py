"""Where a training step's time goes, per width, and what that means for a budget's grid.

One single-threaded process, as a grid worker runs (batch 64, one member per model).
For each width of the budget it times a whole training step (forward, backward,
Adam; without and with dropout) against the second convolution's forward and
backward alone (mkldnn's ``conv2d``, the step's one big kernel; the first conv is a
thin matmul on one input channel). Then it adds up the budget's chains: the training
time the measured steps predict on ``--cores`` workers, against the floor set by
the second convolution alone. Scoring (forward passes over the validation split)
is left out of both. ``--precision bf16`` times both in bf16 as training computes it
(precision.py: autocast on bf16 hardware, fp32 kernels on rounded operands elsewhere).

    python benchmarks/step_profile.py [--budget small] [--cores 2] [--precision auto]
    python benchmarks/step_profile.py --ops 32 [--precision auto]   # per-op profile of one width
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import torch
import torch.nn.functional as F

from pytest_scaling.budgets import get_budget
from pytest_scaling.data import load_dataset, resolve_dataset
from pytest_scaling.device import keep_freed_host_memory
from pytest_scaling.models import GroupedCNN, init_member
from pytest_scaling.auto_precision import resolve_precision
from pytest_scaling.precision import forward_precision
from pytest_scaling.train import TrainSettings, _Adam, _epoch_steps

BATCH = 64


def best_ms(fn, repeats: int = 3, steps: int = 20) -> float:
    """Best mean over ``repeats`` rounds: the least disturbed by whatever else the machine runs."""
    for _ in range(3):
        fn()
    rounds = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            fn()
        rounds.append((time.perf_counter() - started) / steps * 1e3)
    return min(rounds)


CPU = torch.device("cpu")


def training_step(width: int, dropout: float, precision: str):
    """One member's training step (forward, backward, Adam) on a fixed batch, as a grid worker runs it."""
    model = GroupedCNN(width, [init_member(width, 0)], torch.tensor([dropout]), torch.device("cpu"))
    params = model.parameters()
    adam = _Adam(params, [torch.full_like(p, 1e-3) for p in params], TrainSettings())
    x, y = torch.randn(1, BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
    generator = torch.Generator().manual_seed(0)

    def step():
        with forward_precision(CPU, precision):
            logits = model.forward(x, generator)[0]
        loss = F.cross_entropy(logits.float(), y)
        adam.step(list(torch.autograd.grad(loss, params)))
    return step


def step_ms(width: int, dropout: float, precision: str) -> float:
    return best_ms(training_step(width, dropout, precision))


def print_op_profile(width: int, precision: str, steps: int = 20, top: int = 12) -> None:
    """torch.profiler's per-op self time over ``steps`` training steps: where a step's time goes."""
    from torch.profiler import ProfilerActivity, profile

    step = training_step(width, 0.0, precision)
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"per-op self time, width {width}, {precision}, {steps} steps: {total / steps / 1e3:.1f} ms a step")
    for e in events[:top]:
        print(f"  {e.key:42s} {e.self_cpu_time_total / steps / 1e3:7.2f} ms {e.self_cpu_time_total / total:6.1%}")


def conv2_ms(width: int, precision: str) -> float:
    h = torch.randn(BATCH, width, 14, 14, requires_grad=True)
    weight = torch.randn(2 * width, width, 3, 3, requires_grad=True)
    bias = torch.randn(2 * width, requires_grad=True)
    grad = torch.randn(BATCH, 2 * width, 14, 14)

    def forward_backward():
        with forward_precision(CPU, precision):
            out = F.conv2d(h, weight, bias, padding=1)
        return torch.autograd.grad(out, (h, weight, bias), grad.to(out.dtype))
    return best_ms(forward_backward)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="small")
    parser.add_argument("--cores", type=int, default=2, help="grid workers the totals are divided by")
    parser.add_argument("--precision", default="auto", help="auto, fp32 or bf16")
    parser.add_argument("--ops", type=int, default=0, metavar="WIDTH",
                        help="print only the per-op profile of a training step at this width")
    args = parser.parse_args()
    precision = resolve_precision(args.precision, CPU)
    torch.set_num_threads(1)
    keep_freed_host_memory()
    if args.ops:
        print_op_profile(args.ops, precision)
        return
    budget = get_budget(args.budget)
    data = load_dataset(resolve_dataset(), torch.device("cpu"))  # only for the subset rule (whole batches)
    # Steps each chain trains: its longest run's, as train_group trains it.
    longest = {spec.chain_key: spec for spec in sorted(budget.all_specs(), key=lambda s: s.fraction)}
    chain_steps: Counter = Counter()
    for spec in longest.values():
        chain_steps[(spec.width, spec.dropout > 0)] += _epoch_steps(data, spec) * spec.epochs

    print(f"torch {torch.__version__}, 1 thread, batch {BATCH}, {precision}; ms per training step")
    print(f"{'width':>5} {'step':>7} {'+dropout':>8} {'conv2':>7} {'conv2 share':>11}")
    predicted = floor = 0.0
    for width in sorted({w for w, _ in chain_steps}):
        plain, dropped = step_ms(width, 0.0, precision), step_ms(width, 0.2, precision)
        conv = conv2_ms(width, precision)
        print(f"{width:5d} {plain:7.2f} {dropped:8.2f} {conv:7.2f} {conv / plain:11.0%}", flush=True)
        for with_dropout, ms in ((False, plain), (True, dropped)):
            predicted += chain_steps[(width, with_dropout)] * ms / 1e3
            floor += chain_steps[(width, with_dropout)] * conv / 1e3
    print(f"{args.budget} grid training on {args.cores} workers (no scoring): {predicted / args.cores / 60:.2f} min "
          f"predicted from these steps; {floor / args.cores / 60:.2f} min for the second convolutions alone")
    print(f"conv2_share_of_training: {floor / predicted:.2f}")


if __name__ == "__main__":
    main()
