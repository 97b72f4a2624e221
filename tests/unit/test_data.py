
import pytest
import torch

from pytest_scaling import data as data_module
from pytest_scaling.data import load_dataset, resolve_dataset
from pytest_scaling.errors import DatasetNotFound
from tests.conftest import write_idx_dataset


def test_flat_directory_with_explicit_name(fake_data_dir):
    source = resolve_dataset("fashion-mnist", fake_data_dir)
    assert source.name == "fashion-mnist" and source.directory == fake_data_dir


def test_torchvision_layout_is_found(tmp_path):
    write_idx_dataset(tmp_path / "MNIST" / "raw", gz=False)
    source = resolve_dataset("auto", tmp_path)
    assert source.name == "mnist" and source.display_name == "MNIST"


def test_env_var_is_the_fallback_for_the_option(tmp_path, monkeypatch):
    write_idx_dataset(tmp_path / "FashionMNIST" / "raw")
    monkeypatch.setenv("PYTEST_SCALING_DATA_DIR", str(tmp_path))
    assert resolve_dataset("fashion-mnist").directory == tmp_path / "FashionMNIST" / "raw"


def test_identity_distinguishes_contents(tmp_path):
    a = resolve_dataset("mnist", write_idx_dataset(tmp_path / "a", seed=1))
    b = resolve_dataset("mnist", write_idx_dataset(tmp_path / "b", seed=2))
    assert a.identity != b.identity and a.identity.startswith("mnist:")


def test_missing_dataset_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_DIR", tmp_path / "nothing")
    monkeypatch.setenv("PYTEST_SCALING_OFFLINE", "1")
    with pytest.raises(DatasetNotFound) as info:
        resolve_dataset("auto", None, download_root=tmp_path / "dl")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "--scaling-data-dir" in message


def test_unreadable_data_dir(tmp_path):
    with pytest.raises(DatasetNotFound, match="does not exist or cannot be read"):
        resolve_dataset("auto", tmp_path / "absent")


def test_unknown_dataset_name():
    with pytest.raises(DatasetNotFound, match="choose one of: auto, mnist, fashion-mnist"):
        resolve_dataset("cifar10")


def test_truncated_file_is_reported(tmp_path):
    directory = write_idx_dataset(tmp_path / "d", gz=False)
    images = directory / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(DatasetNotFound, match="truncated"):
        load_dataset(resolve_dataset("mnist", directory), torch.device("cpu"))


def test_loaded_tensors_and_nested_subsets(fake_dataset):
    assert fake_dataset.train_x.shape == (640, 1, 28, 28) and fake_dataset.val_x.shape == (200, 1, 28, 28)
    assert abs(float(fake_dataset.train_x.mean())) < 1e-3  # normalised with train statistics
    quarter, half, whole = (set(fake_dataset.subset_indices(f).tolist()) for f in (0.25, 0.5, 1.0))
    assert quarter < half < whole and len(half) == 320 and len(whole) == 640


def test_subsets_are_whole_batches(fake_dataset):
    assert [fake_dataset.subset_size(f, 64) for f in (1.0, 0.5, 0.3, 1 / 64)] == [640, 320, 192, 64]
    assert fake_dataset.block_edges(1.0, 64) == [64, 128, 320, 640]  # 1/8 and 1/16 are both one batch


def test_training_order_is_block_nested(fake_dataset):
    """A run's order is the start of every longer run's order of its seed, and covers its own subset."""
    whole = fake_dataset.training_order(1.0, seed=5, batch_size=64)
    half = fake_dataset.training_order(0.5, seed=5, batch_size=64)
    assert torch.equal(half, whole[:320])
    assert set(half.tolist()) == set(fake_dataset.subset_indices(0.5, 64).tolist())
    assert sorted(whole.tolist()) == sorted(fake_dataset.subset_indices(1.0, 64).tolist())
    other_seed = fake_dataset.training_order(1.0, seed=6, batch_size=64)
    assert not torch.equal(whole, other_seed)
    assert set(other_seed[:128].tolist()) == set(whole[:128].tolist())  # same blocks, shuffled differently


