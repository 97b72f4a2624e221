"""Training protocols through the real runner and store: branches and continuations land in their
trunk's group, and adding them to a cached constant grid retrains nothing that is cached."""

import dataclasses

from pytest_scaling.budgets import get_budget
from pytest_scaling.session import ScalingOptions, ScalingSession
from pytest_scaling.train import train_unshared
from pytest_scaling.trainers import CNNTrainer

PROTO_BUDGET = ("proto: parent=tiny widths=2,3 fractions=1/4,1/2,1 seeds=0,1 dropouts=0 "
                "schedules=constant,cooldown epochs=1,2 epoch_widths=3 epoch_fractions=1/2")


def session(fake_data_dir, cache_dir):
    return ScalingSession(ScalingOptions(budget="proto", budget_lines=(PROTO_BUDGET,), dataset="mnist",
                                         data_dir=str(fake_data_dir), device="cpu", cache_dir=str(cache_dir),
                                         executor="local"))


def test_protocols_through_the_runner(fake_data_dir, cache_dir, monkeypatch):
    specs = get_budget("proto", [PROTO_BUDGET]).main_specs()
    constant = [s for s in specs if s.schedule == "constant" and s.epochs == 1]
    session(fake_data_dir, cache_dir).runs(constant)

    groups = []
    real_train = CNNTrainer.train

    def recording(self, group, *args, **kwargs):
        groups.append(list(group))
        return real_train(self, group, *args, **kwargs)

    monkeypatch.setattr(CNNTrainer, "train", recording)
    again = session(fake_data_dir, cache_dir)
    table = again.runs(specs)
    assert len(table) == len(specs) and again.stats()["runs_cached"] == len(constant)
    assert sorted(s for g in groups for s in g) == sorted(set(specs) - set(constant))
    # One group per chain (CPU groups one chain): every branch trained with its trunk's other runs.
    assert all(len({s.chain_key for s in g}) == 1 for g in groups)
    assert len(groups) == len({s.chain_key for s in specs})
    assert len(table.where(schedule="cooldown")) == len(constant) and len(table.where(epochs=2)) == 2
    data = again.runner.data
    for run in (r for r in table if (r.spec.schedule == "cooldown" and r.spec.width == 3) or r.spec.epochs == 2):
        (alone,) = train_unshared([run.spec], data)
        assert dataclasses.replace(run, train_seconds=0) == dataclasses.replace(alone, train_seconds=0)
