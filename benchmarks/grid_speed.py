"""Cold wall time of a whole budget's grid, with batching on and off, in one run.

Each configuration trains every run of the budget into its own empty cache:
  batched      the default: executor auto (one single-threaded process per core), chains of
               one width grouped (K chosen per device and width)
  unbatched    the same, one chain per model (--scaling-group-size=1)
  one-process  this process on all torch threads, grouped (--scaling-executor=local)
Prints wall time, achieved GFLOP/s and its fraction of a measured matmul peak;
the last line is the fastest configuration's wall time.

    python benchmarks/grid_speed.py --budget small [--configs batched,unbatched,one-process]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from pytest_scaling.session import ScalingOptions, ScalingSession

CONFIGS = {
    "batched": {},
    "unbatched": {"group_size": 1},
    "one-process": {"executor": "local"},
}


def matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="small")
    parser.add_argument("--define", action="append", default=[], help="a budget line, as in scaling_budgets")
    parser.add_argument("--configs", default="batched,unbatched,one-process")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    peak = matmul_peak_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"matmul peak {peak:.0f} GFLOP/s")
    best = None
    for name in args.configs.split(","):
        with tempfile.TemporaryDirectory(prefix="grid-speed-") as cache:
            session = ScalingSession(ScalingOptions(budget=args.budget, budget_lines=tuple(args.define),
                                                    device=args.device, cache_dir=cache, **CONFIGS[name]))
            specs = session.budget.all_specs()
            session.prepare()
            session.runner.data  # noqa: B018 - load the dataset outside the timed region
            started = time.perf_counter()
            table = session.runs(specs)
            wall = time.perf_counter() - started
            session.close()
            flops = session.stats()["spent_flops"]
            # Training FLOPs actually spent (a chain's shorter runs are free); evaluation is extra work on top.
            print(f"{name:11s} {len(table)} runs in {wall / 60:5.2f} min: {flops / wall / 1e9:5.1f} GFLOP/s "
                  f"= {flops / wall / 1e9 / peak:4.0%} of peak", flush=True)
            best = wall if best is None else min(best, wall)
    print(f"{args.budget}_grid_minutes: {best / 60:.1f}")


if __name__ == "__main__":
    main()
