"""One command for a CUDA machine: does the GPU path train the ``tiny`` budget fast, and does bf16 move
the estimates?

Trains ``tiny`` twice on CUDA with the GPU defaults (default group sizes), each into its own temporary
cache: once with ``--scaling-precision=auto`` (bf16 on Ampere and later), once in fp32. Then prints
the frontier slope and the IsoFLOP γ (``window="auto"``) of both side by side with their intervals
and whether each pair's intervals overlap, and each training's runs/s and GFLOP/s (the runs' training
FLOPs over wall seconds; shorter runs of a chain come free, so this is the grid's rate, not the
device's). Without CUDA it says so in one line and exits 0: there is nothing to check.

    python benchmarks/gpu_check.py [--budget tiny] [--dataset auto] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch

NO_CUDA = "no CUDA device is present (torch.cuda.is_available() is False): nothing to check on this machine"


def train(budget: str, precision: str, dataset: str, data_dir: str | None, cache_dir: str):
    """Train the budget as the plugin would (ScalingSession, executor auto); the table and wall seconds."""
    from pytest_scaling.session import ScalingOptions, ScalingSession

    session = ScalingSession(ScalingOptions(budget=budget, dataset=dataset, data_dir=data_dir, device="cuda",
                                            cache_dir=cache_dir, precision=precision))
    session.progress_line = lambda line: print(f"  {line}", file=sys.stderr, flush=True)
    session.prepare()
    started = time.perf_counter()
    try:
        table = session.runs(session.budget.all_specs())
        torch.cuda.synchronize()
    finally:
        session.close()
    return session, table, time.perf_counter() - started


def estimates(session) -> dict[str, object]:
    """Frontier slope and IsoFLOP γ on the main grid (constant LR, one epoch), or the FitError's text."""
    from pytest_scaling.analysis import compute_optimal_exponent, frontier_slope
    from pytest_scaling.errors import FitError

    runs = session.main_grid()
    out = {}
    for name, estimate in (("frontier slope", lambda: frontier_slope(runs, window="auto")),
                           ("IsoFLOP gamma", lambda: compute_optimal_exponent(runs, approach="isoflop",
                                                                              window="auto"))):
        try:
            out[name] = estimate()
        except FitError as error:
            out[name] = f"FitError: {error}"
    return out


def describe(estimate) -> str:
    if isinstance(estimate, str):
        return estimate
    lo, hi = estimate.ci()
    flag = f" (unreliable: {estimate.reason})" if estimate.reason else ""
    return f"{estimate.value:+.4f} [{lo:+.4f}, {hi:+.4f}]{flag}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="tiny")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(NO_CUDA)
        return 0

    results = {}
    for label, precision in (("auto", "auto"), ("fp32", "fp32")):
        with tempfile.TemporaryDirectory(prefix=f"gpu-check-{label}-") as cache:
            session, table, seconds = train(args.budget, precision, args.dataset, args.data_dir, cache)
            results[label] = (session.precision, table, seconds, estimates(session))
    print(f"{args.budget} on {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    for label, (precision, table, seconds, _) in results.items():
        flops = float(table.column("flops").sum())
        print(f"  precision {label} → {precision}: {len(table)} runs in {seconds:.1f} s = "
              f"{len(table) / seconds:.2f} runs/s, {flops / seconds / 1e9:.1f} GFLOP/s "
              f"({len(table.usable())} usable)")
    auto, fp32 = results["auto"][3], results["fp32"][3]
    for name in auto:
        a, b = auto[name], fp32[name]
        print(f"  {name}: {results['auto'][0]} {describe(a)} | fp32 {describe(b)}")
        if not isinstance(a, str) and not isinstance(b, str):
            (alo, ahi), (blo, bhi) = a.ci(), b.ci()
            print(f"    intervals overlap: {'yes' if alo <= bhi and blo <= ahi else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
