"""What a run is (its spec) and what it produced (its result), and the table claims read.

The table is deliberately plain: columns come back as numpy arrays so that
fits and bootstraps never depend on how runs were trained or stored.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import math
from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar

import numpy as np

from pytest_scaling.stream import stream_key

#: The CNN family's widths. They grow by ×√2 (rounded), so forward compute roughly doubles per
#: step. Width 1 (2.6× less compute than width 2) is where the compute-limited window opens on
#: one epoch of 60,000 images: below ~1e9 FLOPs the best model at equal compute is the smallest.
WIDTHS = (1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128)

#: Training protocols (``RunSpec.schedule``). ``constant``: one LR throughout, so a run on f/2
#: is the first half of the run on f (Kaplan). ``cooldown``: the same trunk, then the LR decays
#: linearly to 0 over the run's own last 20% of steps (warmup-stable-decay without warmup,
#: Hägele et al. 2024), so every data budget gets a schedule that ends where it ends (Chinchilla).
SCHEDULES = ("constant", "cooldown")

#: Arithmetic of a run's forward passes (``RunSpec.precision``). ``fp32`` throughout, or ``bf16``
#: convolutions and matmuls with fp32 weights, Adam state and loss (precision.py): different numbers,
#: so a different cache key, and a chain or group never mixes the two.
PRECISIONS = ("fp32", "bf16")
#: What ``--scaling-precision`` accepts: a precision, or ``auto`` (bf16 where the device has it natively).
PRECISION_OPTIONS = (*PRECISIONS, "auto")


def precision_option(option: str | None) -> str:
    """``--scaling-precision`` normalised (``None`` → ``auto``), or ValueError naming the choices. Here,
    without torch, so that building a session checks it without importing torch."""
    name = (option or "auto").strip().lower()
    if name not in PRECISION_OPTIONS:
        raise ValueError(f"unknown precision {option!r}; use one of: {', '.join(PRECISION_OPTIONS)}")
    return name

#: Columns of the CSV export, in order. ``checkpoints`` is JSON inside one cell.
CSV_COLUMNS = (
    "width", "params", "dropout", "lr_mult", "lr_scale", "fraction", "examples", "seed",
    "batch_size", "flops_per_example", "flops", "val_loss", "val_acc", "diverged",
    "collapsed", "train_seconds", "checkpoints", "slice_loss", "slice_acc", "schedule", "epochs", "precision",
    "stream", "base_fraction",
)
#: Columns an older CSV may lack: scores import as NaN, the protocol as constant LR, one epoch, fp32, and
#: fractions above 1 as the default deformed stream, and every run as fresh images (no base fraction).
OPTIONAL_CSV_COLUMNS = ("flops", "slice_loss", "slice_acc", "schedule", "epochs", "precision", "stream",
                        "base_fraction")


@dataclass(frozen=True, order=True)
class RunSpec:
    """Everything that decides a run's outcome besides data, code and hardware."""

    width: int
    fraction: float
    seed: int
    dropout: float = 0.0
    lr_mult: float = 1.0
    lr_scale: float = 0.1
    batch_size: int = 64
    schedule: str = "constant"  # one of SCHEDULES
    epochs: int = 1  # passes over the run's fraction, each freshly shuffled
    precision: str = "fp32"  # one of PRECISIONS
    #: The deformed stream (``stream.DeformParams.key()``) a fraction above 1 reads past the base images;
    #: always ``""`` at fractions ≤ 1, which read none. Given as "" or partly (``sigma=5``) above 1, it
    #: is completed to the full key over the defaults, so the cache key names every parameter.
    stream: str = ""
    #: 0: the run reads fresh images (today's runs). Else the run reads U base images, the first
    #: ``subset_size(base_fraction)`` of the permutation (whole batches), then deformed copies of those same U
    #: images (copy 1 of each, then copy 2, …) up to its fraction's examples (``Dataset.stream_ids``): the
    #: worth-of-a-copy design (claims/test_stream_worth.py). 0 < base_fraction < fraction ≤ 1; its
    #: ``stream`` is then the full key of the deformation it reads.
    base_fraction: float = 0.0

    #: Fields added after runs were cached: left out of ``as_dict`` (hence of the cache key and
    #: the record) while at their default, so every run cached before they existed keeps its key.
    #: A field added later the same way joins this set.
    OMITTED_AT_DEFAULT: ClassVar[frozenset[str]] = frozenset({"schedule", "epochs", "precision", "stream",
                                                              "base_fraction"})

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; schedules are {', '.join(SCHEDULES)}")
        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs < 1:
            raise ValueError(f"epochs must be an integer ≥ 1, got {self.epochs!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; precisions are {', '.join(PRECISIONS)}")
        base = self.base_fraction
        if isinstance(base, bool) or not isinstance(base, (int, float)) or not (
                base == 0 or 0 < base < self.fraction <= 1):
            raise ValueError(f"base_fraction must be 0 (fresh images) or lie in (0, fraction) with fraction ≤ 1 "
                             f"(U base images, then deformed copies of them up to the run's examples), got "
                             f"base_fraction={base!r} at fraction={self.fraction!r}")
        object.__setattr__(self, "base_fraction", float(base))
        object.__setattr__(self, "stream", stream_key(self.stream) if self.fraction > 1 or base > 0 else "")

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not (f.name in self.OMITTED_AT_DEFAULT and getattr(self, f.name) == f.default)}

    @property
    def chain_key(self) -> tuple:
        """Runs with the same chain key share one constant-LR, one-epoch trunk: the runs on f, f/2, …
        are prefixes of it, a cooldown run branches off it, a run of E > 1 epochs continues its
        prefix on the run's fraction. So schedule and epochs are deliberately not part of it; precision
        is, since a bf16 trunk is not the prefix of an fp32 run. The stream is not either: the runs up to 1
        read none, and share the trunk of the runs past 1 (``train_group`` refuses two streams in a group).
        The base fraction is: a run on copies of U images leaves the fresh order at U."""
        return (self.width, self.batch_size, fraction_family(self.fraction), self.seed, self.dropout,
                self.lr_mult, self.lr_scale, self.precision, self.base_fraction)

    @property
    def group_key(self) -> tuple:
        """Chains with the same group key can be trained together as one grouped model (which runs its
        forward passes in one precision)."""
        return (self.width, self.batch_size, fraction_family(self.fraction), self.precision)


