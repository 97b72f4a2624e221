"""What a deformed example costs: the stream's warp against a plain batch fetch and a training step.

Past fraction 1 a worker makes each deformed copy of the training set once (``Dataset.deformed_copies``:
the warp in chunks on the device, rounded to 8-bit grey levels) and a step then draws its batch from
them (``Dataset.train_batch``). Timed per example: the plain fetch of base images, the fetch from the
copies, the making of a copy, the warp of one batch alone (what deforming each chain's batches as it
draws them would cost), and one training step (forward, backward, Adam) of each ``--widths`` width,
all as a grid worker runs them: on the CPU single-threaded, one member per model; on a GPU
``--members`` chains per grouped model (default: the runner's group size). Without the dataset it
times random images of the same shape (the warp's cost does not depend on them).

    python benchmarks/deform_cost.py [--device auto] [--widths 1,4,16] [--members K] [--examples out.png]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from pytest_scaling.data import Dataset, load_dataset, resolve_dataset
from pytest_scaling.deform import deform
from pytest_scaling.device import default_group_size, describe_device, resolve_device, synchronize
from pytest_scaling.errors import DatasetNotFound
from pytest_scaling.models import GroupedCNN, init_member
from pytest_scaling.stream import DeformParams
from pytest_scaling.train import TrainSettings, _Adam

BATCH = 64


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def best_seconds(fn, device: torch.device, repeats: int = 5, steps: int = 20) -> float:
    """Best mean seconds per call over ``repeats`` rounds: the least disturbed by the rest of the machine."""
    for _ in range(3):
        fn()
    synchronize(device)
    rounds = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            fn()
        synchronize(device)
        rounds.append((time.perf_counter() - started) / steps)
    return min(rounds)


def dataset(device: torch.device) -> Dataset:
    try:
        return load_dataset(resolve_dataset("auto"), device)
    except DatasetNotFound:
        print("no dataset here: random images of the same shape")
        x = torch.randn(60_000, 1, 28, 28, generator=torch.Generator().manual_seed(0)).clamp_(-0.8, 2.0)
        return Dataset(None, x.to(device), torch.randint(0, 10, (60_000,)).to(device), x[:10].to(device),
                       torch.zeros(10, dtype=torch.int64, device=device))


def training_step(width: int, members: int, images: torch.Tensor, labels: torch.Tensor):
    """One step of ``members`` chains of ``width`` on a fixed batch ([K, B, 1, 28, 28]), as training takes it."""
    device = images.device
    model = GroupedCNN(width, [init_member(width, s) for s in range(members)], torch.zeros(members), device)
    params = model.parameters()
    adam = _Adam(params, [torch.full_like(p, 1e-3) for p in params], TrainSettings())
    generator = torch.Generator(device=device).manual_seed(0)

    def step():
        logits = model.forward(images, generator)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
        adam.step(list(torch.autograd.grad(losses.view(members, -1).mean(1).sum(), params)))
    return step


def save_examples(data: Dataset, stream: DeformParams, path: str, images: int = 8) -> None:
    """A grid of ``images`` training images (rows) and their copies 1–3 (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = torch.arange(images, device=data.train_x.device)
    store = data.deformed_copies(stream, 3)
    columns = [data.train_batch(ids + copy * data.n_train, store)[0].cpu() for copy in range(4)]
    fig, axes = plt.subplots(images, 4, figsize=(4 * 1.2, images * 1.2), squeeze=False)
    for row in range(images):
        for copy, column in enumerate(columns):
            axes[row, copy].imshow(column[row, 0], cmap="gray")
            axes[row, copy].axis("off")
            if row == 0:
                axes[row, copy].set_title("original" if copy == 0 else f"copy {copy}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda, … (default: auto)")
    parser.add_argument("--widths", default="1,4,16", help="widths whose training step to compare with")
    parser.add_argument("--members", type=int, default=None, help="chains per grouped model (default: the runner's)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (a grid worker has one)")
    parser.add_argument("--stream", default="", help="deformation parameters, name=value,… over the defaults")
    parser.add_argument("--examples", default=None, help="also write a PNG of 8 images and their copies 1–3")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    widths = [int(w) for w in args.widths.split(",")]
    members = args.members or default_group_size(device, min(widths))
    stream = DeformParams.parse(args.stream)
    data = dataset(device)
    print(f"cpu {cpu_model()} · {args.threads} thread(s) · device {describe_device(device)} · "
          f"torch {torch.__version__}")
    print(f"stream {stream.key()} · batch {BATCH} × {members} member(s) per step")

    started = time.perf_counter()
    store = data.deformed_copies(stream, 1)
    synchronize(device)
    make = (time.perf_counter() - started) / data.n_train
    generator = torch.Generator().manual_seed(1)
    base = torch.randint(0, data.n_train, (members, BATCH), generator=generator).to(device)
    n = members * BATCH
    fetch = best_seconds(lambda: data.train_batch(base), device) / n
    copied = best_seconds(lambda: data.train_batch(base + data.n_train, store), device) / n
    flat = base.flatten()
    warp = best_seconds(lambda: deform(data.train_x[flat], flat, 1, stream, data.grey_levels[0]), device) / n
    images, labels = data.train_batch(base)
    print(f"{'per example':<34}{'µs':>9}")
    rows = [("plain batch fetch", fetch, ""),
            ("fetch from the deformed copies", copied, f"{copied / fetch:.1f}× plain"),
            ("making a copy (once a process)", make, f"{make / fetch:.0f}× plain"),
            ("warping one batch alone", warp, f"{warp / fetch:.0f}× plain")]
    for name, seconds, note in rows:
        print(f"{name:<34}{seconds * 1e6:9.2f}   {note}")
    for width in widths:
        step = best_seconds(training_step(width, members, images, labels), device) / n
        print(f"{f'training step, width {width}':<34}{step * 1e6:9.2f}   a copy's fetch adds "
              f"{(copied - fetch) / step:.1%}, its making {make / step:.0%} once, a warp per batch {warp / step:.0%}")
    if args.examples:
        save_examples(data, stream, args.examples)


if __name__ == "__main__":
    main()
