"""Shared fixtures: small fake IDX datasets (fast, no download) and isolated caches."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

#: A budget small enough to train in seconds on 2 cores, used by plugin and integration tests.
MICRO_BUDGET = ("micro: parent=tiny widths=2,3,4 fractions=1/16,1/8 seeds=0,1 dropouts=0,0.2 "
                "sweep_widths=2,4,16 sweep_mults=1/4,1/2,1,2,4 sweep_fraction=1/16 sweep_seeds=0")


def write_idx_dataset(directory: Path, n_train: int = 640, n_test: int = 200, gz: bool = True, seed: int = 0) -> Path:
    """IDX files whose images carry a learnable, label-dependent pattern plus noise."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 255, size=(10, 28, 28))
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        noise = rng.integers(0, 120, size=(n, 28, 28))
        images = np.clip(templates[labels] * 0.6 + noise, 0, 255).astype(np.uint8)
        for kind, array, magic in (("images-idx3", images, 0x0803), ("labels-idx1", labels, 0x0801)):
            header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
            name = f"{prefix}-{kind}-ubyte"
            payload = header + array.tobytes()
            if gz:
                with gzip.open(directory / f"{name}.gz", "wb") as f:
                    f.write(payload)
            else:
                (directory / name).write_bytes(payload)
    return directory


@pytest.fixture(scope="session")
def fake_data_dir(tmp_path_factory) -> Path:
    return write_idx_dataset(tmp_path_factory.mktemp("fake-mnist"))


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def fake_dataset(fake_data_dir):
    import torch

    from pytest_scaling.data import load_dataset, resolve_dataset

    return load_dataset(resolve_dataset("mnist", fake_data_dir), torch.device("cpu"))