def fraction_family(fraction: float) -> float:
    """The largest of {fraction·2^k} that is ≤ 1: fractions of one family share training chains.

    Exact in floating point, since scaling by powers of two is.
    """
    mantissa, _ = math.frexp(fraction)  # fraction = mantissa · 2^e with mantissa in [1/2, 1)
    return 1.0 if mantissa == 0.5 else mantissa


@dataclass(frozen=True)
class Checkpoint:
    examples: int
    val_loss: float
    val_acc: float


@dataclass(frozen=True)
class RunResult:
    """One finished (or diverged) run. ``flops`` is training compute C = 3 × forward FLOPs × examples."""

    spec: RunSpec
    params: int
    flops_per_example: int
    examples: int
    val_loss: float
    val_acc: float
    diverged: bool = False
    collapsed: bool = False
    train_seconds: float = 0.0
    checkpoints: tuple[Checkpoint, ...] = field(default_factory=tuple)
    #: The final state scored on the validation slice the checkpoints use (NaN in older records),
    #: so a trajectory is scored by one yardstick from start to end.
    slice_loss: float = math.nan
    slice_acc: float = math.nan

    @property
    def flops(self) -> float:
        return 3.0 * self.flops_per_example * self.examples

    @property
    def ok(self) -> bool:
        """Usable for fits: finite, not diverged, not collapsed to chance."""
        return not (self.diverged or self.collapsed) and math.isfinite(self.val_loss)

    def row(self) -> dict:
        """Flat dict of this run's columns (checkpoints as an ``(n, 3)`` array)."""
        s = self.spec
        return {
            "width": s.width, "params": self.params, "dropout": s.dropout, "lr_mult": s.lr_mult,
            "lr_scale": s.lr_scale, "fraction": s.fraction, "examples": self.examples,
            "seed": s.seed, "batch_size": s.batch_size,
            "flops_per_example": self.flops_per_example, "flops": self.flops,
            "val_loss": self.val_loss, "val_acc": self.val_acc, "diverged": self.diverged,
            "collapsed": self.collapsed, "train_seconds": self.train_seconds,
            "slice_loss": self.slice_loss, "slice_acc": self.slice_acc,
            "schedule": s.schedule, "epochs": s.epochs, "precision": s.precision, "stream": s.stream,
            "base_fraction": s.base_fraction,
            "checkpoints": np.array(
                [(c.examples, c.val_loss, c.val_acc) for c in self.checkpoints], dtype=float
            ).reshape(-1, 3),
        }

    def to_json(self) -> dict:
        d = {"spec": self.spec.as_dict()}
        d.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "spec"})
        d["checkpoints"] = [dataclasses.asdict(c) for c in self.checkpoints]
        return d

    @classmethod
    def from_json(cls, d: dict) -> RunResult:
        d = dict(d)
        spec = RunSpec(**d.pop("spec"))
        ckpts = tuple(Checkpoint(**c) for c in d.pop("checkpoints", ()))
        return cls(spec=spec, checkpoints=ckpts, **d)


