"""Pooling the runner stats of processes that shared one grid (pytest-xdist workers)."""

from pytest_scaling.runner import RunnerStats, merge_stats
from pytest_scaling.runs import RunSpec

SPECS = [RunSpec(width=w, fraction=f, seed=0) for w in (2, 3) for f in (0.25, 0.5)]


def _worker(seen, cached=(), trained=(), waited=(), seconds=0.0) -> dict:
    stats = RunnerStats(seen=set(seen), cached=set(cached), trained=set(trained), waited=set(waited))
    stats.spent_seconds = seconds
    return stats.as_dict()


def test_each_run_counts_once_across_workers():
    """Both workers ask for all four runs; each trains two and waits for (or then finds cached) the others."""
    a = _worker(SPECS, trained=SPECS[:2], waited=SPECS[2:3], cached=SPECS[3:], seconds=10.0)
    b = _worker(SPECS, trained=SPECS[2:], cached=SPECS[:2], seconds=12.0)
    totals = merge_stats([{}, a, b])  # the controller trains nothing
    assert (totals["runs_total"], totals["runs_trained"], totals["runs_cached"]) == (4, 4, 0)
    assert totals["spent_seconds"] == 22.0  # worker time adds up: each worker spent its own


def test_one_process_keeps_its_counts():
    alone = _worker(SPECS, cached=SPECS[:1], trained=SPECS[1:])
    totals = merge_stats([alone])
    assert (totals["runs_total"], totals["runs_trained"], totals["runs_cached"]) == (4, 3, 1)
    assert merge_stats([{}])["runs_total"] == 0
