"""Find an MNIST-family dataset, load it once into tensors, hand out nested subsets.

Fractions above 1 reach past the base images into the deformed stream (stream.py): positions
n, n+1, … are copy 1 of the permutation's images, then copy 2, … Each copy is deformed once per
process, on the device, and kept as 8-bit images like the originals (``Dataset.deformed_copies``).

A run with a base fraction (``RunSpec.base_fraction``, the worth-of-a-copy design) reads a stream over
fewer images: U = ``subset_size(base_fraction)`` base images, the permutation's first U, then copy 1 of
each of those same U images, then copy 2, … (position p: copy p // U of image ``permutation[p % U]``).
Its training order is the fresh run's block-nested shuffle of stream positions
(``training_order``) read through that stream, so its first U examples are the fresh run's, in the same
order, whenever U is one of its block edges (base_fraction = fraction / 2^j). Only the copies it reads
are made (``Dataset.copies_of``).

Resolution order: ``--scaling-data-dir`` → ``PYTEST_SCALING_DATA_DIR`` → Debian's
``dataset-fashion-mnist`` → torchvision's MNIST download (only where the network
reaches it). IDX files are read directly, gzipped or not, in either the flat
layout or torchvision's ``<root>/MNIST/raw`` / ``<root>/FashionMNIST/raw`` layout.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import socket
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from pytest_scaling.deform import deform
from pytest_scaling.errors import DatasetNotFound
from pytest_scaling.runs import fraction_family
from pytest_scaling.stream import DeformParams

DATASET_CHOICES = ("auto", "mnist", "fashion-mnist")
DATA_DIR_ENV = "PYTEST_SCALING_DATA_DIR"
OFFLINE_ENV = "PYTEST_SCALING_OFFLINE"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
TORCHVISION_SUBDIR = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
DISPLAY_NAME = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Seed of the one permutation whose prefixes are the nested training subsets.
SUBSET_PERMUTATION_SEED = 20_201
#: Shuffles of epochs ≥ 2 use generator seeds seed·1,000,003 + this + epoch, clear of the block
#: shuffles' seed·1,000,003 + block index (a family has ~20 blocks at most, ~30 up to MAX_FRACTION).
EPOCH_SHUFFLE_OFFSET = 1_000
#: Images deformed per batch when a copy is made: its working memory (~6 MB) stays in cache, measured fastest.
DEFORM_CHUNK = 512


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset's four IDX files are; ``identity`` goes into cache keys."""

    name: str  # "mnist" | "fashion-mnist"
    directory: Path
    files: dict

    @property
    def display_name(self) -> str:
        return DISPLAY_NAME[self.name]

    @property
    def identity(self) -> str:
        return f"{self.name}:{_fingerprint(self.files['train_images'], self.files['test_images'])}"

    def load(self, device: torch.device) -> Dataset:
        """The images, read once and moved to ``device`` (``load_dataset``)."""
        return load_dataset(self, device)