class RunTable(Sequence[RunResult]):
    """An immutable table of runs: ``column(name)`` gives a numpy array, ``where`` filters."""

    def __init__(self, runs: Iterable[RunResult] = ()):
        self._runs = tuple(sorted(runs, key=lambda r: r.spec))

    @functools.cached_property
    def _rows(self) -> tuple[dict, ...]:
        """Each run's columns, built once: ``column`` and ``where`` are called many times per estimate."""
        return tuple(run.row() for run in self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return RunTable(self._runs[i])
        return self._runs[i]

    def __iter__(self) -> Iterator[RunResult]:
        return iter(self._runs)

    def __repr__(self) -> str:
        return f"RunTable({len(self)} runs, widths={sorted(set(self.column('width').tolist()))})"

    def column(self, name: str) -> np.ndarray:
        if name not in CSV_COLUMNS:
            raise KeyError(f"unknown column {name!r}; columns are {', '.join(CSV_COLUMNS)}")
        values = [row[name] for row in self._rows]
        if name == "checkpoints":
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out
        return np.asarray(values)

    def columns(self) -> dict[str, np.ndarray]:
        return {name: self.column(name) for name in CSV_COLUMNS}

    def where(self, **filters) -> RunTable:
        """Keep runs whose columns equal the given values (a tuple/list/set means 'one of')."""
        def keep(row: dict) -> bool:
            for key, want in filters.items():
                if key not in row:
                    raise KeyError(f"unknown column {key!r}; columns are {', '.join(CSV_COLUMNS)}")
                allowed = want if isinstance(want, (tuple, list, set, frozenset)) else (want,)
                if not any(np.isclose(row[key], a) if isinstance(a, float) else row[key] == a for a in allowed):
                    return False
            return True
        return RunTable(run for run, row in zip(self._runs, self._rows) if keep(row))

    def usable(self) -> RunTable:
        """Runs that neither diverged nor collapsed to chance."""
        return RunTable(r for r in self._runs if r.ok)

    @property
    def seeds(self) -> list[int]:
        return sorted({r.spec.seed for r in self._runs})

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for run in self._runs:
            row = run.row()
            row["checkpoints"] = json.dumps(row["checkpoints"].tolist())
            writer.writerow(row)
        return buf.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> RunTable:
        runs = []
        for row in csv.DictReader(io.StringIO(text)):
            missing = set(CSV_COLUMNS) - set(row) - set(OPTIONAL_CSV_COLUMNS)
            if missing:
                raise ValueError(f"CSV lacks columns: {', '.join(sorted(missing))}")
            spec = RunSpec(
                width=int(row["width"]), fraction=float(row["fraction"]), seed=int(row["seed"]),
                dropout=float(row["dropout"]), lr_mult=float(row["lr_mult"]),
                lr_scale=float(row["lr_scale"]), batch_size=int(row["batch_size"]),
                schedule=row.get("schedule") or "constant", epochs=int(row.get("epochs") or 1),
                precision=row.get("precision") or "fp32", stream=row.get("stream") or "",
                base_fraction=float(row.get("base_fraction") or 0.0),
            )
            ckpts = tuple(Checkpoint(int(e), float(loss), float(a))
                          for e, loss, a in json.loads(row["checkpoints"] or "[]"))
            runs.append(RunResult(
                spec=spec, params=int(row["params"]), flops_per_example=int(row["flops_per_example"]),
                examples=int(row["examples"]), val_loss=float(row["val_loss"]), val_acc=float(row["val_acc"]),
                diverged=row["diverged"] == "True", collapsed=row["collapsed"] == "True",
                train_seconds=float(row["train_seconds"]), checkpoints=ckpts,
                slice_loss=float(row.get("slice_loss") or "nan"), slice_acc=float(row.get("slice_acc") or "nan"),
            ))
        return cls(runs)
