"""The deformed-example stream: the warp (deform.py), its identity (stream.py), and how data, specs,
budgets and training reach past the base images with it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pytest_scaling.budgets import BUILTIN_BUDGETS, parse_budget_line
from pytest_scaling.deform import deform, uniforms
from pytest_scaling.runs import RunSpec
from pytest_scaling.store import Context, run_key
from pytest_scaling.stream import DEFAULT_STREAM, DEFORM_VERSION, DeformParams, stream_key
from pytest_scaling.train import train_group, train_unshared

STREAM = DeformParams()


def garments(n: int = 32, seed: int = 0) -> torch.Tensor:
    """[n, 1, 28, 28] smooth bright shapes on a blank background, normalised like a dataset: what the warp
    is for (white noise, like the fake dataset's, decorrelates under any warp)."""
    generator = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    images = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        cx, cy, rx, ry = torch.rand(4, generator=generator) * 6 + torch.tensor([11.0, 11, 5, 6])
        body = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
        sleeve = (abs(y - cy + ry / 2) < 2) & (abs(x - cx) < rx + 3)
        images[i, 0] = (body | sleeve).float() * (0.5 + 0.5 * torch.rand(1, generator=generator))
    return (images - 0.3) / 0.35


def test_copy_zero_is_the_image_and_a_copy_is_the_same_on_every_call():
    x, ids = garments(), torch.arange(32) + 100
    assert torch.equal(deform(x, ids, 0, STREAM), x)
    assert torch.equal(deform(x, ids, 3, STREAM), deform(x.clone(), ids.clone(), 3, STREAM))


def test_a_copy_does_not_depend_on_the_batch_it_is_drawn_in():
    """The random bits are a function of (seed, copy, image, slot) alone; the float warp agrees to rounding."""
    x, ids = garments(), torch.arange(32)
    copies = torch.tensor([1, 2] * 16)
    pick = torch.tensor([7, 3, 30])
    assert torch.equal(uniforms(0, copies, ids, 1573)[pick], uniforms(0, copies[pick], ids[pick], 1573))
    torch.testing.assert_close(deform(x, ids, copies, STREAM)[pick], deform(x[pick], ids[pick], copies[pick], STREAM),
                               rtol=0, atol=1e-5)


def test_uniforms_look_uniform_and_independent():
    u = uniforms(0, torch.ones(400, dtype=torch.int64), torch.arange(400), 1573)
    assert u.min() >= 0 and u.max() < 1
    assert abs(float(u.mean()) - 0.5) < 0.005 and abs(float(u.var()) - 1 / 12) < 0.002
    neighbours = torch.corrcoef(torch.stack([u[:, :-1].flatten(), u[:, 1:].flatten()]))[0, 1]
    images = torch.corrcoef(torch.stack([u[:-1].flatten(), u[1:].flatten()]))[0, 1]
    assert abs(float(neighbours)) < 0.01 and abs(float(images)) < 0.01


def test_copies_differ_from_the_image_but_stay_close():
    x, ids = garments(64), torch.arange(64)
    blank = float(x.min())
    for copy in (1, 2, 3):
        warped = deform(x, ids, copy, STREAM, background=blank)
        corr = torch.stack([torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1] for a, b in zip(x, warped)])
        assert 0.6 < float(corr.median()) < 0.97 and float(corr.min()) > 0.3
        assert warped.min() >= blank - 1e-5 and warped.max() <= x.max() + 1e-5  # bilinear: a convex combination
        # a scale within ±6 % moves the area by up to ±12 %, and shapes at the frame lose what leaves it
        mass = (warped - blank).sum((1, 2, 3)) / (x - blank).sum((1, 2, 3))
        assert 0.9 < float(mass.median()) < 1.1 and 0.6 < float(mass.min()) and float(mass.max()) < 1.5
    assert not torch.allclose(deform(x, ids, 1, STREAM), deform(x, ids, 2, STREAM))
    assert not torch.allclose(deform(x, ids, 1, STREAM), deform(x, ids, 1, DeformParams(seed=1)))


