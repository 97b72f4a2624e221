"""One command for a CUDA machine: does the GPU path train the ``tiny`` budget fast, and do its
estimates agree with CPU fp32 runs of the same specs?

Trains ``tiny`` on CUDA with the GPU defaults (``--scaling-precision=auto``, so bf16 from Ampere on,
and the default group sizes), then the same specs on the CPU in fp32 (one single-threaded worker
per core), each into its own temporary cache. Prints each training's runs/s and GFLOP/s (training
FLOPs spent over wall seconds) and, on the runs without dropout, the frontier slope and the
IsoFLOP γ (``window="auto"``) of both with their intervals, whether the intervals overlap, and the
paired difference CUDA − CPU (the same seeds: same initialisation and data order). Exits 1 when a
pair of intervals does not overlap, when the paired difference's interval lies wholly outside the
precision claims' tolerance (claims/test_precision.py), or when the CPU runs decide an estimate the
CUDA runs cannot (diverged or collapsed runs, say). Without CUDA it says so in one line and exits 0.

    python benchmarks/gpu_check.py [--budget tiny] [--dataset auto] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch

NO_CUDA = "no CUDA device is present (torch.cuda.is_available() is False): nothing to check on this machine"
#: Each estimate and the tolerance of its precision claim (claims/test_precision.py).
ESTIMATES = {"frontier_slope": 0.05, "compute_optimal_exponent": 0.2}


def train(budget: str, defines: list[str], device: str, precision: str, dataset: str, data_dir: str | None,
          cache_dir: str):
    """Train the budget as the plugin would (ScalingSession, executor auto); the session, its main grid
    without dropout, the wall seconds and the training FLOPs spent."""
    from pytest_scaling.device import synchronize
    from pytest_scaling.session import ScalingOptions, ScalingSession

    session = ScalingSession(ScalingOptions(budget=budget, budget_lines=tuple(defines), dataset=dataset,
                                            data_dir=data_dir, device=device, cache_dir=cache_dir,
                                            precision=precision))
    session.progress_line = lambda line: print(f"  {line}", file=sys.stderr, flush=True)
    session.prepare()
    session.runner.data  # noqa: B018 - load the dataset outside the timed region
    started = time.perf_counter()
    try:
        table = session.runs(session.budget.all_specs())
        synchronize(session.device)
        seconds = time.perf_counter() - started
        grid = session.main_grid(dropout=0.0)  # from the cache, before it is deleted
    finally:
        session.close()
    return session, table, grid, seconds, session.stats().get("spent_flops", 0.0)


def estimate(runs, name: str):
    """One estimate on ``runs`` (``window="auto"``), or the FitError's text."""
    from pytest_scaling.analysis import compute_optimal_exponent, frontier_slope
    from pytest_scaling.errors import FitError

    try:
        if name == "frontier_slope":
            return frontier_slope(runs, window="auto")
        return compute_optimal_exponent(runs, approach="isoflop", window="auto")
    except FitError as error:
        return f"cannot decide: {error}"


def paired(gpu_runs, cpu_runs, name: str):
    from pytest_scaling.analysis import paired_difference
    from pytest_scaling.errors import FitError

    try:
        kw = {"approach": "isoflop"} if name == "compute_optimal_exponent" else {}
        return paired_difference(gpu_runs, cpu_runs, name, window="auto", **kw)
    except FitError as error:
        return f"cannot decide: {error}"


def describe(est) -> str:
    if isinstance(est, str):
        return est
    lo, hi = est.ci()
    flag = f" (unreliable: {est.reason})" if est.reason else ""
    return f"{est.value:+.4f} [{lo:+.4f}, {hi:+.4f}]{flag}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="tiny")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--define", action="append", default=[], help="a budget line, as in scaling_budgets")
    parser.add_argument("--device", default="cuda", help="the device checked against the CPU (tests pass cpu)")
    parser.add_argument("--precision", default="auto", help="the checked device's precision (default: its own)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(NO_CUDA)
        return 0

    results = {}
    for label, device, precision in (("cuda", args.device, args.precision), ("cpu", "cpu", "fp32")):
        with tempfile.TemporaryDirectory(prefix=f"gpu-check-{label}-") as cache:
            results[label] = train(args.budget, args.define, device, precision, args.dataset, args.data_dir, cache)
    print(f"{args.budget} on {results['cuda'][0].hardware()} against the CPU, torch {torch.__version__}")
    for session, table, _grid, seconds, flops in results.values():
        print(f"  {session.hardware()} · {session.precision}: {len(table)} runs in {seconds:.1f} s = "
              f"{len(table) / seconds:.2f} runs/s, {flops / seconds / 1e9:.1f} GFLOP/s ({len(table.usable())} usable)")
    grids = {label: result[2] for label, result in results.items()}
    failures = []
    for name, tolerance in ESTIMATES.items():
        gpu, cpu = estimate(grids["cuda"], name), estimate(grids["cpu"], name)
        print(f"  {name}: cuda {describe(gpu)} | cpu fp32 {describe(cpu)}")
        if isinstance(gpu, str) and not isinstance(cpu, str):
            failures.append(f"{name}: the CPU runs decide it, the CUDA runs cannot")
        if isinstance(gpu, str) or isinstance(cpu, str):
            continue
        (glo, ghi), (clo, chi) = gpu.ci(), cpu.ci()
        overlap = glo <= chi and clo <= ghi
        difference = paired(grids["cuda"], grids["cpu"], name)
        lo, hi = difference.ci() if not isinstance(difference, str) else (0.0, 0.0)
        outside = lo > tolerance or hi < -tolerance
        print(f"    intervals overlap: {'yes' if overlap else 'NO'}; paired cuda − cpu: {describe(difference)}"
              f"{' (wholly outside' if outside else ' (not wholly outside'} ±{tolerance:g})")
        if not overlap:
            failures.append(f"{name}: the intervals do not overlap")
        if outside:
            failures.append(f"{name}: the paired difference lies wholly outside ±{tolerance:g}")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
