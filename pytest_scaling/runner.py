"""Expand a grid, skip what is cached, train the rest in groups, write every run as it finishes.

Concurrency: each run has a file lock. A process trains the groups whose locks it
gets and waits for the rest afterwards, so pytest-xdist workers (or two sessions)
split a grid between them and never train a run twice. Ctrl-C loses only the
group in flight: every finished group is already in the cache.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pytest_scaling.data import Dataset
from pytest_scaling.executors import LocalExecutor, TrainJob
from pytest_scaling.models import forward_flops_per_example
from pytest_scaling.runs import RunResult, RunSpec, RunTable
from pytest_scaling.store import Context, RunStore
from pytest_scaling.train import TrainSettings, train_group


def default_group_size(device: torch.device, width: int) -> int:
    """How many chains of one width to train as one grouped model.

    On a GPU a single tiny CNN leaves the device idle, so group wide. On CPU, don't:
    the grid runs in one single-threaded process per core, and there the whole
    `small` grid took 9.6 min with every chain alone against 10.9 min with groups of
    4 up to width 8 (`benchmarks/grid_speed.py`); grouping only amortises per-op
    overhead that a single thread does not have.
    """
    if device.type == "cpu":
        return 1
    return 32 if width <= 32 else 16


@dataclass
class RunnerStats:
    cached: int = 0
    trained: int = 0
    waited: int = 0
    missing: int = 0
    diverged: int = 0
    train_seconds: float = 0.0
    trained_flops: float = 0.0  # the runs' compute C, summed
    spent_flops: float = 0.0  # training compute actually spent: shorter runs of a chain come free
    seen: set = field(default_factory=set)

    def as_dict(self) -> dict:
        return {"runs_cached": self.cached, "runs_trained": self.trained, "runs_from_other_workers": self.waited,
                "runs_missing": self.missing,
                "runs_diverged": self.diverged, "train_seconds": self.train_seconds, "trained_flops": self.trained_flops,
                "spent_flops": self.spent_flops}


class Runner:
    def __init__(self, store: RunStore, context: Context, load_data: Callable[[], Dataset], *,
                 settings: TrainSettings = TrainSettings(), device: torch.device = torch.device("cpu"),
                 group_size: int | None = None, no_train: bool = False, retrain: bool = False,
                 console: Console | None = None, executor=None, job: TrainJob | None = None):
        self.store, self.context, self._load_data = store, context, load_data
        self.settings, self.device = settings, device
        self.group_size, self.no_train, self.retrain = group_size, no_train, retrain
        self.console = console
        self.executor = executor or LocalExecutor()
        self.job = job
        self.stats = RunnerStats()
        self._data: Dataset | None = None
        self._fresh: dict[RunSpec, RunResult] = {}  # trained this session (so --scaling-retrain retrains once)

    @property
    def data(self) -> Dataset:
        if self._data is None:
            self._data = self._load_data()
        return self._data

    def _cached(self, spec: RunSpec) -> RunResult | None:
        if spec in self._fresh:
            return self._fresh[spec]
        if self.retrain:
            return None
        return self.store.get(spec, self.context)

    def _groups(self, specs: list[RunSpec]) -> list[list[RunSpec]]:
        """Specs → chains (one trajectory per seed, dropout and LR) → groups of K chains.

        Chains are grouped with others of the same width that end at the same
        fraction, so that no member trains past its own last run.
        """
        chains: dict[tuple, list[RunSpec]] = defaultdict(list)
        for spec in specs:
            chains[spec.chain_key].append(spec)
        by_end: dict[tuple, list[list[RunSpec]]] = defaultdict(list)
        for chain in chains.values():
            by_end[(*chain[0].group_key, max(s.fraction for s in chain))].append(chain)
        groups = []
        # Largest compute first: the ETA settles early and stragglers are small.
        for key in sorted(by_end, key=lambda key: -forward_flops_per_example(key[0]) * key[-1]):
            members = by_end[key]
            k = max(1, self.group_size or default_group_size(self.device, key[0]))
            groups.extend([spec for chain in members[i:i + k] for spec in chain] for i in range(0, len(members), k))
        return groups

    def ensure(self, specs: list[RunSpec]) -> RunTable:
        """Every spec's result: from the cache, trained now, or (``no_train``) left out."""
        results: dict[RunSpec, RunResult] = {}
        pending = []
        for spec in dict.fromkeys(specs):
            cached = self._cached(spec)
            if cached is not None:
                results[spec] = cached
                if spec not in self.stats.seen and spec not in self._fresh:
                    self.stats.cached += 1
            else:
                pending.append(spec)
            self.stats.seen.add(spec)
        if pending and self.no_train:
            self.stats.missing += len(pending)
            return RunTable(results.values())
        if pending:
            results.update(self._train(pending))
        return RunTable(results.values())

    def _train(self, pending: list[RunSpec]) -> dict[RunSpec, RunResult]:
        groups = self._groups(pending)
        total_flops = sum(3 * forward_flops_per_example(s.width) * self.data.subset_size(s.fraction, s.batch_size)
                          for s in pending)
        done: dict[RunSpec, RunResult] = {}
        deferred: list[RunSpec] = []
        held: dict[RunSpec, object] = {}
        with self._progress(len(pending), total_flops) as advance:

            def claimed() -> Iterator[list[RunSpec]]:
                """Lock each group just before the executor takes it, skipping runs others own or finished."""
                for group in groups:
                    mine = []
                    for spec in group:
                        lock = self.store.try_lock(spec, self.context)
                        if lock is None:
                            deferred.append(spec)  # another process is training it
                        elif (cached := self._cached(spec)) is not None:
                            lock.release()  # finished elsewhere while we were busy
                            done[spec] = cached
                            advance(spec, cached)
                        else:
                            held[spec] = lock
                            mine.append(spec)
                    if mine:
                        yield mine

            try:
                for results in self.executor.map(claimed(), self.job, lambda: self.data):
                    self.stats.spent_flops += _spent_flops(results)
                    for result in results:
                        self._record(result)
                        done[result.spec] = result
                        held.pop(result.spec).release()
                        advance(result.spec, result)
            finally:
                for lock in held.values():
                    lock.release()
            for spec in deferred:  # wait for the other process; train it ourselves if it died
                with self.store.lock(spec, self.context):
                    result = self.store.get(spec, self.context)
                    if result is None:
                        result = train_group([spec], self.data, self.settings)[0]
                        self._record(result)
                        self.stats.spent_flops += _spent_flops([result])
                    else:
                        self.stats.waited += 1
                done[spec] = result
                advance(spec, result)
        return done

    def _record(self, result: RunResult) -> None:
        self.store.put(result, self.context)
        self._fresh[result.spec] = result
        self.stats.trained += 1
        self.stats.diverged += int(result.diverged)
        self.stats.train_seconds += result.train_seconds
        self.stats.trained_flops += result.flops

    @contextmanager
    def _progress(self, n_runs: int, total_flops: float) -> Iterator[Callable[[RunSpec, RunResult], None]]:
        """Yield ``advance(spec, result)``; a rich bar (weighted by compute) only on a real terminal."""
        count = 0
        if self.console is None or not self.console.is_terminal:
            def advance(spec: RunSpec, result: RunResult) -> None:
                pass
            yield advance
            return
        progress = Progress(
            TextColumn("[bold]pytest-scaling[/] training"), BarColumn(),
            TextColumn("{task.fields[runs]}/{task.fields[n]} runs"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=self.console, transient=True)
        task = progress.add_task("train", total=total_flops, runs=0, n=n_runs)

        def advance(spec: RunSpec, result: RunResult) -> None:
            nonlocal count
            count += 1
            progress.update(task, advance=result.flops, runs=count)

        with progress:
            yield advance


def _spent_flops(results: list[RunResult]) -> float:
    """Training compute of one group: every chain in it trains as far as the group's longest run."""
    if not results:
        return 0.0
    longest = max(results, key=lambda r: r.examples)
    return longest.flops * len({r.spec.chain_key for r in results})