def test_stronger_parameters_deform_more():
    x, ids = garments(64), torch.arange(64)
    gentle = (deform(x, ids, 1, DeformParams(alpha=10, degrees=2)) - x).abs().mean()
    strong = (deform(x, ids, 1, DeformParams(alpha=60, degrees=15)) - x).abs().mean()
    assert gentle < strong


def test_the_stream_key_names_every_parameter_and_parses_back():
    assert DEFAULT_STREAM.startswith(f"{DEFORM_VERSION}:") and all(
        f"{f.name}=" in DEFAULT_STREAM for f in dataclasses.fields(DeformParams))
    assert DeformParams.parse(DEFAULT_STREAM) == STREAM == DeformParams.parse("") == DeformParams.parse("default")
    assert DeformParams.parse("sigma=5,seed=3") == DeformParams(sigma=5.0, seed=3)
    assert stream_key("sigma=5") != DEFAULT_STREAM and len({DeformParams(alpha=a).key() for a in (30, 34, 40)}) == 3
    with pytest.raises(ValueError, match="name among alpha, sigma"):
        DeformParams.parse("blur=3")
    with pytest.raises(ValueError, match="made by deformation code 'elastic0'"):
        DeformParams.parse("elastic0:alpha=34.0")
    with pytest.raises(ValueError, match="must be ≥ 0"):
        DeformParams(alpha=-1)


# A key computed by the code before the stream existed: runs on fractions ≤ 1 keep theirs.
_CONTEXT = Context(dataset="fashion-mnist:abc", device_kind="cpu", code_version="6", torch_version="2.14.1",
                   settings="S")
_KEY_BEFORE_THE_STREAM = "b05f5068eb8c90ca71cdd39f16463954ebd61d371cb451abdeb26b1af741d537"


def test_cache_keys_up_to_fraction_one_are_unchanged():
    assert run_key(RunSpec(width=4, fraction=1.0, seed=0), _CONTEXT) == _KEY_BEFORE_THE_STREAM
    assert run_key(RunSpec(width=4, fraction=1.0, seed=0, stream="sigma=5"), _CONTEXT) == _KEY_BEFORE_THE_STREAM
    assert "stream" not in RunSpec(width=4, fraction=0.5, seed=0).as_dict()


def test_cache_keys_past_fraction_one_name_the_stream():
    default = RunSpec(width=4, fraction=2.0, seed=0)
    assert default.stream == DEFAULT_STREAM and default.as_dict()["stream"] == DEFAULT_STREAM
    assert RunSpec(width=4, fraction=2.0, seed=0, stream="sigma=5") == RunSpec(width=4, fraction=2.0, seed=0,
                                                                             stream=stream_key("sigma=5"))
    keys = {run_key(RunSpec(width=4, fraction=2.0, seed=0, stream=s), _CONTEXT)
            for s in ("", "sigma=5", "alpha=30", "seed=1")}
    assert len(keys) == 4
    assert run_key(default, _CONTEXT) != run_key(RunSpec(width=4, fraction=4.0, seed=0), _CONTEXT)
    assert default.chain_key == RunSpec(width=4, fraction=1.0, seed=0).chain_key  # one trunk serves both


def test_budgets_reach_past_the_images_with_fractions_above_one():
    budget = parse_budget_line("more: parent=tiny widths=2 fractions=1/4,1,2,8 seeds=0 dropouts=0 stream=sigma=5",
                               dict(BUILTIN_BUDGETS))
    specs = {s.fraction: s for s in budget.main_specs()}
    assert sorted(specs) == [0.25, 1.0, 2.0, 8.0]
    assert specs[0.25].stream == specs[1.0].stream == ""
    assert specs[2.0].stream == specs[8.0].stream == stream_key("sigma=5")
    assert "fractions 1/4,1,2,8" in budget.describe() and "deformed copies (elastic1:" in budget.describe()
    assert "deformed" not in BUILTIN_BUDGETS["small"].describe()


