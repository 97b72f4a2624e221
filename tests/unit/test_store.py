import dataclasses
import hashlib
import json
import os

import pytest

from pytest_scaling.errors import CacheError
from pytest_scaling.runs import Checkpoint, RunResult, RunSpec
from pytest_scaling.store import Context, CorruptCacheRecord, RunStore, _canonical, run_key

CONTEXT = Context(dataset="fashion-mnist:abc", device_kind="cpu", code_version="1")


def result(seed=0, loss=0.5):
    return RunResult(spec=RunSpec(width=4, fraction=0.25, seed=seed), params=4266, flops_per_example=177184,
                     examples=15000, val_loss=loss, val_acc=0.8, checkpoints=(Checkpoint(15000, loss, 0.8),),
                     slice_loss=loss * 1.01, slice_acc=0.79)


def test_round_trip(cache_dir):
    store = RunStore(cache_dir).prepare()
    store.put(result(), CONTEXT)
    assert store.get(result().spec, CONTEXT) == result()
    assert store.get(RunSpec(width=4, fraction=0.25, seed=1), CONTEXT) is None


def test_key_covers_everything_that_changes_results():
    spec = result().spec
    keys = {run_key(spec, CONTEXT), run_key(spec, Context("mnist:abc", "cpu", "1")),
            run_key(spec, Context("fashion-mnist:abc", "cuda:H100", "1")),
            run_key(spec, Context("fashion-mnist:abc", "cpu", "2")),
            run_key(spec, Context("fashion-mnist:abc", "cpu", "1", torch_version="0.0")),
            run_key(RunSpec(width=4, fraction=0.25, seed=0, lr_mult=2.0), CONTEXT)}
    assert len(keys) == 6


def test_specs_cached_before_training_protocols_keep_their_keys():
    """Hours of cached runs stay valid: a constant-LR, one-epoch spec hashes exactly as it did when
    specs had seven fields (the digest was computed with that code); a protocol changes the key."""
    context = Context(dataset="fashion-mnist:abc", device_kind="cpu", code_version="1", torch_version="2.14.1",
                      settings="TrainSettings()")
    spec = RunSpec(width=4, fraction=0.25, seed=0)
    old_fields = {"width": 4, "fraction": 0.25, "seed": 0, "dropout": 0.0, "lr_mult": 1.0, "lr_scale": 0.1,
                  "batch_size": 64}
    old_key = hashlib.sha256(_canonical({"spec": old_fields, "context": context.as_dict()})).hexdigest()
    assert run_key(spec, context) == old_key == "f9d721b603afb4a70b39106428aa56feed8dca6818cb20dc88931bb14630513f"
    assert run_key(RunSpec(width=11, fraction=1 / 64, seed=2, dropout=0.2, lr_mult=0.5), context) == \
        "41a68ad6fdda432ad96363162887fb40885b703b70a946d667cbdbb5e14bc3ff"
    protocols = ({}, {"schedule": "cooldown"}, {"epochs": 2}, {"schedule": "cooldown", "epochs": 2})
    assert len({run_key(RunSpec(width=4, fraction=0.25, seed=0, **fields), context) for fields in protocols}) == 4


def test_an_fp32_spec_keeps_its_key_and_a_bf16_spec_gets_its_own():
    """Precision joined the spec after runs were cached: fp32 is left out of the key (so the pinned keys
    above hold) and bf16, whose numbers differ, is cached apart."""
    context = Context(dataset="fashion-mnist:abc", device_kind="cpu", code_version="1", torch_version="2.14.1",
                      settings="TrainSettings()")
    fp32 = RunSpec(width=4, fraction=0.25, seed=0, precision="fp32")
    bf16 = RunSpec(width=4, fraction=0.25, seed=0, precision="bf16")
    assert "precision" not in fp32.as_dict() and bf16.as_dict()["precision"] == "bf16"
    assert run_key(fp32, context) == "f9d721b603afb4a70b39106428aa56feed8dca6818cb20dc88931bb14630513f"
    assert run_key(bf16, context) != run_key(fp32, context)
    # How the device computes bf16 (native or rounded) keys bf16 runs only.
    native, rounded = (dataclasses.replace(context, bf16_arithmetic=a) for a in ("native", "rounded"))
    assert run_key(fp32, native) == run_key(fp32, rounded) == run_key(fp32, context)
    assert run_key(bf16, native) != run_key(bf16, rounded)


def test_a_protocol_run_round_trips(cache_dir):
    store = RunStore(cache_dir).prepare()
    run = RunResult(spec=RunSpec(width=4, fraction=0.25, seed=0, schedule="cooldown", epochs=2), params=4266,
                    flops_per_example=177184, examples=30000, val_loss=0.4, val_acc=0.85, slice_loss=0.41,
                    slice_acc=0.84)
    store.put(run, CONTEXT)
    assert store.get(run.spec, CONTEXT) == run and store.get(result().spec, CONTEXT) is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_record_is_detected_and_dropped(cache_dir, damage):
    store = RunStore(cache_dir).prepare()
    path = store.put(result(), CONTEXT)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # still valid JSON, but the numbers changed: only the checksum can tell
        record = json.loads(raw)
        record["result"]["val_loss"] = 0.1
        path.write_text(json.dumps(record))
    else:
        path.write_bytes(b"\x00\xff not json")
    with pytest.warns(CorruptCacheRecord, match="retrained"):
        assert store.get(result().spec, CONTEXT) is None
    assert not path.exists()


def test_failed_write_leaves_no_partial_record(cache_dir, monkeypatch):
    store = RunStore(cache_dir).prepare()

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.put(result(), CONTEXT)
    monkeypatch.undo()
    assert store.get(result().spec, CONTEXT) is None
    assert not list(cache_dir.rglob("*.tmp"))


def test_unwritable_cache_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheError, match="--scaling-cache-dir"):
        RunStore(blocker / "cache").prepare()


def test_lock_is_exclusive(cache_dir):
    store = RunStore(cache_dir).prepare()
    spec = result().spec
    first = store.try_lock(spec, CONTEXT)
    assert first is not None
    # A second lock object on the same file stands for another worker (flock excludes per open file).
    assert store.try_lock(spec, CONTEXT) is None
    with store.lock(spec, CONTEXT, timeout=0.05) as got:
        assert got is False
    first.release()
    with store.lock(spec, CONTEXT, timeout=0.05) as got:
        assert got is True


def test_records_and_clear(cache_dir):
    store = RunStore(cache_dir).prepare()
    for seed in range(3):
        store.put(result(seed), CONTEXT)
    assert {r.spec.seed for _, r in store.records()} == {0, 1, 2}
    assert store.info()["runs"] == 3
    assert store.clear() == 3 and store.info()["runs"] == 0
