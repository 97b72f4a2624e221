"""Does torch.compile pay back its compile time on a grid? Eager vs compiled training steps.

For each width (grouped as the grid groups it), times eager steps, the first compiled
call (compilation), and compiled steps, single-threaded as the grid's worker processes
run. A new width or group size is a new graph, so compile time is paid per (width, K) and
per worker process. Prints the break-even step count and, last, the verdict for the
small grid (each main-grid chain is one epoch: 937 steps of batch 64).

    python benchmarks/compile_speed.py [--widths 4,16,32] [--steps 60]
"""

from __future__ import annotations

import argparse
import os
import time

# Cold compiles, as a fresh worker on a fresh machine pays them (inductor otherwise reuses its disk cache).
os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")

import torch
import torch.nn.functional as F

from pytest_scaling.models import GroupedCNN, init_member
from pytest_scaling.runner import default_group_size

STEPS_PER_CHAIN = 937  # one epoch of Fashion-MNIST at batch 64


def step_timer(width: int, k: int, compiled: bool):
    model = GroupedCNN(width, [init_member(width, seed) for seed in range(k)], torch.zeros(k), torch.device("cpu"))
    params = model.parameters()

    def losses(x, y):
        logits = model.forward(x)
        return F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1), reduction="none").view(k, -1).mean(1)

    loss_fn = torch.compile(losses, dynamic=False) if compiled else losses  # one graph per width, as a grid would
    x, y = torch.randn(k, 64, 1, 28, 28), torch.randint(0, 10, (k, 64))

    def step() -> float:
        started = time.perf_counter()
        grads = torch.autograd.grad(loss_fn(x, y).sum(), params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(1e-4 * g)
        return time.perf_counter() - started

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="4,16,32")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread (as in each grid worker)")
    pays = []
    for width in (int(w) for w in args.widths.split(",")):
        k = default_group_size(torch.device("cpu"), width)
        torch._dynamo.reset()
        eager = step_timer(width, k, compiled=False)
        compiled = step_timer(width, k, compiled=True)
        for _ in range(5):
            eager()
        eager_s = sum(eager() for _ in range(args.steps)) / args.steps
        compile_s = compiled()  # the first call compiles forward and backward
        for _ in range(5):
            compiled()
        compiled_s = sum(compiled() for _ in range(args.steps)) / args.steps
        saving = eager_s - compiled_s
        break_even = compile_s / saving if saving > 0 else float("inf")
        pays.append(break_even < STEPS_PER_CHAIN)
        print(f"width {width:3d} (K={k}): eager {eager_s * 1e3:6.2f} ms/step, compiled {compiled_s * 1e3:6.2f} ms/step "
              f"({eager_s / compiled_s:.2f}x), compile {compile_s:5.1f} s, break-even after {break_even:,.0f} steps",
              flush=True)
    print(f"compile_pays_back_within_one_chain: {'yes' if all(pays) else 'no'} ({sum(pays)} of {len(pays)} widths)")


if __name__ == "__main__":
    main()