def test_the_stream_continues_the_training_order(fake_dataset):
    """Fraction 2's order starts with fraction 1's, fraction 4's with fraction 2's; past the images come
    copy 1 of each of them, then copies 2 and 3, each stream example once."""
    n = fake_dataset.n_train
    one, two, four = (fake_dataset.training_order(f, seed=3, batch_size=64) for f in (1.0, 2.0, 4.0))
    assert torch.equal(two[:n], one) and torch.equal(four[: 2 * n], two)
    assert sorted(four.tolist()) == list(range(4 * n))
    assert torch.equal(torch.bincount(two[n:] // n), torch.tensor([0, n]))
    assert torch.equal(fake_dataset.subset_indices(2.0, 64)[:n], fake_dataset.subset_indices(1.0, 64))
    assert fake_dataset.order_edges(4.0, 64) == [*fake_dataset.block_edges(1.0, 64), 2 * n, 4 * n]
    assert not torch.equal(two, fake_dataset.training_order(2.0, seed=4, batch_size=64))
    assert sorted(fake_dataset.epoch_order(2.0, 3, 64, epoch=2).tolist()) == list(range(2 * n))


def test_deformed_copies_are_made_once_and_read_by_id(fake_dataset):
    n, stream = fake_dataset.n_train, DeformParams(seed=7)
    store = fake_dataset.deformed_copies(stream, 1)
    assert store.dtype == torch.uint8 and store.shape == (n, 1, 28, 28)
    grown = fake_dataset.deformed_copies(stream, 2)
    assert grown.shape[0] == 2 * n and torch.equal(grown[:n], store)
    assert fake_dataset.deformed_copies(stream, 1) is grown  # made once, kept
    ids = torch.tensor([[5, n + 5, 2 * n + 5], [7, n + 9, 639]])
    images, labels = fake_dataset.train_batch(ids, grown)
    assert images.shape == (2, 3, 1, 28, 28) and torch.equal(labels, fake_dataset.train_y[ids % n])
    assert torch.equal(images[0, 0], fake_dataset.train_x[5]) and torch.equal(images[1, 2], fake_dataset.train_x[639])
    low, step = fake_dataset.grey_levels
    warped = deform(fake_dataset.train_x[[5]], torch.tensor([5]), 2, stream, low)[0]
    assert (images[0, 2] - warped).abs().max() <= step / 2 + 1e-5  # the warp, rounded to a grey level
    assert not torch.equal(images[0, 1], images[0, 2])


def test_a_run_past_the_images_trains_and_its_chain_keeps_the_runs_before(fake_dataset):
    """A run on 1.5 × the images sees and counts 1.5 × as many examples; the runs of its chain below 1 are
    the runs trained without it, to the bit."""
    past, below = RunSpec(width=1, fraction=1.5, seed=0), RunSpec(width=1, fraction=0.75, seed=0)
    long, short = train_group([past, below], fake_dataset)
    (alone,) = train_group([below], fake_dataset)
    assert long.examples == 960 and long.flops == 3 * long.flops_per_example * 960 and not long.diverged
    assert long.checkpoints[-1].examples == 960 and long.val_loss == long.val_loss  # finite, not NaN
    assert dataclasses.replace(short, train_seconds=0) == dataclasses.replace(alone, train_seconds=0)
    (unshared,) = train_unshared([past], fake_dataset)
    assert unshared.val_loss == long.val_loss


def test_a_group_reads_one_stream(fake_dataset):
    with pytest.raises(ValueError, match="one deformed stream per group"):
        train_group([RunSpec(width=1, fraction=2.0, seed=0), RunSpec(width=1, fraction=2.0, seed=1, stream="seed=1")],
                    fake_dataset)


@pytest.mark.cuda
def test_the_random_bits_are_the_same_on_cuda():
    ids, copies = torch.arange(64), torch.full((64,), 3)
    assert torch.equal(uniforms(5, copies, ids, 1573), uniforms(5, copies.cuda(), ids.cuda(), 1573).cpu())
    x = garments(64)
    torch.testing.assert_close(deform(x, ids, 3, STREAM), deform(x.cuda(), ids.cuda(), 3, STREAM).cpu(),
                               rtol=0, atol=1e-4)
