"""Cold wall time of a whole budget's grid, with batching on and off, in one run.

Each configuration trains every run of the budget into its own empty cache:
  batched      the default: executor auto (one single-threaded process per core), chains of
               one width grouped (K chosen per device and width)
  unbatched    the same, one chain per model (--scaling-group-size=1)
  one-process  this process on all torch threads, grouped (--scaling-executor=local)
Each runs in every precision asked for (``auto``: what ``--scaling-precision=auto`` picks here).
Prints wall time, achieved training GFLOP/s and its fraction of a matmul peak measured in this
run in the same precision, as our bf16 computes it (autocast on bf16 hardware, fp32 kernels on
rounded operands elsewhere: precision.py); the last line per precision is the fastest
configuration's wall time.

    python benchmarks/grid_speed.py --budget small [--configs batched,unbatched,one-process]
                                    [--precisions auto]

``--budget a,b`` times several budgets back to back in one run (a design against the one it replaces;
``--define`` adds budget lines), each precision's budgets one after the other.
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


def matmul_peak_gflops(precision: str = "fp32", threads: int | None = None, n: int = 2048, repeats: int = 10,
                       device: torch.device | None = None) -> float:
    """GFLOP/s of an n×n matmul in ``precision`` as training computes it on ``device`` (default: the CPU, on
    ``threads``, default all)."""
    from pytest_scaling.device import synchronize
    from pytest_scaling.precision import exact_fp32, forward_precision

    device = device or torch.device("cpu")
    exact_fp32(device)  # as training runs it: fp32 is IEEE fp32 on CUDA too
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    try:
        with forward_precision(device, precision):
            a @ b
            synchronize(device)
            started = time.perf_counter()
            for _ in range(repeats):
                a @ b
            synchronize(device)
            return 2 * n ** 3 * repeats / (time.perf_counter() - started) / 1e9
    finally:
        torch.set_num_threads(before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="small", help="a budget, or several comma-separated")
    parser.add_argument("--define", action="append", default=[], help="a budget line, as in scaling_budgets")
    parser.add_argument("--configs", default="batched,unbatched,one-process")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", default="auto", help="fp32, bf16 and/or auto, comma-separated")
    args = parser.parse_args()
    from pytest_scaling.device import native_bf16, resolve_device
    from pytest_scaling.auto_precision import resolve_precision

    device = resolve_device(args.device)
    precisions = list(dict.fromkeys(resolve_precision(p, device) for p in args.precisions.split(",")))
    peaks = {p: matmul_peak_gflops(p, device=device) for p in precisions}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, bf16 "
          f"{'native' if native_bf16(device) else 'rounded (no bf16 hardware)'}; matmul peak "
          + ", ".join(f"{p} {peak:.0f} GFLOP/s" for p, peak in peaks.items()))
    for precision in precisions:
        for budget in args.budget.split(","):
            time_budget(budget, args, precision, peaks[precision])


def time_budget(budget: str, args, precision: str, peak: float) -> None:
    """Cold wall time of ``budget``'s grid in each configuration asked for, printed."""
    best = None
    for name in args.configs.split(","):
        with tempfile.TemporaryDirectory(prefix="grid-speed-") as cache:
            session = ScalingSession(ScalingOptions(budget=budget, budget_lines=tuple(args.define),
                                                    device=args.device, cache_dir=cache, precision=precision,
                                                    **CONFIGS[name]))
            specs = session.budget.all_specs()
            session.prepare()
            session.runner.data  # noqa: B018 - load the dataset outside the timed region
            started = time.perf_counter()
            table = session.runs(specs)
            wall = time.perf_counter() - started
            session.close()
            flops = session.stats()["spent_flops"]
            # Training FLOPs actually spent (a chain's shorter runs are free); evaluation is extra work on top.
            print(f"{budget} {precision} {name:11s} {len(table)} runs in {wall / 60:5.2f} min: "
                  f"{flops / wall / 1e9:5.1f} GFLOP/s = {flops / wall / 1e9 / peak:4.0%} of peak", flush=True)
            best = wall if best is None else min(best, wall)
    print(f"{budget}_grid_minutes[{precision}]: {best / 60:.1f}")

if __name__ == "__main__":
    main()
