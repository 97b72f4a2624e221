"""Expand a grid, skip what is cached, train the rest in groups, write every run as it finishes.

Concurrency: each run has a file lock. A process trains the groups whose locks it
gets and waits for the rest afterwards, so pytest-xdist workers (or two sessions)
split a grid between them and never train a run twice. Ctrl-C loses only the
group in flight: every finished group is already in the cache. So does a full disk: training
stops at the first record that cannot be written (``CacheFull``), and the session trains no more.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pytest_scaling.data import Dataset
from pytest_scaling.device import default_group_size  # noqa: F401  (re-exported: benchmarks import it here)
from pytest_scaling.errors import CacheFull
from pytest_scaling.executors import LocalExecutor, TrainJob
from pytest_scaling.runs import RunResult, RunSpec, RunTable
from pytest_scaling.store import Context, RunStore
from pytest_scaling.train import TrainSettings, cooldown_start
from pytest_scaling import trainers


def run_id(spec: RunSpec) -> str:
    """A short, stable text id of a spec, so processes can pool the runs they saw (xdist workers)."""
    return ",".join(repr(value) for value in dataclasses.astuple(spec))


@dataclass
class RunnerStats:
    """What one process did with the runs it was asked for. Runs are kept as sets, so a run asked
    for twice counts once, and processes sharing a grid can be pooled by :func:`merge_stats`."""

    seen: set = field(default_factory=set)
    cached: set = field(default_factory=set)  # found in the cache, not trained by this process
    trained: set = field(default_factory=set)
    waited: set = field(default_factory=set)  # trained meanwhile by another process
    missing: set = field(default_factory=set)  # not cached, and training was off
    diverged: set = field(default_factory=set)
    train_seconds: float = 0.0  # the trained runs' own times, summed: a chain's start counts in each of its runs
    spent_seconds: float = 0.0  # time spent training, once per chain (worker time: N workers spend ~N× the wall)
    trained_flops: float = 0.0  # the runs' compute C, summed
    spent_flops: float = 0.0  # training compute actually spent: shorter runs of a chain come free

    def as_dict(self) -> dict:
        return {"runs_cached": len(self.cached), "runs_trained": len(self.trained),
                "runs_from_other_workers": len(self.waited), "runs_missing": len(self.missing),
                "runs_diverged": len(self.diverged), "train_seconds": self.train_seconds,
                "spent_seconds": self.spent_seconds, "trained_flops": self.trained_flops,
                "spent_flops": self.spent_flops,
                "run_ids": {name: sorted(run_id(s) for s in getattr(self, name))
                            for name in ("seen", "cached", "trained", "missing", "diverged")}}


def merge_stats(parts: list[dict]) -> dict:
    """Pool the ``as_dict()`` of processes that shared one grid, counting each run once.

    Under pytest-xdist every worker asks for the whole grid, trains part of it and waits
    for (or finds cached) the rest, so summing their counts counts a run once per worker.
    A run trained by any of them is trained; the others it saw are cached or missing.
    Times and compute are summed: each process spent its own.
    """
    ids = {name: set() for name in ("seen", "cached", "trained", "missing", "diverged")}
    for part in parts:
        for name, values in (part.get("run_ids") or {}).items():
            ids.setdefault(name, set()).update(values)
    trained = ids["trained"]
    cached = ids["cached"] - trained
    merged = {"runs_total": len(ids["seen"]), "runs_trained": len(trained), "runs_cached": len(cached),
              "runs_missing": len(ids["missing"] - trained - cached), "runs_diverged": len(ids["diverged"])}
    for key in ("train_seconds", "spent_seconds", "trained_flops", "spent_flops"):
        merged[key] = sum(part.get(key, 0.0) for part in parts)
    return merged


class Runner:
    def __init__(self, store: RunStore, context: Context, load_data: Callable[[], Dataset], *,
                 settings: TrainSettings | None = None, device: torch.device | None = None,
                 group_size: int | None = None, no_train: bool = False, retrain: bool = False,
                 console: Console | None = None, executor=None, job: TrainJob | None = None,
                 progress_line: Callable[[str], None] | None = None):
        self.store, self.context, self._load_data = store, context, load_data
        self.settings, self.device = settings or TrainSettings(), device or torch.device("cpu")
        self.group_size, self.no_train, self.retrain = group_size, no_train, retrain
        self.console = console
        self.progress_line = progress_line  # where progress goes as lines when there is no live terminal
        self.executor = executor or LocalExecutor()
        self.job = job
        #: Who trains (and counts FLOPs): the job's trainer, which the session chose; workers get the same one.
        self.trainer = job.trainer if job is not None else trainers.CNNTrainer()
        self.stats = RunnerStats()
        self._data: Dataset | None = None
        self._fresh: dict[RunSpec, RunResult] = {}  # trained this session (so --scaling-retrain retrains once)
        self.full: CacheFull | None = None  # the cache's disk filled up: this session trains nothing more

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
        for chain in chains.values():  # a trunk ends at its largest fraction; epoch lines and tails branch off it
            by_end[(*chain[0].group_key, max(s.fraction for s in chain))].append(chain)
        groups = []
        # Largest compute first: the ETA settles early and stragglers are small.
        for key in sorted(by_end, key=lambda key: -self.trainer.flops_per_example(key[0]) * key[-1]):
            members = by_end[key]
            k = max(1, self.group_size or trainers.group_size(self.trainer, self.device, key[0]))
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
                    self.stats.cached.add(spec)
            else:
                pending.append(spec)
            self.stats.seen.add(spec)
        if pending and self.no_train:
            self.stats.missing.update(pending)
            return RunTable(results.values())
        if pending:
            if self.full is not None:
                raise self.full
            try:
                results.update(self._train(pending))
            except CacheFull as error:
                left = sum(spec not in self._fresh for spec in pending)
                self.full = error.with_progress(left, self.store.info()["runs"], len(self.stats.trained))
                raise self.full from error
        return RunTable(results.values())

    def _train(self, pending: list[RunSpec]) -> dict[RunSpec, RunResult]:
        groups = self._groups(pending)
        total_flops = sum(3 * self.trainer.flops_per_example(s.width)
                          * self.data.subset_size(s.fraction, s.batch_size) * s.epochs for s in pending)
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

            batches = self.executor.map(claimed(), self.job, lambda: self.data)
            try:
                for results in batches:
                    self._spent(results)
                    for result in results:
                        self._record(result)
                        done[result.spec] = result
                        held.pop(result.spec).release()
                        advance(result.spec, result)
            finally:
                batches.close()  # on an error (a full disk, Ctrl-C) the executor cancels its groups now
                for lock in held.values():
                    lock.release()
            for spec in deferred:  # wait for the other process; train it ourselves if it died
                with self.store.lock(spec, self.context):
                    result = self.store.get(spec, self.context)
                    if result is None:
                        result = self.trainer.train([spec], self.data, self.settings)[0]
                        self._record(result)
                        self._spent([result])
                    else:
                        self.stats.waited.add(spec)
                done[spec] = result
                advance(spec, result)
        return done

    def _spent(self, results: list[RunResult]) -> None:
        flops, seconds = _group_cost(results)
        self.stats.spent_flops += flops
        self.stats.spent_seconds += seconds

    def _record(self, result: RunResult) -> None:
        self.store.put(result, self.context)
        self._fresh[result.spec] = result
        self.stats.trained.add(result.spec)
        if result.diverged:
            self.stats.diverged.add(result.spec)
        self.stats.train_seconds += result.train_seconds
        self.stats.trained_flops += result.flops

    @contextmanager
    def _progress(self, n_runs: int, total_flops: float) -> Iterator[Callable[[RunSpec, RunResult], None]]:
        """Yield ``advance(spec, result)``: a live bar (weighted by compute) on a real terminal; else,
        given ``progress_line``, a line as training starts and at every tenth of the runs, so a CI
        log shows the work moving; else nothing."""
        if self.console is not None and self.console.is_terminal:
            with self._progress_bar(n_runs, total_flops) as advance:
                yield advance
            return
        if self.progress_line is None:
            yield lambda spec, result: None
            return
        from pytest_scaling.report.format import fmt_duration

        def done(count: int, flops: float) -> float:
            """The share of the work done, half by runs and half by compute: on `tiny` (2-core CPU) a
            chain's fixed cost (setup, evaluations) was 2.4 s against 0.2 s per GFLOP, about half
            of the time, and an ETA by compute alone came out ~3× short (the largest runs go first)."""
            by_compute = flops / total_flops if total_flops > 0 else count / n_runs
            return 0.5 * count / n_runs + 0.5 * by_compute

        started, count, flops, shown = time.monotonic(), 0, 0.0, 0
        first: tuple[float, float] | None = None  # (time, share done) when the first results came in
        self.progress_line(f"pytest-scaling: training {n_runs} runs")

        def advance(spec: RunSpec, result: RunResult) -> None:
            nonlocal count, flops, shown, first
            now = time.monotonic()
            count, flops = count + 1, flops + result.flops
            if first is None or now - first[0] < 1e-3:  # one group's results arrive together
                first = (now, done(count, flops))
            tenth = 10 * count // n_runs
            if tenth == shown:
                return
            shown = tenth
            line = (f"pytest-scaling: {count}/{n_runs} runs ({100 * count // n_runs}%) · "
                    f"{fmt_duration(now - started)} elapsed")
            # The rate since the first results: starting workers and loading data came before them.
            share = done(count, flops)
            if count < n_runs and share > first[1] and now > first[0]:
                line += f" · ~{fmt_duration((now - first[0]) * (1 - share) / (share - first[1]))} left"
            self.progress_line(line)

        yield advance

    @contextmanager
    def _progress_bar(self, n_runs: int, total_flops: float) -> Iterator[Callable[[RunSpec, RunResult], None]]:
        count = 0
        progress = Progress(
            TextColumn("[bold]pytest-scaling[/] training"), BarColumn(),
            TextColumn("{task.fields[runs]}/{task.fields[n]} runs"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=self.console, transient=True)
        task = progress.add_task("train", total=total_flops, runs=0, n=n_runs)

        def advance(spec: RunSpec, result: RunResult) -> None:
            nonlocal count
            count += 1
            progress.update(task, advance=result.flops, runs=count)

        # A console may reserve a region for the bar (the plugin's gives it a line of its own in pytest's output).
        region = getattr(self.console, "live_region", nullcontext)
        with region(), progress:
            yield advance


def _group_cost(results: list[RunResult]) -> tuple[float, float]:
    """Training compute and time of one group. Every chain in it trains its one-epoch trunk as far as
    the group's longest one-epoch run; on top, each fraction's epoch line runs its extra epochs once and
    each cooldown run its own tail (``train.cooldown_start``). Each run's ``train_seconds`` is its share
    of the group's time."""
    if not results:
        return 0.0, 0.0
    chains = len({r.spec.chain_key for r in results})
    per_example = 3.0 * results[0].flops_per_example
    trunk = max((r.examples / r.spec.epochs for r in results), default=0.0) * chains
    lines: dict[tuple, float] = {}
    tails = 0.0
    for r in results:
        unique = r.examples / r.spec.epochs
        if r.spec.epochs > 1:
            key = (r.spec.chain_key, r.spec.fraction)
            lines[key] = max(lines.get(key, 0.0), unique * (r.spec.epochs - 1))
        if r.spec.schedule == "cooldown":
            steps = r.examples // r.spec.batch_size
            tails += (steps - cooldown_start(steps)) * r.spec.batch_size
    spent = per_example * (trunk + sum(lines.values()) + tails)
    # Time at the rate of the group's longest run (its own path: trunk, then its line or tail), so that tails
    # and extra epochs count too: a run's train_seconds covers only its own path.
    longest = max(results, key=lambda r: r.flops)
    rate = longest.train_seconds / longest.flops if longest.flops > 0 else 0.0
    return spent, rate * spent
