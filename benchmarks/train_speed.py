"""Our trainer vs a standard tutorial loop (torchvision dataset + DataLoader, batch 64).

Both train the same runs (same CNN member, per-layer Adam LR c/sqrt(fan_in), one
epoch, final evaluation on the full test split; ours also scores three checkpoints).
The tutorial loop runs in this process on all torch threads; ours runs as the grid
does (executor ``auto``: one single-threaded worker process per core, runs of a
width grouped), in each precision asked for; the tutorial loop is plain fp32 PyTorch, the
reference. Prints per-model seconds per width, ours' training GFLOP/s against a matmul peak
measured in this run in the same precision, and, last, the geometric-mean speedup per precision
(``auto`` is the precision ``--scaling-precision=auto`` picks on this machine).

    python benchmarks/train_speed.py [--widths 4,16,32] [--runs 4] [--fraction 1] [--executor auto]
                                     [--precisions auto]
"""

from __future__ import annotations

import argparse
import gzip
import math
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytest_scaling.budgets import DEFAULT_LR_SCALE
from pytest_scaling.data import load_dataset, resolve_dataset
from pytest_scaling.executors import TrainJob, make_executor
from pytest_scaling.models import fan_in
from pytest_scaling.auto_precision import resolve_precision
from pytest_scaling.runner import default_group_size
from pytest_scaling.runs import RunSpec
from pytest_scaling.train import TrainSettings

from grid_speed import matmul_peak_gflops  # benchmarks/ is sys.path[0] when this runs as a script


def tutorial_model(width: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Conv2d(width, 2 * width, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(2 * width * 49, 10))


def torchvision_root(source) -> Path:
    """torchvision wants uncompressed IDX files under <root>/<Class>/raw."""
    root = Path(tempfile.mkdtemp(prefix="tv-"))
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in source.files.values():
        target = raw / path.name.removesuffix(".gz")
        with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as f, open(target, "wb") as out:
            shutil.copyfileobj(f, out)
    return root


def tutorial_run(width: int, seed: int, fraction: float, root: Path) -> float:
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train = datasets.FashionMNIST(str(root), train=True, download=False, transform=transform)
    test = datasets.FashionMNIST(str(root), train=False, download=False, transform=transform)
    if fraction < 1:
        train = Subset(train, range(int(len(train) * fraction)))
    started = time.perf_counter()
    model = tutorial_model(width)
    fans = list(fan_in(width).values())
    groups = [{"params": [p], "lr": DEFAULT_LR_SCALE / math.sqrt(f)} for p, f in zip(model.parameters(), fans)]
    optimizer = torch.optim.Adam(groups)
    for x, y in DataLoader(train, batch_size=64, shuffle=True):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        for x, _ in DataLoader(test, batch_size=1000):
            model(x)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="4,16,32")
    parser.add_argument("--runs", type=int, default=4, help="runs per width for each trainer")
    parser.add_argument("--fraction", type=float, default=1.0, help="data fraction (1 = a full epoch)")
    parser.add_argument("--executor", default="auto", help="ours: auto, local or processes (as --scaling-executor)")
    parser.add_argument("--precisions", default="auto", help="ours: fp32, bf16 and/or auto, comma-separated")
    args = parser.parse_args()
    source = resolve_dataset("fashion-mnist")
    device = torch.device("cpu")
    precisions = list(dict.fromkeys(resolve_precision(p, device) for p in args.precisions.split(",")))
    root = torchvision_root(source)
    data = load_dataset(source, device)
    settings = TrainSettings()
    job = TrainJob(source, str(device), settings)
    executor = make_executor(args.executor, device_type=device.type)
    workers = getattr(executor, "workers", 1)
    warm = time.perf_counter()  # start worker processes and load their data outside the timed region
    list(executor.map(iter([[RunSpec(width=2, fraction=1 / 512, seed=s)] for s in range(workers)]), job, lambda: data))
    peaks = {p: matmul_peak_gflops(p, threads=1) for p in precisions}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ours: {type(executor).__name__} with "
          f"{workers} worker(s) (started in {time.perf_counter() - warm:.1f} s, not timed); {args.runs} runs per "
          f"width, fraction {args.fraction:g}; one-thread matmul peak "
          + ", ".join(f"{p} {peak:.1f} GFLOP/s" for p, peak in peaks.items()), flush=True)
    ratios: dict[str, list[float]] = {p: [] for p in precisions}
    for width in (int(w) for w in args.widths.split(",")):
        naive = sum(tutorial_run(width, seed, args.fraction, root) for seed in range(args.runs)) / args.runs
        print(f"width {width:3d}: tutorial DataLoader loop (fp32) {naive:6.2f} s/model", flush=True)
        for precision in precisions:
            specs = [RunSpec(width=width, fraction=args.fraction, seed=seed, precision=precision)
                     for seed in range(args.runs)]
            # Group as the grid does, but never so wide that a worker has nothing to do.
            k = max(1, min(default_group_size(device, width), args.runs // workers))
            started = time.perf_counter()
            results = [r for group in executor.map(iter([specs[i:i + k] for i in range(0, len(specs), k)]), job,
                                                   lambda: data) for r in group]
            wall = time.perf_counter() - started
            ours = wall / args.runs
            ratios[precision].append(naive / ours)
            # Per worker: training FLOPs over the time one worker (one thread) spent on them.
            gflops = sum(r.flops for r in results) / wall / workers / 1e9
            print(f"           ours {precision}: {ours:6.2f} s/model (group size {k}), speedup {naive / ours:5.2f}, "
                  f"{gflops:5.2f} GFLOP/s per worker = {gflops / peaks[precision]:4.0%} of its matmul peak",
                  flush=True)
    executor.close()
    shutil.rmtree(root, ignore_errors=True)
    for precision, values in ratios.items():
        print(f"speedup_vs_naive_dataloader[{precision}]: {math.exp(sum(map(math.log, values)) / len(values)):.2f}")


if __name__ == "__main__":
    main()
