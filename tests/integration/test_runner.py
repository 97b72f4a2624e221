"""The runner against a real store and trainer (fake IDX data for speed)."""

import dataclasses

import pytest

from pytest_scaling import executors as runner_module
from pytest_scaling.trainers import CNNTrainer
from pytest_scaling.budgets import get_budget
from pytest_scaling.session import ScalingOptions, ScalingSession
from pytest_scaling.store import CorruptCacheRecord
from tests.conftest import MICRO_BUDGET


def session(fake_data_dir, cache_dir, **kw):
    kw.setdefault("executor", "local")  # in-process, so tests can wrap CNNTrainer.train
    return ScalingSession(ScalingOptions(budget="micro", budget_lines=(MICRO_BUDGET,), dataset="mnist",
                                         data_dir=str(fake_data_dir), device="cpu", cache_dir=str(cache_dir), **kw))


def test_interrupted_grid_keeps_finished_runs_and_resumes(fake_data_dir, cache_dir, monkeypatch):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()
    real_train = CNNTrainer.train
    calls = []

    def interrupted_after_two_groups(self, group, *args, **kwargs):
        calls.append(len(group))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_train(self, group, *args, **kwargs)

    monkeypatch.setattr(CNNTrainer, "train", interrupted_after_two_groups)
    first = session(fake_data_dir, cache_dir)
    with pytest.raises(KeyboardInterrupt):
        first.runs(specs)
    kept = calls[0] + calls[1]
    monkeypatch.setattr(CNNTrainer, "train", real_train)

    second = session(fake_data_dir, cache_dir)
    table = second.runs(specs)
    assert len(table) == len(specs)
    assert second.stats()["runs_cached"] == kept and second.stats()["runs_trained"] == len(specs) - kept


def test_corrupt_record_is_retrained(fake_data_dir, cache_dir):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()[:4]
    session(fake_data_dir, cache_dir).runs(specs)
    victim = next((cache_dir / "runs").glob("*/*.json"))
    victim.write_bytes(victim.read_bytes()[:-20])
    again = session(fake_data_dir, cache_dir)
    with pytest.warns(CorruptCacheRecord):
        assert len(again.runs(specs)) == 4
    assert again.stats()["runs_trained"] == 1 and again.stats()["runs_cached"] == 3


def test_no_train_returns_the_cached_part(fake_data_dir, cache_dir):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()
    session(fake_data_dir, cache_dir).runs(specs[:5])
    lazy = session(fake_data_dir, cache_dir, no_train=True)
    assert len(lazy.runs(specs)) == 5
    assert lazy.stats()["runs_missing"] == len(specs) - 5 and lazy.stats()["runs_trained"] == 0


def test_retrain_ignores_the_cache_once(fake_data_dir, cache_dir):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()[:4]
    session(fake_data_dir, cache_dir).runs(specs)
    fresh = session(fake_data_dir, cache_dir, retrain=True)
    fresh.runs(specs)
    fresh.runs(specs)  # a second request in the same session reuses what it just trained
    assert fresh.stats()["runs_trained"] == 4


