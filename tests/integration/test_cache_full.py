"""A full cache disk: training stops at the first record it cannot write, with one error that says
where, how much room is left and needed, and what was kept; the next session resumes from it."""

import re

import pytest

from pytest_scaling import cli
from pytest_scaling.budgets import get_budget
from pytest_scaling.errors import CacheFull
from pytest_scaling.trainers import CNNTrainer
from tests.conftest import MICRO_BUDGET
from tests.full_disk import fill_after, temp_files
from tests.integration.test_runner import session


def _records(cache_dir) -> list:
    return list((cache_dir / "runs").glob("*/*.json"))


def test_a_full_disk_stops_training_keeps_what_was_written_and_resumes(fake_data_dir, cache_dir, monkeypatch):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()
    groups = []
    real_train = CNNTrainer.train
    monkeypatch.setattr(CNNTrainer, "train",
                        lambda self, group, *a, **k: groups.append(group) or real_train(self, group, *a, **k))
    disk = fill_after(monkeypatch, room=3)
    full = session(fake_data_dir, cache_dir)
    with pytest.raises(CacheFull) as caught:
        full.runs(specs)
    message = str(caught.value)
    assert len(_records(cache_dir)) == 3 == caught.value.cached == caught.value.trained
    assert not temp_files(cache_dir)  # the record that did not fit left nothing behind
    assert message.startswith(f"the run cache at {str(cache_dir)!r} is full (no space left on device): ")
    assert re.search(r"[\d.]+ (bytes|KiB|MiB|GiB) free there, about [\d.]+ (KiB|MiB) needed for the "
                     rf"{len(specs) - 3} runs left to train \([\d.]+ KiB a run\)", message), message
    assert "it keeps its 3 runs (3 trained this session)" in message and "--scaling-cache-dir=PATH" in message
    # Training stopped in the group whose record did not fit, at the first refused write.
    assert sum(map(len, groups[:-1])) <= 3 < sum(map(len, groups)) and disk.refused == 1
    trained_groups = len(groups)

    with pytest.raises(CacheFull, match="is full"):  # and stays stopped for the session: no more training
        full.lr_sweep()
    assert len(groups) == trained_groups and full.stats()["runs_trained"] == 3

    monkeypatch.undo()  # space again: a new session trains only the rest
    resumed = session(fake_data_dir, cache_dir)
    assert len(resumed.runs(specs)) == len(specs)
    assert resumed.stats()["runs_cached"] == 3 and resumed.stats()["runs_trained"] == len(specs) - 3


def test_the_cli_says_the_disk_is_full_and_exits_non_zero(fake_data_dir, cache_dir, monkeypatch, capsys):
    fill_after(monkeypatch, room=2)
    # fp32: under auto a CPU with bf16 hardware (avx512_bf16) first writes its precision probe to the cache,
    # which would take one of the two records' room
    code = cli.main(["train", "--budget", "micro", "--define", MICRO_BUDGET, "--dataset", "mnist",
                     "--data-dir", str(fake_data_dir), "--cache-dir", str(cache_dir), "--device", "cpu",
                     "--precision", "fp32", "--executor", "local", "--grid", "main"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"pytest-scaling: error: the run cache at {str(cache_dir)!r} is full" in err
    assert "it keeps its 2 runs (2 trained this session)" in err and len(_records(cache_dir)) == 2
    assert "Traceback" not in err and "Errno" not in err
    assert not temp_files(cache_dir)
