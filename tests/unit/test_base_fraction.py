"""Runs on U base images then deformed copies of the same U (``RunSpec.base_fraction``): their specs and cache
keys, and how training reads them. The orders themselves: tests/unit/test_data.py."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_scaling.runs import RunSpec
from pytest_scaling.store import Context, run_key
from pytest_scaling.stream import DEFAULT_STREAM, stream_key
from pytest_scaling.train import train_group, train_unshared

# A key computed by the code before the stream (and base fractions) existed: fresh runs keep theirs.
_CONTEXT = Context(dataset="fashion-mnist:abc", device_kind="cpu", code_version="6", torch_version="2.14.1",
                   settings="S")
_KEY_BEFORE_THE_STREAM = "b05f5068eb8c90ca71cdd39f16463954ebd61d371cb451abdeb26b1af741d537"


def test_old_cache_keys_are_unchanged():
    fresh = RunSpec(width=4, fraction=1.0, seed=0)
    assert run_key(fresh, _CONTEXT) == _KEY_BEFORE_THE_STREAM
    assert run_key(RunSpec(width=4, fraction=1.0, seed=0, base_fraction=0), _CONTEXT) == _KEY_BEFORE_THE_STREAM
    assert "base_fraction" not in fresh.as_dict() and "base_fraction" not in RunSpec(4, 2.0, 0).as_dict()


def test_a_base_fraction_run_names_its_base_and_stream_in_its_key():
    copies = RunSpec(width=4, fraction=0.25, seed=0, base_fraction=1 / 16)
    assert copies.as_dict()["base_fraction"] == 0.0625 and copies.stream == DEFAULT_STREAM
    assert copies.as_dict()["stream"] == DEFAULT_STREAM
    keys = {run_key(spec, _CONTEXT) for spec in (
        copies, RunSpec(width=4, fraction=0.25, seed=0), RunSpec(width=4, fraction=0.25, seed=0, base_fraction=1 / 8),
        RunSpec(width=4, fraction=0.25, seed=0, base_fraction=1 / 16, stream="sigma=5"))}
    assert len(keys) == 4
    gentle = RunSpec(width=4, fraction=0.25, seed=0, base_fraction=1 / 16, stream="sigma=5")
    assert gentle.stream == stream_key("sigma=5")
    # its own chain: k = 2 is the start of k = 4, and neither shares the fresh trunk
    assert copies.chain_key == dataclasses.replace(copies, fraction=0.125).chain_key
    assert copies.chain_key != RunSpec(width=4, fraction=0.25, seed=0).chain_key
    assert copies.group_key == RunSpec(width=4, fraction=0.25, seed=0).group_key


@pytest.mark.parametrize("fields", [dict(fraction=0.25, base_fraction=0.25), dict(fraction=0.25, base_fraction=0.5),
                                    dict(fraction=2.0, base_fraction=0.5), dict(fraction=0.25, base_fraction=-0.1),
                                    dict(fraction=0.25, base_fraction=True), dict(fraction=0.25, base_fraction="1/8")])
def test_base_fractions_outside_the_design_are_refused(fields):
    with pytest.raises(ValueError, match="base_fraction must be 0"):
        RunSpec(width=4, seed=0, **fields)


def test_a_copies_run_is_the_fresh_run_up_to_its_base_and_trains_exactly_on_its_chain(fake_dataset):
    """U = 128 of the 640 images, then copies to 640 (k = 5) and 320 (k = 2.5): the runs trained alone, in
    one chain, and unshared agree to the bit; up to U the checkpoints are the fresh run's."""
    long, short = (RunSpec(width=1, fraction=f, seed=0, base_fraction=0.25) for f in (1.0, 0.5))
    fresh = RunSpec(width=1, fraction=1.0, seed=0)
    chain = train_group([long, short], fake_dataset)
    (alone,) = train_group([short], fake_dataset)
    (unshared,) = train_unshared([long], fake_dataset)
    (plain,) = train_group([fresh], fake_dataset)
    assert dataclasses.replace(chain[1], train_seconds=0) == dataclasses.replace(alone, train_seconds=0)
    assert unshared.val_loss == chain[0].val_loss and chain[0].examples == 640 and not chain[0].diverged
    early = [c for c in chain[0].checkpoints if c.examples <= 128]
    assert early and early == [c for c in plain.checkpoints if c.examples <= 128]
    assert chain[0].val_loss != plain.val_loss  # past U it reads copies, not fresh images
    # trained beside a fresh run in one group, each is what it is alone
    mixed = train_group([long, fresh], fake_dataset)
    assert mixed[0].val_loss == pytest.approx(chain[0].val_loss, rel=1e-5)
    assert mixed[1].val_loss == pytest.approx(plain.val_loss, rel=1e-5)


def test_protocol_branches_of_a_copies_run_read_its_own_stream(fake_dataset):
    """A cooldown and a second epoch branch off the copies run's trunk and read its examples, not fresh ones:
    each equals the run trained unshared."""
    specs = [RunSpec(width=1, fraction=0.5, seed=1, base_fraction=0.25, schedule="cooldown"),
             RunSpec(width=1, fraction=0.5, seed=1, base_fraction=0.25, epochs=2)]
    shared = train_group(specs, fake_dataset)
    for spec, result in zip(specs, shared):
        (alone,) = train_unshared([spec], fake_dataset)
        assert result.val_loss == alone.val_loss and result.examples == 320 * spec.epochs
