"""What cooldown branches cost on top of a constant-LR chain (issue #14).

Per width, on the real dataset and one torch thread (as the grid's CPU workers train):
a constant chain over fractions 1/64…1, then the same chain plus a cooldown run at every
fraction, back to back. The trunk is trained once either way, so the difference is the
cooldown tails (the last 20% of each run's steps) and their final evaluations. Prints the
seconds, the extra time against the extra steps, and each fraction's loss under both schedules.

    python benchmarks/protocol_cost.py [--widths 4,16] [--seed 0] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from pytest_scaling.data import load_dataset, resolve_dataset
from pytest_scaling.runs import RunSpec
from pytest_scaling.train import cooldown_start, train_group

FRACTIONS = tuple(2.0 ** -k for k in range(6, -1, -1))


def timed(specs: list[RunSpec], data) -> tuple[float, dict]:
    started = time.perf_counter()
    results = train_group(specs, data)
    return time.perf_counter() - started, {r.spec: r for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="4,16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="pairs per width, alternating their order; "
                        "the fastest of each is kept")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(resolve_dataset(args.dataset, args.data_dir), torch.device("cpu"))
    steps = [data.subset_size(f, 64) // 64 for f in FRACTIONS]
    tail_steps = sum(s - cooldown_start(s) for s in steps)
    print(f"chain of {max(steps)} steps; cooldown tails add {tail_steps} steps ({tail_steps / max(steps):.0%})")
    for width in (int(w) for w in args.widths.split(",")):
        constant = [RunSpec(width=width, fraction=f, seed=args.seed) for f in FRACTIONS]
        both = constant + [RunSpec(width=width, fraction=f, seed=args.seed, schedule="cooldown") for f in FRACTIONS]
        best_c = best_b = float("inf")
        for repeat in range(args.repeats):  # alternate which goes first, so warm-up does not favour one
            if repeat % 2:
                seconds_b, results = timed(both, data)
                seconds_c, _ = timed(constant, data)
            else:
                seconds_c, _ = timed(constant, data)
                seconds_b, results = timed(both, data)
            best_c, best_b = min(best_c, seconds_c), min(best_b, seconds_b)
        print(f"width {width}: constant chain {best_c:.1f} s, with cooldown branches {best_b:.1f} s "
              f"(+{best_b / best_c - 1:.0%}; a cooldown run costs {(best_b - best_c) / len(FRACTIONS):.2f} s "
              f"vs {best_c:.1f} s for every constant run together)")
        for c, d in zip(constant, both[len(FRACTIONS):]):
            print(f"  fraction 1/{round(1 / c.fraction):<3d} val loss constant {results[c].val_loss:.4f} "
                  f"cooldown {results[d].val_loss:.4f} ({results[d].val_loss - results[c].val_loss:+.4f})")


if __name__ == "__main__":
    main()