@pytest.mark.parametrize("group_size", [1, 2])
def test_group_size_sets_chains_per_model(fake_data_dir, cache_dir, monkeypatch, group_size):
    """Each call trains `group_size` chains (seed × dropout) of one width, each over both its fractions."""
    calls = []
    real_train = CNNTrainer.train
    monkeypatch.setattr(CNNTrainer, "train", lambda self, g, *a, **k: calls.append(g) or real_train(self, g, *a, **k))
    specs = [s for s in get_budget("micro", [MICRO_BUDGET]).main_specs() if s.width == 2]  # 4 chains × 2 fractions
    session(fake_data_dir, cache_dir, group_size=group_size).runs(specs)
    assert [len({s.chain_key for s in g}) for g in calls] == [group_size] * (4 // group_size)
    assert all(len(g) == 2 * group_size for g in calls)


def test_imported_csv_stands_in_for_training(fake_data_dir, cache_dir, tmp_path):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()
    table = session(fake_data_dir, cache_dir).runs(specs)
    csv_path = tmp_path / "runs.csv"
    csv_path.write_text(table.to_csv())
    imported = ScalingSession(ScalingOptions(budget="micro", budget_lines=(MICRO_BUDGET,), import_csv=str(csv_path)))
    again = imported.main_grid()
    assert [r.val_loss for r in again] == pytest.approx([r.val_loss for r in table])
    assert [len(r.checkpoints) for r in again] == [len(r.checkpoints) for r in table]


def test_process_executor_matches_in_process_training(fake_data_dir, tmp_path):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()[:8]
    local = session(fake_data_dir, tmp_path / "a").runs(specs)
    pooled_session = session(fake_data_dir, tmp_path / "b", executor="processes", workers=2)
    pooled = pooled_session.runs(specs)
    assert pooled_session.stats()["runs_trained"] == 8
    # Same groups, same seeds: single-threaded workers agree with the in-process run up to float error.
    assert [r.val_loss for r in pooled] == pytest.approx([r.val_loss for r in local], rel=1e-3)


def test_auto_executor_uses_processes_on_a_multicore_cpu_and_this_process_elsewhere(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(runner_module.os, "cpu_count", lambda: 4)
    assert isinstance(runner_module.make_executor("auto", device_type="cpu"), runner_module.ProcessExecutor)
    assert isinstance(runner_module.make_executor("auto", device_type="cuda"), runner_module.LocalExecutor)
    monkeypatch.setattr(runner_module.os, "cpu_count", lambda: 1)
    assert isinstance(runner_module.make_executor("auto", device_type="cpu"), runner_module.LocalExecutor)


def test_xdist_workers_split_the_cores_between_them(monkeypatch):
    monkeypatch.setattr(runner_module.os, "cpu_count", lambda: 8)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    executor = runner_module.make_executor("auto", device_type="cpu")
    assert isinstance(executor, runner_module.LocalExecutor) and executor.threads == 4


def test_process_pool_is_kept_between_grids_and_closed_with_the_session(fake_data_dir, tmp_path):
    specs = get_budget("micro", [MICRO_BUDGET]).main_specs()
    pooled = session(fake_data_dir, tmp_path, executor="processes", workers=2)
    pooled.runs(specs[:2])
    pool = pooled.runner.executor._pool
    pooled.runs(specs[2:4])
    assert pooled.runner.executor._pool is pool and pooled.stats()["runs_trained"] == 4
    pooled.close()
    assert pooled.runner.executor._pool is None


def test_imported_runs_keep_their_precision_under_auto(fake_data_dir, cache_dir, tmp_path):
    """A runs.csv trained in bf16 elsewhere reads as bf16 here under the default ``auto``, whatever this
    machine's own choice would be; an explicit precision still selects."""
    specs = [dataclasses.replace(s, precision="bf16") for s in get_budget("micro", [MICRO_BUDGET]).main_specs()
             if s.width == 2]
    table = session(fake_data_dir, cache_dir).runs(specs)
    csv_path = tmp_path / "runs.csv"
    csv_path.write_text(table.to_csv())
    options = dict(budget="micro", budget_lines=(MICRO_BUDGET,), import_csv=str(csv_path))
    imported = ScalingSession(ScalingOptions(**options))
    assert imported.precision == "bf16" and len(imported.main_grid(widths=2)) == len(table)
    assert len(ScalingSession(ScalingOptions(**options, precision="fp32")).main_grid(widths=2)) == 0


def test_imported_runs_in_both_precisions_read_in_their_lr_sweeps(fake_data_dir, cache_dir, tmp_path):
    """A runs.csv of a budget that trained the main grid in both precisions (on a GPU: bf16 the session's,
    fp32 the twins) reads, under ``auto``, in the precision its LR sweep was trained in."""
    budget = get_budget("micro", [MICRO_BUDGET])
    main = [s for s in budget.main_specs() if s.width == 2 and s.dropout == 0]
    sweep = [dataclasses.replace(s, precision="bf16") for s in budget.sweep_specs() if s.width == 2]
    specs = main + [dataclasses.replace(s, precision="bf16") for s in main] + sweep
    table = session(fake_data_dir, cache_dir).runs(specs)
    csv_path = tmp_path / "runs.csv"
    csv_path.write_text(table.to_csv())
    imported = ScalingSession(ScalingOptions(budget="micro", budget_lines=(MICRO_BUDGET,), import_csv=str(csv_path)))
    assert imported.precision == "bf16"


def test_a_precision_the_budget_does_not_train_is_a_clear_error(fake_data_dir, cache_dir):
    from pytest_scaling.errors import ScalingError

    fp32 = session(fake_data_dir, cache_dir, precision="fp32", no_train=True)
    with pytest.raises(ScalingError, match=r"trains no bf16 runs.*--scaling-budget=precision"):
        fp32.main_grid(precision="bf16")
    with pytest.raises(ScalingError, match="unknown precision"):
        fp32.main_grid(precision="fp16")
    auto = session(fake_data_dir, cache_dir, no_train=True)  # the default precision, auto
    assert len(auto.main_grid(precision="auto")) == 0  # auto resolves to the session's own: allowed (none cached)