@dataclass(frozen=True, eq=False)
class TensorSource:
    """A dataset given as tensors, e.g. by a ``pytest_scaling_resolve_dataset`` hook: training inputs and labels
    (``train_x`` [n, …] float, ``train_y`` [n] integer classes) and the validation split every run is scored on.
    Used as given (no normalisation). A run's fraction f trains on the first f·n examples of one fixed
    permutation of the training split, as it does on images. ``identity`` (name and a digest of the tensors)
    goes into every run's cache key, so a hook must build the same tensors each time (from a fixed seed).
    Pickled with its tensors: process-pool and Ray workers get the data with the job."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    display: str = ""  # the header's and report's name; default: ``name``

    def __post_init__(self):
        for split in ("train", "val"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
                raise DatasetNotFound(f"dataset {self.name!r}: {split}_x and {split}_y must be torch tensors")
            if y.dim() != 1 or x.dim() < 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
                raise DatasetNotFound(f"dataset {self.name!r}: {split}_x must be [n, …] and {split}_y [n] with the "
                                      f"same n > 0, got {tuple(x.shape)} and {tuple(y.shape)}")
            if not x.is_floating_point() or y.is_floating_point():
                raise DatasetNotFound(f"dataset {self.name!r}: {split}_x must be floating point and {split}_y "
                                      f"integer class labels, got {x.dtype} and {y.dtype}")
            object.__setattr__(self, f"{split}_x", x.detach().to("cpu", torch.float32).contiguous())
            object.__setattr__(self, f"{split}_y", y.detach().to("cpu", torch.int64).contiguous())
        if self.train_x.shape[1:] != self.val_x.shape[1:]:
            raise DatasetNotFound(f"dataset {self.name!r}: train_x and val_x differ in shape past the first axis: "
                                  f"{tuple(self.train_x.shape)} and {tuple(self.val_x.shape)}")

    @property
    def display_name(self) -> str:
        return self.display or self.name

    @cached_property
    def identity(self) -> str:
        digest = hashlib.sha256()
        for tensor in (self.train_x, self.train_y, self.val_x, self.val_y):
            digest.update(f"{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.numpy().tobytes())
        return f"{self.name}:{digest.hexdigest()[:16]}"

    def __eq__(self, other) -> bool:
        return isinstance(other, TensorSource) and other.identity == self.identity

    def __hash__(self) -> int:
        return hash(self.identity)

    def load(self, device: torch.device) -> Dataset:
        return Dataset(self, self.train_x.to(device), self.train_y.to(device), self.val_x.to(device),
                       self.val_y.to(device))


def check_source(source, name: str):
    """What a ``pytest_scaling_resolve_dataset`` hook returned, if the runner can use it (``identity``,
    ``display_name`` and ``load(device)``, as :class:`TensorSource` has), else a DatasetNotFound saying so."""
    if isinstance(source, (TensorSource, DatasetSource)):
        return source
    missing = [attr for attr in ("identity", "display_name", "load") if not hasattr(source, attr)]
    if missing:
        raise DatasetNotFound(f"pytest_scaling_resolve_dataset returned {type(source).__name__} for dataset {name!r}, "
                              f"which has no {', '.join(missing)}: return a pytest_scaling.data.TensorSource(name, "
                              "train_x, train_y, val_x, val_y), or None for the built-in datasets")
    return source


def _find_idx_files(directory: Path) -> dict | None:
    found = {}
    for key, stem in FILES.items():
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _candidates(root: Path, name: str) -> list[Path]:
    return [root / TORCHVISION_SUBDIR[name] / "raw", root]


def _how_to_get(detail: str) -> str:
    return (
        f"{detail}\nGet a dataset in one of these ways:\n"
        "  * apt-get install dataset-fashion-mnist      (Fashion-MNIST into /usr/share/datasets/fashion-mnist)\n"
        "  * --scaling-data-dir=PATH or PYTEST_SCALING_DATA_DIR=PATH pointing at the IDX files\n"
        "    (train-images-idx3-ubyte[.gz] etc.) or at a torchvision root holding MNIST/raw or FashionMNIST/raw\n"
        "  * on a machine with internet, --scaling-dataset=mnist downloads MNIST with torchvision\n"
        "Choose which one with --scaling-dataset=auto|mnist|fashion-mnist."
    )


def resolve_dataset(name: str = "auto", data_dir: str | os.PathLike | None = None,
                    download_root: Path | None = None) -> DatasetSource:
    """Pick the dataset to use, or raise :class:`DatasetNotFound` saying how to get one."""
    name = (name or "auto").lower()
    if name not in DATASET_CHOICES:
        raise DatasetNotFound(f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_CHOICES)}")
    wanted = ["mnist", "fashion-mnist"] if name == "auto" else [name]
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None

    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            raise DatasetNotFound(_how_to_get(f"data directory {str(root)!r} does not exist or cannot be read."))
        for candidate_name in wanted:
            for directory in _candidates(root, candidate_name)[:1]:
                files = _find_idx_files(directory)
                if files:
                    return DatasetSource(candidate_name, directory, files)
        files = _find_idx_files(root)
        if files:  # flat IDX files: the name comes from the option, or from the directory's name
            flat_name = name if name != "auto" else ("fashion-mnist" if "fashion" in str(root).lower() else "mnist")
            return DatasetSource(flat_name, root, files)

    for candidate_name in wanted:
        if candidate_name == "fashion-mnist":
            files = _find_idx_files(DEBIAN_FASHION_DIR)
            if files:
                return DatasetSource("fashion-mnist", DEBIAN_FASHION_DIR, files)
        elif download_root is not None:
            files = _find_idx_files(download_root / "MNIST" / "raw")
            if files:
                return DatasetSource("mnist", download_root / "MNIST" / "raw", files)
            source = _try_download_mnist(download_root)
            if source is not None:
                return source

    where = f" in {str(data_dir)!r}" if data_dir else ""
    raise DatasetNotFound(_how_to_get(f"no {' or '.join(DISPLAY_NAME[n] for n in wanted)} files found{where}."))


def _network_reaches(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _try_download_mnist(root: Path) -> DatasetSource | None:
    """torchvision's download, only if its mirror answers quickly: never hang an offline run."""
    if os.environ.get(OFFLINE_ENV) or not _network_reaches("ossci-datasets.s3.amazonaws.com"):
        return None
    try:
        from torchvision.datasets import MNIST

        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception:  # any download failure means "not available here"; the caller falls back
        return None
    files = _find_idx_files(root / "MNIST" / "raw")
    return DatasetSource("mnist", root / "MNIST" / "raw", files) if files else None


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetNotFound(_how_to_get(f"{path} is not an unsigned-byte IDX file."))
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DatasetNotFound(_how_to_get(f"{path} is truncated ({data.size} of {int(np.prod(dims))} values)."))
    return data.reshape(tuple(dims))


