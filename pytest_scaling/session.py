"""One scaling session: the resolved options, dataset, device, cache, trainer and runner, built lazily.

The plugin and the CLI both build one of these; nothing heavy happens until a
grid is first asked for, so installing the plugin costs unrelated projects nothing.
The session is the one place that decides who trains (``trainer``: the built-in CNN engine, or the
one a ``pytest_scaling_make_trainer`` hook made) and on what (``source``: a hook's data, or an
MNIST-family dataset); the runner, every executor and every cache key take them from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_scaling.budgets import Budget, get_budget
from pytest_scaling.runs import RunSpec, RunTable, precision_option


@dataclass(frozen=True)
class ScalingOptions:
    budget: str = "small"
    budget_lines: tuple[str, ...] = ()
    dataset: str = "auto"
    data_dir: str | None = None
    device: str = "auto"
    cache_dir: str | None = None
    no_train: bool = False
    retrain: bool = False
    import_csv: str | None = None
    #: How an imported file's columns map onto a run's fields (``N=params D=tokens loss=val_loss``); None:
    #: the file is this engine's own CSV export.
    import_columns: str | None = None
    group_size: int | None = None  # None: chosen per device and width; 1: batching off
    executor: str = "auto"  # auto | local | processes | ray
    workers: int | None = None  # processes executor: how many (default: CPU count)
    ray_address: str | None = None
    #: Forward-pass arithmetic: auto, fp32 or bf16. auto (the default) is fp32 where the device has no bf16
    #: hardware (rounded bf16 is slower than fp32) and, where it has, bf16 only if a short probe cached in
    #: the run cache measures it faster (auto_precision.choose_precision). On `precision`,
    #: claims/test_precision.py confirmed that bf16 leaves the frontier's level, γ and the tilt of loss
    #: against compute within tolerance; the frontier slope's own Δ stayed inconclusive (README, "Precision").
    precision: str = "auto"


@dataclass
class ScalingSession:
    options: ScalingOptions
    #: Who trains the runs (``trainers.Trainer``); None: the built-in CNN engine (``trainers.CNNTrainer``).
    trainer: object = None
    #: ``name → data source or None``: the ``pytest_scaling_resolve_dataset`` hook, where a plugin implements it.
    dataset_hook: Callable[[str], object] | None = None
    _budget: Budget = field(init=False, repr=False)
    _precision: str | None = field(default=None, init=False, repr=False)
    _precision_reason: str = field(default="", init=False, repr=False)  # why auto chose it, for the header
    _runner: object = field(default=None, init=False, repr=False)
    _source: object = field(default=None, init=False, repr=False)
    _device: object = field(default=None, init=False, repr=False)
    _imported: RunTable | None = field(default=None, init=False, repr=False)
    _sweep: object = field(default=None, init=False, repr=False)

    def __post_init__(self):
        from pytest_scaling.errors import ScalingError

        from pytest_scaling.trainers import CNNTrainer, check_trainer

        self._budget = get_budget(self.options.budget, list(self.options.budget_lines))
        try:
            precision_option(self.options.precision)
        except ValueError as error:
            raise ScalingError(str(error)) from None
        self.trainer = CNNTrainer() if self.trainer is None else check_trainer(self.trainer)

    @property
    def budget(self) -> Budget:
        """The budget, its runs in this session's precision. A budget line that sets ``precision=bf16``
        keeps it (that budget is a grid of bf16 runs); an fp32 budget takes the session's resolved one.
        Before the device resolves (it raises in ``prepare``), the budget as defined: same grid."""
        if self._budget.precision != "fp32":
            return self._budget
        from pytest_scaling.errors import ScalingError

        try:
            precision = self.precision
        except ScalingError:
            return self._budget
        return self._budget if precision == "fp32" else dataclasses.replace(self._budget, precision=precision)

    # --- resolution (each raises a ScalingError subclass with advice) -------------------------
    @property
    def store(self):
        from pytest_scaling.store import RunStore

        return RunStore(self.options.cache_dir)

    @property
    def device(self):
        if self._device is None:
            from pytest_scaling.device import resolve_device

            self._device = resolve_device(self.options.device)
        return self._device

    @property
    def source(self):
        if self._source is None:
            from pytest_scaling.data import DATASET_CHOICES, check_source, resolve_dataset
            from pytest_scaling.errors import DatasetNotFound

            name = self.options.dataset or "auto"
            supplied = self.dataset_hook(name) if self.dataset_hook is not None else None
            if supplied is not None:
                self._source = check_source(supplied, name)
            elif self.dataset_hook is not None and name.lower() not in DATASET_CHOICES:
                raise DatasetNotFound(f"no pytest_scaling_resolve_dataset hook supplies dataset {name!r}, and it is "
                                      f"not built in; choose one of: {', '.join(DATASET_CHOICES)}, or a name a "
                                      f"hook supplies")
            else:
                self._source = resolve_dataset(name, self.options.data_dir,
                                               download_root=self.store.directory / "datasets")
        return self._source

    @property
    def runner(self):
        if self._runner is None:
            from pytest_scaling.executors import LocalExecutor, TrainJob, make_executor
            from pytest_scaling.runner import Runner
            from pytest_scaling.train import TrainSettings
            from pytest_scaling.trainers import check_picklable, is_builtin

            settings = TrainSettings()
            store = self.store.prepare()
            context = self.context(settings)
            source, device = self.source, self.device
            executor = make_executor(self.options.executor, device_type=device.type, workers=self.options.workers,
                                     ray_address=self.options.ray_address)
            if not (isinstance(executor, LocalExecutor) or is_builtin(self.trainer)):
                check_picklable(self.trainer)  # its workers unpickle it from the job
            self._runner = Runner(store, context, lambda: source.load(device), settings=settings,
                                  device=device, group_size=self.options.group_size,
                                  no_train=self.options.no_train, retrain=self.options.retrain,
                                  console=self.console, progress_line=self.progress_line, executor=executor,
                                  job=TrainJob(source, str(device), settings, self.trainer))
        return self._runner

    def context(self, settings=None):
        """Everything besides the spec that goes into a run's cache key."""
        from pytest_scaling.device import device_kind
        from pytest_scaling.precision import bf16_arithmetic
        from pytest_scaling.store import Context
        from pytest_scaling.train import TrainSettings
        from pytest_scaling.trainers import is_builtin

        # The built-in engine's keys are the ones they always were: its version (TRAINING_CODE_VERSION), no name.
        return Context(dataset=self.source.identity, device_kind=device_kind(self.device),
                       code_version=self.trainer.version, settings=repr(settings or TrainSettings()),
                       bf16_arithmetic=bf16_arithmetic(self.device),
                       trainer="" if is_builtin(self.trainer) else self.trainer.name)

    def trainer_info(self) -> dict:
        """The trainer, for the report: its name and version, and whether it is the built-in engine."""
        from pytest_scaling.trainers import is_builtin

        return {"name": self.trainer.name, "version": self.trainer.version, "builtin": is_builtin(self.trainer)}

    console = None  # set by the plugin/CLI: where a progress bar may draw
    progress_line = None  # set by the plugin/CLI: where progress lines go when there is no live terminal
    xdist_workers = 0  # set by the plugin on pytest-xdist's controller: the workers that will train

    def prepare(self) -> None:
        """Resolve everything that can fail for a user reason, before any test runs."""
        if self.options.import_csv:
            self.imported_runs()
            return
        self.runner  # noqa: B018 - resolves dataset, device and cache dir

    @property
    def precision(self) -> str:
        """The precision runs train in: the option resolved once against the device (``auto`` → bf16
        where it is native and measured faster, else fp32), or a budget line's own; with ``auto``,
        imported runs of one precision keep theirs. Resolves the device."""
        if self._budget.precision != "fp32":
            return self._budget.precision
        if self._precision is None:
            from pytest_scaling.auto_precision import choose_precision

            option = precision_option(self.options.precision)
            imported = self._imported_precision() if self.options.import_csv and option == "auto" else None
            if imported:  # runs trained elsewhere: read them as they were trained
                self._precision = imported
            else:
                choice = choose_precision(option, self.device, probe_dir=self.probe_dir)
                self._precision, self._precision_reason = choice.precision, choice.reason
        return self._precision

    @property
    def probe_dir(self) -> Path:
        """Where measurements of this machine are cached (``precision_probe``): beside the runs."""
        return self.store.directory / "probes"

    def _imported_precision(self) -> str | None:
        """The precision imported runs were trained in: the only one, or, where a budget trained the main
        grid in both (``compare_precisions``), the one its LR sweep is in (the session's there)."""
        runs = self.imported_runs()
        for table in (runs, [r for r in runs if r.spec.lr_mult != 1.0]):
            precisions = {r.spec.precision for r in table}
            if len(precisions) == 1:
                return precisions.pop()
        return None

    def hardware(self) -> str:
        """The resolved device and how training will use it: ``cpu, 2 workers × 1 thread``,
        ``cuda:0 NVIDIA H200``. Resolves the device; raises DeviceUnavailable."""
        from pytest_scaling.device import describe_device

        device = describe_device(self.device)
        if self.device.type != "cpu":
            return device
        import os

        import torch

        from pytest_scaling.executors import resolve_executor_name, xdist_worker_count

        cores = os.cpu_count() or 1
        sharing = self.xdist_workers or xdist_worker_count()
        if sharing:  # each xdist worker trains in its own process (see executors.make_executor)
            threads = max(1, cores // sharing)
            return f"{device}, {sharing} xdist workers × {threads} thread{'s' * (threads > 1)}"
        executor = resolve_executor_name(self.options.executor, self.device.type)
        if executor == "processes":
            workers = self.options.workers or cores
            return f"{device}, {workers} worker{'s' * (workers > 1)} × 1 thread"
        if executor == "ray":
            return f"{device}, Ray workers"
        threads = torch.get_num_threads()
        return f"{device}, 1 process × {threads} thread{'s' * (threads > 1)}"

    def platform(self) -> str:
        """``cpu, 2 workers × 1 thread · fp32 · torch 2.14.1`` (``bf16 (rounded)`` on a CPU without bf16
        hardware): what the verdicts were computed on."""
        import torch

        try:
            hardware = self.hardware()
        except Exception as error:  # the header must never crash a session; prepare() reports it
            hardware = f"device {self.options.device} ({type(error).__name__})"
        try:
            precision = self.precision
            if self._precision_reason:  # auto: what it picked and why
                precision = f"{precision} ({self._precision_reason})"
            elif precision == "bf16" and not self.options.import_csv:
                from pytest_scaling.precision import bf16_arithmetic

                precision = f"bf16 ({bf16_arithmetic(self.device)})"  # native, or rounded around fp32 kernels
        except Exception:  # auto needs the device, which failed above
            precision = self.options.precision
        return f"{hardware} · {precision} · torch {torch.__version__}"

    def header(self) -> list[str]:
        """pytest's header lines: what will run (budget, data, cache state), then where."""
        if self.sweep is not None:
            return [f"pytest-scaling · {self.sweep.summary()}"]
        if self.options.import_csv:
            return [f"pytest-scaling · budget {self.budget.name} · runs imported from {self.options.import_csv}"]
        try:
            dataset = self.source.display_name
        except Exception as error:  # the header must never crash a session; the fixture reports it
            dataset = f"no dataset ({type(error).__name__})"
        from pytest_scaling.trainers import is_builtin

        if not is_builtin(self.trainer):
            dataset = f"{dataset} · trainer {self.trainer.name} {self.trainer.version}"
        return [f"pytest-scaling · budget {self.budget.name} · {dataset} · {self._cached_count()}",
                f"pytest-scaling · {self.platform()} · cache {self.store.directory}"]

    def _cached_count(self) -> str:
        """'N of M runs cached' by key lookup only (no record is read), or '' when undecidable."""
        try:
            from pytest_scaling.store import run_key

            context = self.context()
            specs = self.budget.all_specs()
            cached = sum(self.store.path_for(run_key(spec, context)).exists() for spec in specs)
            return f"{cached} of {len(specs)} runs cached, {len(specs) - cached} to train"
        except Exception:  # the header must never fail a session; the fixture reports real problems
            return "runs: unknown"

    # --- runs ------------------------------------------------------------------------------
    @property
    def sweep(self):
        """The imported sweep of another family (``--scaling-columns``), else None: then runs come from
        this engine (trained or cached) or from its own CSV export, matched to the budget's specs."""
        if not (self.options.import_csv and self.options.import_columns):
            return None
        if self._sweep is None:
            from pytest_scaling.sweep_import import read_sweep

            self._sweep = read_sweep(self.options.import_csv, self.options.import_columns)
        return self._sweep

    def imported_runs(self) -> RunTable:
        if self._imported is None:
            if self.sweep is not None:
                self._imported = self.sweep.runs
                return self._imported
            path = Path(self.options.import_csv)
            try:
                self._imported = RunTable.from_csv(path.read_text())
            except (OSError, ValueError, KeyError) as error:
                from pytest_scaling.errors import ScalingError

                raise ScalingError(f"cannot import runs from {str(path)!r}: {error}") from None
        return self._imported

    def runs(self, specs: list[RunSpec]) -> RunTable:
        """The run source, chosen once: an imported sweep of any family (all of its runs: its grid is
        not the budget's), this engine's CSV export (the budget's specs in it), or the cache and runner."""
        if self.sweep is not None:
            return self.imported_runs()
        if self.options.import_csv:
            wanted = set(specs)
            return RunTable(r for r in self.imported_runs() if r.spec in wanted)
        return self.runner.ensure(specs)

    def missing_axis(self, dropout=None, sweep: bool = False) -> str:
        """Why a slice of an imported sweep is empty: the column the claim would need, or ''."""
        if self.sweep is None:
            return ""
        if sweep:
            return ("the imported sweep has no LR sweep: this claim needs learning-rate sweeps per size "
                    "(train them with this engine)")
        if dropout not in (None, 0.0) and "dropout" not in self.sweep.mapping:
            return "the imported sweep has no dropout: map a column with dropout=COLUMN to test this claim"
        return ""

    def main_grid(self, dropout=None, widths=None, fractions=None, seeds=None, schedule="constant",
                  epochs=1, precision=None) -> RunTable:
        """A slice of the budget's main grid; the first call trains the whole main grid (one union).

        By default the single-run protocol (constant LR, one epoch) in the session's precision, which
        every claim but the protocol claims measures; ``schedule``/``epochs`` None keep every protocol,
        ``precision`` picks one of the budget's ``compare_precisions``."""
        precision = self._grid_precision(precision)
        table = self.runs(self.budget.main_specs())
        filters = {k: v for k, v in
                   {"dropout": dropout, "width": widths, "fraction": fractions, "seed": seeds, "schedule": schedule,
                    "epochs": epochs, "precision": precision}.items() if v is not None}
        return table.where(**filters)

    def _grid_precision(self, precision: str | None) -> str:
        """None → the session's; ``auto`` resolved here; one the budget does not train → ScalingError."""
        from pytest_scaling.budgets import PROTOCOL_BUDGETS
        from pytest_scaling.errors import ScalingError
        from pytest_scaling.auto_precision import resolve_precision

        if precision is None:
            return self.precision
        try:
            precision = resolve_precision(precision, self.device, probe_dir=self.probe_dir)
        except ValueError as error:
            raise ScalingError(str(error)) from None
        if precision != self.precision and precision not in self.budget.compare_precisions:
            builtin, keys = PROTOCOL_BUDGETS["precision"]
            raise ScalingError(f"budget {self.budget.name!r} trains no {precision} runs (this session's are "
                               f"{self.precision}); use --scaling-budget={builtin} or a budget line with {keys}")
        return precision

    def lr_sweep(self, widths=None) -> RunTable:
        if self.sweep is not None:
            return RunTable(r for r in self.imported_runs() if r.spec.lr_mult != 1.0)
        table = self.runs(self.budget.sweep_specs())
        return table.where(width=widths) if widths is not None else table

    def stats(self) -> dict:
        return self._runner.stats.as_dict() if self._runner is not None else {}

    def close(self) -> None:
        """Stop worker processes or a private Ray instance, if training started any."""
        if self._runner is not None:
            self._runner.executor.close()

    def with_options(self, **changes) -> ScalingSession:
        """The same session (trainer, dataset hook) with other options; the resolved data is kept when the
        changes leave where it comes from alone."""
        session = ScalingSession(dataclasses.replace(self.options, **changes), trainer=self.trainer,
                                 dataset_hook=self.dataset_hook)
        if not {"dataset", "data_dir", "cache_dir"} & set(changes):
            session._source = self._source
        return session