@pytest.mark.skipif(not data_module.DEBIAN_FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist not installed")
def test_debian_fashion_mnist_is_the_offline_default(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTEST_SCALING_OFFLINE", "1")
    monkeypatch.delenv("PYTEST_SCALING_DATA_DIR", raising=False)
    source = resolve_dataset("auto", None, download_root=tmp_path)
    assert source.name == "fashion-mnist"
    dataset = load_dataset(source, torch.device("cpu"))
    assert dataset.n_train == 60_000 and dataset.val_x.shape[0] == 10_000


def test_a_base_fraction_reads_its_base_images_then_copies_of_those_same_images(fake_dataset):
    """U = 1/4 of the 640 images (128, whole batches), then copy 1 of each of those 128, copy 2, …: position p
    reads copy p // U of image permutation[p % U]; the training order shuffles those positions in the fresh
    run's blocks, so the first U examples are the fresh run's, in its order."""
    data, n = fake_dataset, fake_dataset.n_train
    u = data.base_size(0.25, 64)
    assert u == data.subset_size(0.25, 64) == 128 and data.base_size(0.0, 64) == n
    perm = data.stream_ids(n)
    assert torch.equal(data.stream_ids(n), data._permutation())  # the plain stream is unchanged
    ids = data.stream_ids(640, u)
    positions = torch.arange(640)
    assert torch.equal(ids, positions // u * n + perm[positions % u])
    order = data.training_order(1.0, seed=5, batch_size=64, base_fraction=0.25)
    fresh = data.training_order(1.0, seed=5, batch_size=64)
    assert torch.equal(order[:u], fresh[:u])  # U is a block edge: the fresh run's first U examples, same order
    assert set((order % n).tolist()) == set(perm[:u].tolist())  # only the U base images, deformed or not
    assert torch.equal(torch.bincount(order // n), torch.full((5,), u))  # the images, then copies 1 … 4
    assert sorted(order.tolist()) == sorted(ids.tolist())  # each (copy, image) once
    for start, end in zip([0, *data.block_edges(1.0, 64)], data.block_edges(1.0, 64)):
        assert sorted(order[start:end].tolist()) == sorted(ids[start:end].tolist())  # shuffled within blocks
    half = data.training_order(0.5, seed=5, batch_size=64, base_fraction=0.25)
    assert torch.equal(half, order[:320])  # k = 2 is the start of k = 5: one chain
    assert not torch.equal(order, data.training_order(1.0, seed=6, batch_size=64, base_fraction=0.25))
    second = data.epoch_order(0.5, 5, 64, epoch=2, base_fraction=0.25)
    assert sorted(second.tolist()) == sorted(half.tolist())
    assert torch.equal(data.run_order(0.5, 5, 64, 2, base_fraction=0.25), torch.cat([half, second]))
    with pytest.raises(ValueError, match="base images"):
        data.stream_ids(10, n + 1)


def test_copies_of_makes_only_the_copies_read_and_matches_the_full_store(fake_dataset):
    from pytest_scaling.stream import DeformParams

    data, n, stream = fake_dataset, fake_dataset.n_train, DeformParams(seed=11)
    order = data.training_order(0.5, seed=1, batch_size=64, base_fraction=0.25)
    store = data.copies_of(stream, order)
    wanted = torch.unique(order[order >= n])
    assert store.pixels.shape[0] == wanted.numel() == 320 - 128 and store.pixels.dtype == torch.uint8
    assert data.copies_of(stream, order[:200]) is store  # nothing new to make: kept
    grown = data.copies_of(stream, data.training_order(1.0, seed=1, batch_size=64, base_fraction=0.25))
    assert grown.pixels.shape[0] == 4 * 128 and torch.equal(grown.pixels[:192], store.pixels)
    full = data.deformed_copies(stream, 4)
    images, labels = data.train_batch(order.view(5, 64), grown)
    reference, same_labels = data.train_batch(order.view(5, 64), full)
    _, step = data.grey_levels
    assert torch.equal(labels, same_labels) and (images - reference).abs().max() <= step + 1e-5  # one warp
    base = order < n
    assert torch.equal(images.view(320, 1, 28, 28)[base.view(-1)], data.train_x[order[base]])