def _fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}".encode())
        with open(path, "rb") as f:
            digest.update(f.read(1 << 20))  # the first MiB tells datasets and versions apart cheaply
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class SparseCopies:
    """Deformed copies of some example ids (``Dataset.copies_of``): ``pixels`` [m, 1, H, W] grey levels
    (uint8), and ``rows`` [top] the row in ``pixels`` of example id n + j (−1: not made)."""

    pixels: torch.Tensor
    rows: torch.Tensor


@dataclass
class Dataset:
    """Normalised images and labels, resident on one device."""

    source: DatasetSource
    train_x: torch.Tensor  # [60000, 1, 28, 28] float32
    train_y: torch.Tensor  # [60000] int64
    val_x: torch.Tensor
    val_y: torch.Tensor
    #: stream key → copies 1 … k of every training image as grey levels, [k·n, 1, 28, 28] uint8;
    #: ("sparse", stream key) → the SparseCopies made for runs on base fractions
    _copies: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def n_train(self) -> int:
        return self.train_x.shape[0]

    def subset_size(self, fraction: float, batch_size: int = 1) -> int:
        """Examples a run on ``fraction`` sees: whole batches only (at least one), so that a
        shorter run's end is a step boundary of every longer run of its chain."""
        return batch_size * max(1, math.floor(fraction * self.n_train / batch_size + 1e-9))

    def _permutation(self) -> torch.Tensor:
        return torch.randperm(self.n_train, generator=torch.Generator().manual_seed(SUBSET_PERMUTATION_SEED))

    def base_size(self, base_fraction: float, batch_size: int = 1) -> int:
        """U, the base images a stream repeats (deformed): all n for 0 (the plain stream), else the run on
        ``base_fraction``'s own subset, whole batches (so the fresh run on it is the start of the run)."""
        return self.subset_size(base_fraction, batch_size) if base_fraction > 0 else self.n_train

    def stream_ids(self, stop: int, base: int | None = None) -> torch.Tensor:
        """Example ids of stream positions 0 … stop − 1, on the CPU. Position p is copy p // U of image
        ``permutation[p % U]``; its id is copy · n + image. U is ``base`` (default: all n images, the plain
        stream), so below U the ids are the permutation itself."""
        u = base or self.n_train
        if not 0 < u <= self.n_train:
            raise ValueError(f"a stream repeats 1 … {self.n_train} base images, got {u}")
        positions = torch.arange(stop)
        return positions // u * self.n_train + self._permutation()[positions % u]

    def subset_indices(self, fraction: float, batch_size: int = 1) -> torch.Tensor:
        """The first ``fraction`` of the stream (of one fixed permutation up to 1), so 1/4 ⊂ 1/2 ⊂ 1 ⊂ 2."""
        return self.stream_ids(self.subset_size(fraction, batch_size)).to(self.train_x.device)

    def block_edges(self, fraction: float, batch_size: int) -> list[int]:
        """Subset sizes of fraction, fraction/2, fraction/4, … down to one batch, ascending."""
        edges = {self.subset_size(fraction, batch_size)}
        while min(edges) > batch_size:
            fraction /= 2
            edges.add(self.subset_size(fraction, batch_size))
        return sorted(edges)

    def order_edges(self, fraction: float, batch_size: int) -> list[int]:
        """The blocks' ends for ``fraction``: its family's ``block_edges``, then the family's doublings up to
        ``fraction`` when it lies above 1 (so the blocks up to 1 are the ones they always were)."""
        family = fraction_family(fraction)
        edges = self.block_edges(family, batch_size)
        while family < fraction:  # exact: fraction is family · 2^k
            family *= 2
            edges.append(self.subset_size(family, batch_size))
        return edges

    def training_order(self, fraction: float, seed: int, batch_size: int, base_fraction: float = 0.0) -> torch.Tensor:
        """The order in which a run on ``fraction`` sees its subset: block-nested.

        The subset is cut into the blocks between consecutive halvings of
        ``fraction`` (… ⊂ f/4 ⊂ f/2 ⊂ f) and each block is shuffled by ``seed`` on its
        own. So the run on f/2 is exactly the first half of the run on f (with a
        constant LR, its trajectory too): one chain of training serves every
        fraction f, f/2, f/4, … of a seed. The blocks, hence the order, depend only
        on the fraction's family {f·2^k}, never on which runs were asked for. Above 1 the family's blocks
        continue, each doubling, into the deformed stream (``stream_ids``).

        With ``base_fraction`` > 0 the same shuffled positions are read through the stream over U =
        ``base_size(base_fraction)`` images (module docstring): the order of the run that sees U base images
        and then deformed copies of them, deterministic in (fraction's family, seed, U).
        """
        edges = self.order_edges(fraction, batch_size)
        ids = self.stream_ids(edges[-1], self.base_size(base_fraction, batch_size))
        blocks, start = [], 0
        for index, end in enumerate(edges):
            generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
            blocks.append(ids[start:end][torch.randperm(end - start, generator=generator)])
            start = end
        order = torch.cat(blocks)[: self.subset_size(fraction, batch_size)]
        return order.to(self.train_x.device)

    def epoch_order(self, fraction: float, seed: int, batch_size: int, epoch: int,
                    base_fraction: float = 0.0) -> torch.Tensor:
        """The order of one epoch over the run's subset. Epoch 1 is ``training_order`` (so one-epoch
        runs and chains are unchanged); each later epoch is a fresh shuffle of the same subset
        by (seed, epoch), independent of how many epochs the run has: a run of E+1 epochs is the
        run of E epochs continued."""
        if epoch == 1:
            return self.training_order(fraction, seed, batch_size, base_fraction)
        size = self.subset_size(fraction, batch_size)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + EPOCH_SHUFFLE_OFFSET + epoch)
        ids = self.stream_ids(size, self.base_size(base_fraction, batch_size))
        return ids[torch.randperm(size, generator=generator)].to(self.train_x.device)

    def run_order(self, fraction: float, seed: int, batch_size: int, epochs: int,
                  base_fraction: float = 0.0) -> torch.Tensor:
        """Every example a run sees, in order: its epochs one after the other."""
        return torch.cat([self.epoch_order(fraction, seed, batch_size, e, base_fraction)
                          for e in range(1, epochs + 1)])

    @cached_property
    def grey_levels(self) -> tuple[float, float]:
        """The split's darkest value (a blank pixel) and the step between its 256 grey levels, in this
        normalisation: deformed copies fill in blank and are rounded to these levels."""
        low, high = float(self.train_x.amin()), float(self.train_x.amax())
        return low, (high - low) / 255

    def deformed_copies(self, stream: DeformParams, copies: int) -> torch.Tensor:
        """Copies 1 … ``copies`` of every training image (at least), deformed by ``stream``: [k·n, 1, H, W]
        grey levels (uint8), copy c of image i at (c − 1)·n + i. Made once per process, ``DEFORM_CHUNK``
        images at a time on the device, and kept: each chain that reads them would otherwise warp them
        again, at more than a small width's training step per image (``benchmarks/deform_cost.py``).
        8 bits, as the originals are, keep them at 47 MB a copy of 60k images (float32: 188 MB)."""
        key, n = stream.key(), self.n_train
        have = self._copies.get(key, self.train_x.new_empty((0, *self.train_x.shape[1:]), dtype=torch.uint8))
        if have.shape[0] >= copies * n:
            return have
        low, step = self.grey_levels
        made = [have]
        for copy in range(have.shape[0] // n + 1, copies + 1):
            for start in range(0, n, DEFORM_CHUNK):
                ids = torch.arange(start, min(start + DEFORM_CHUNK, n), device=self.train_x.device)
                warped = deform(self.train_x[ids], ids, copy, stream, low)
                made.append(((warped - low) / step).round_().clamp_(0, 255).to(torch.uint8))
        self._copies[key] = torch.cat(made)
        return self._copies[key]

    def copies_of(self, stream: DeformParams, ids: torch.Tensor) -> SparseCopies:
        """The deformed copies of example ids past the base images (any others are ignored), and only those:
        a run on U base images (``RunSpec.base_fraction``) reads copies of U images, not of all n. Made
        ``DEFORM_CHUNK`` at a time in id order, kept per stream and grown on later calls, as 8-bit grey levels
        like ``deformed_copies`` (the same warp of (stream, copy, image), so the same copy to rounding)."""
        n, key = self.n_train, stream.key()
        want = torch.unique(ids[ids >= n].to(self.train_x.device))
        store = self._copies.get(("sparse", key))
        if store is None:
            store = SparseCopies(self.train_x.new_empty((0, *self.train_x.shape[1:]), dtype=torch.uint8),
                                 torch.full((0,), -1, dtype=torch.int64, device=self.train_x.device))
        rows = store.rows
        top = int(want.max()) - n + 1 if want.numel() else 0
        if rows.numel() < top:
            rows = torch.cat([rows, rows.new_full((top - rows.numel(),), -1)])
        missing = want[rows[want - n] < 0] if want.numel() else want
        if missing.numel() == 0:
            return store
        low, step = self.grey_levels
        made, start = [store.pixels], store.pixels.shape[0]
        for begin in range(0, missing.numel(), DEFORM_CHUNK):
            chunk = missing[begin:begin + DEFORM_CHUNK]
            images = chunk % n
            warped = deform(self.train_x[images], images, chunk // n, stream, low)
            made.append(((warped - low) / step).round_().clamp_(0, 255).to(torch.uint8))
        rows[missing - n] = torch.arange(start, start + missing.numel(), device=rows.device)
        store = SparseCopies(torch.cat(made), rows)
        self._copies[("sparse", key)] = store
        return store

    def train_batch(self, ids: torch.Tensor, copies: torch.Tensor | SparseCopies | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels of example ids (any shape). Ids past the base images need ``copies``, the
        store ``deformed_copies`` (or ``copies_of``) returned; without it, plain indexing."""
        if copies is None:
            return self.train_x[ids], self.train_y[ids]
        n = self.n_train
        images = ids % n
        low, step = self.grey_levels
        past = (ids - n).clamp(min=0)
        if isinstance(copies, SparseCopies):  # ids below n read row 0, then the image itself (below)
            pixels = copies.pixels[copies.rows[past.clamp(max=copies.rows.numel() - 1)].clamp(min=0)]
        else:
            pixels = copies[past]
        deformed = pixels.to(self.train_x.dtype) * step + low
        x = torch.where((ids >= n).view(*ids.shape, 1, 1, 1), deformed, self.train_x[images])
        return x, self.train_y[images]


def load_dataset(source: DatasetSource, device: torch.device) -> Dataset:
    """Read the IDX files once and move them to ``device`` (normalised with train statistics)."""
    arrays = {key: _read_idx(path) for key, path in source.files.items()}
    train = torch.from_numpy(arrays["train_images"].astype(np.float32) / 255.0)
    mean, std = train.mean(), train.std()

    def images(a: np.ndarray) -> torch.Tensor:
        return ((torch.from_numpy(a.astype(np.float32) / 255.0) - mean) / std).unsqueeze(1).to(device)

    def labels(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return Dataset(source, images(arrays["train_images"]), labels(arrays["train_labels"]),
                   images(arrays["test_images"]), labels(arrays["test_labels"]))
