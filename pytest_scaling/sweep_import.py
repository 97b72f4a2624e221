"""Runs of any model family, read from a table a tracker or a paper exported (CSV, JSON Lines, Parquet).

A run is its size N (parameters), its data D (examples or tokens seen), its compute C (FLOPs)
and its loss; optionally its seed, accuracy, dropout and intermediate checkpoints. A column
mapping given once (``--scaling-columns="N=params D=tokens loss=val_loss seed=seed step=step"``)
names the file's columns for these fields. Three shapes of table are read:

* **final losses** (no ``run``, ``step`` or ``checkpoints`` column): one row per run. The runs of
  one size and seed at several D are read as points of one trajectory (as a constant-LR run's
  prefixes are), so iso-compute profiles, the window and every compute-limited claim have
  something to read; the import says so (``trajectories``), since independent runs per D
  (each with its own schedule, Chinchilla's protocol) are a different estimand than prefixes;
* **one row per checkpoint** (``step`` or ``run`` mapped): the rows of one run (its ``run`` id, else
  its size, seed and dropout) are its checkpoints; the one with the largest D is its final;
* **a checkpoints column**: one row per run, a JSON list of ``[D, loss]`` (or ``[D, loss, acc]``) pairs.

Without C the compute is 6·N·D (Kaplan et al. 2020's count for a transformer's training step),
and the import says so. Every problem with the file is a :class:`~pytest_scaling.errors.ImportFailed`
naming the row and the column, raised before any claim runs.

Each run becomes a :class:`~pytest_scaling.runs.RunResult` whose ``width`` is its size N (a size
label: the claims group by it) and whose ``fraction`` is D over the table's largest D, so the
estimators read imported runs exactly as they read this engine's.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pytest_scaling.errors import ImportFailed
from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

#: Field → what it is. N, D and loss are required.
FIELDS = {
    "N": "model size (parameters)", "D": "data seen (examples or tokens)", "C": "training compute (FLOPs)",
    "loss": "validation loss", "seed": "seed (integer)", "acc": "validation accuracy in [0, 1]",
    "dropout": "dropout rate", "run": "run id (rows with one id are one run's checkpoints)",
    "step": "training step (rows are checkpoints)", "checkpoints": "JSON list of [D, loss(, acc)] pairs",
}
REQUIRED = ("N", "D", "loss")
FORMATS = {".csv": "CSV", ".tsv": "CSV", ".jsonl": "JSON Lines", ".ndjson": "JSON Lines", ".json": "JSON Lines",
           ".parquet": "Parquet", ".pq": "Parquet"}
#: Kaplan et al. 2020: a transformer's training step costs ≈ 6 FLOPs per parameter per token.
FLOPS_PER_PARAM_TOKEN = 6.0


@dataclass(frozen=True)
class ImportedSweep:
    """The runs read from a file, and what the reading assumed (for the header and report.json)."""

    runs: RunTable
    path: str
    format: str
    mapping: dict
    rows: int
    trajectories: str  # "checkpoints" | "checkpoints column" | "assembled from final losses"
    compute: str  # "column C" | "6·N·D"
    notes: tuple = field(default=())

    def describe(self) -> dict:
        sizes = sorted({r.params for r in self.runs})
        return {"path": self.path, "format": self.format, "columns": self.mapping, "rows": self.rows,
                "runs": len(self.runs), "sizes": len(sizes), "seeds": len(self.runs.seeds),
                "trajectories": self.trajectories, "compute": self.compute, "notes": list(self.notes)}

    def summary(self) -> str:
        d = self.describe()
        return (f"{d['runs']} runs ({d['sizes']} sizes, {d['seeds']} seed{'s' * (d['seeds'] > 1)}) "
                f"from {Path(self.path).name}; trajectories {d['trajectories']}; compute {d['compute']}")


def parse_mapping(text: str) -> dict[str, str]:
    """``"N=params D=tokens loss=val_loss"`` → ``{"N": "params", ...}``; ImportFailed on a bad entry."""
    mapping: dict[str, str] = {}
    for entry in text.replace(",", " ").split():
        name, sep, column = entry.partition("=")
        if not sep or not column:
            raise ImportFailed(f"column mapping entry {entry!r}: write FIELD=COLUMN, e.g. N=params")
        if name not in FIELDS:
            raise ImportFailed(f"column mapping entry {entry!r}: unknown field {name!r}; fields are "
                               + ", ".join(f"{k} ({v})" for k, v in FIELDS.items()))
        if name in mapping:
            raise ImportFailed(f"column mapping names field {name!r} twice")
        mapping[name] = column
    missing = [f for f in REQUIRED if f not in mapping]
    if missing:
        raise ImportFailed(f"column mapping {text!r} lacks {', '.join(missing)}: every run needs N (size), "
                           f"D (data seen) and loss, e.g. 'N=params D=tokens loss=val_loss'")
    return mapping


def _read_frame(path: Path):
    """The file as a pandas DataFrame, by its suffix."""
    import pandas as pd

    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ImportFailed(f"cannot tell the format of {str(path)!r} from its suffix; use one of "
                           f"{', '.join(sorted(FORMATS))}")
    try:
        if kind == "CSV":
            frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        elif kind == "JSON Lines":
            frame = pd.read_json(path, lines=True)
        else:
            try:
                frame = pd.read_parquet(path)
            except ImportError:
                raise ImportFailed("reading Parquet needs pyarrow: pip install 'pytest-scaling[parquet]'") from None
    except ImportFailed:
        raise
    except FileNotFoundError:
        raise ImportFailed(f"no such file: {str(path)!r}") from None
    except Exception as error:  # pandas' parser errors have no common base class
        raise ImportFailed(f"cannot read {str(path)!r} as {kind}: {error}") from None
    if len(frame) == 0:
        raise ImportFailed(f"{str(path)!r} has no rows")
    return frame, kind


def _number(value, row: int, field: str, column: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ImportFailed(f"row {row}, column {column!r} ({field}: {FIELDS[field]}): "
                           f"{value!r} is not a number") from None
    return number


def _positive(value, row: int, field: str, column: str) -> float:
    number = _number(value, row, field, column)
    if not (math.isfinite(number) and number > 0):
        raise ImportFailed(f"row {row}, column {column!r} ({field}: {FIELDS[field]}): must be a positive "
                           f"number, got {value!r}")
    return number


@dataclass
class _Row:
    line: int
    n: float
    d: float
    c: float
    loss: float
    acc: float
    seed: int
    dropout: float
    run: object
    checkpoints: object = None  # the raw cell of a checkpoints column


def _rows(frame, mapping: dict, path: Path) -> list[_Row]:
    absent = [f"{col!r} ({name})" for name, col in mapping.items() if col not in frame.columns]
    if absent:
        raise ImportFailed(f"{str(path)!r} has no column {', '.join(absent)}; its columns are "
                           f"{', '.join(map(str, frame.columns))}")
    out = []
    records = frame.to_dict("records")
    for i, rec in enumerate(records):
        line = i + 2 if path.suffix.lower() in (".csv", ".tsv") else i + 1  # as an editor shows it

        def get(name, _rec=rec):
            return _rec[mapping[name]]

        n = _positive(get("N"), line, "N", mapping["N"])
        d = _positive(get("D"), line, "D", mapping["D"])
        loss = _number(get("loss"), line, "loss", mapping["loss"])
        if "C" in mapping:
            c = _positive(get("C"), line, "C", mapping["C"])
            if c < d:
                raise ImportFailed(f"row {line}: compute C={c:.4g} (column {mapping['C']!r}) is smaller than the "
                                   f"data D={d:.4g} (column {mapping['D']!r}); C is FLOPs (≈ 6·N·D for a "
                                   f"transformer), D examples or tokens — check the columns' units")
            if c < n * d:
                raise ImportFailed(f"row {line}: compute C={c:.4g} is less than one FLOP per parameter per "
                                   f"example (N·D = {n * d:.4g}); check the units of columns {mapping['C']!r}, "
                                   f"{mapping['N']!r} and {mapping['D']!r}")
        else:
            c = FLOPS_PER_PARAM_TOKEN * n * d
        acc = _number(get("acc"), line, "acc", mapping["acc"]) if "acc" in mapping else math.nan
        if math.isfinite(acc) and not 0 <= acc <= 1:
            raise ImportFailed(f"row {line}, column {mapping['acc']!r} (acc): accuracy must be in [0, 1], "
                               f"got {acc!r} (a percentage? divide by 100)")
        seed = 0
        if "seed" in mapping:
            s = _number(get("seed"), line, "seed", mapping["seed"])
            if not (math.isfinite(s) and s == int(s)):
                raise ImportFailed(f"row {line}, column {mapping['seed']!r} (seed): must be an integer, got "
                                   f"{get('seed')!r}")
            seed = int(s)
        dropout = _number(get("dropout"), line, "dropout", mapping["dropout"]) if "dropout" in mapping else 0.0
        if not 0 <= dropout < 1:
            raise ImportFailed(f"row {line}, column {mapping['dropout']!r} (dropout): must be in [0, 1), "
                               f"got {dropout!r}")
        run = get("run") if "run" in mapping else None
        out.append(_Row(line, n, d, c, loss, acc, seed, dropout, run,
                        get("checkpoints") if "checkpoints" in mapping else None))
    return out


def _result(rows: list[_Row], d_max: float, ckpts: list[tuple[float, float, float]]) -> RunResult:
    """One run: its final (the row of the largest D) and its trajectory (``ckpts``, ending at the final)."""
    final = max(rows, key=lambda r: r.d)
    spec = RunSpec(width=int(round(final.n)), fraction=final.d / d_max, seed=final.seed, dropout=final.dropout)
    diverged = not math.isfinite(final.loss)
    return RunResult(spec=spec, params=int(round(final.n)), flops_per_example=final.c / (3.0 * final.d),
                     examples=int(round(final.d)), val_loss=final.loss, val_acc=final.acc, diverged=diverged,
                     checkpoints=tuple(Checkpoint(int(round(d)), loss, acc) for d, loss, acc in ckpts))


def _checkpoint_column(row: _Row, column: str) -> list[tuple[float, float, float]]:
    raw = row.checkpoints
    try:
        pairs = json.loads(raw) if isinstance(raw, str) else list(raw)
        points = [(float(p[0]), float(p[1]), float(p[2]) if len(p) > 2 else math.nan) for p in pairs]
    except (TypeError, ValueError, IndexError, KeyError):
        raise ImportFailed(f"row {row.line}, column {column!r} (checkpoints): expected a JSON list of "
                           f"[D, loss] pairs, got {str(raw)[:60]!r}") from None
    if any(not (d > 0) for d, _, _ in points):
        raise ImportFailed(f"row {row.line}, column {column!r} (checkpoints): every D must be positive")
    points = [p for p in sorted(points) if p[0] < row.d]
    return [*points, (row.d, row.loss, row.acc)]


def read_sweep(path: str | Path, columns: str) -> ImportedSweep:
    """Read ``path`` with the column mapping ``columns``; ImportFailed naming row and column on any problem."""
    path = Path(path)
    mapping = parse_mapping(columns)
    frame, kind = _read_frame(path)
    rows = _rows(frame, mapping, path)
    d_max = max(r.d for r in rows)
    notes = []
    runs: list[RunResult] = []
    if "checkpoints" in mapping:
        trajectories = "checkpoints column"
        runs = [_result([r], d_max, _checkpoint_column(r, mapping["checkpoints"])) for r in rows]
        if any(len(r.checkpoints) < 2 for r in runs):
            notes.append("some runs have no intermediate checkpoints")
    elif "run" in mapping or "step" in mapping:
        trajectories = "checkpoints"
        by_run: dict = defaultdict(list)
        for r in rows:
            by_run[r.run if "run" in mapping else (r.n, r.seed, r.dropout)].append(r)
        for key, members in by_run.items():
            sizes = {(m.n, m.seed, m.dropout) for m in members}
            if len(sizes) > 1:
                raise ImportFailed(f"run {key!r} (rows {members[0].line} and {members[-1].line}) changes its size, "
                                   f"seed or dropout between checkpoints")
            points = sorted((m.d, m.loss, m.acc) for m in members)
            if len({p[0] for p in points}) < len(points):
                dup = next(m for m in members if sum(o.d == m.d for o in members) > 1)
                raise ImportFailed(f"row {dup.line}: run {key!r} has two checkpoints at D={dup.d:.6g}; map a run "
                                   f"column (run=...) if these are different runs")
            runs.append(_result(members, d_max, points))
    else:
        trajectories = "assembled from final losses"
        by_chain: dict = defaultdict(list)
        for r in rows:
            by_chain[(r.n, r.seed, r.dropout)].append(r)
        for key, members in by_chain.items():
            members.sort(key=lambda m: m.d)
            for a, b in itertools.pairwise(members):
                if a.d == b.d:
                    raise ImportFailed(f"rows {a.line} and {b.line} are the same run (N={key[0]:.6g}, D={a.d:.6g}, "
                                       f"seed {key[1]}): map a seed column (seed=...) or average them first")
            for i, m in enumerate(members):
                runs.append(_result([m], d_max, [(p.d, p.loss, p.acc) for p in members[:i + 1]]))
        notes.append("no checkpoints: the final losses of one size and seed at increasing D are read as "
                     "one trajectory (iso-compute profiles interpolate between them)")
    if "C" not in mapping:
        notes.append(f"no compute column: C = {FLOPS_PER_PARAM_TOKEN:g}·N·D (Kaplan et al. 2020)")
    if "seed" not in mapping:
        notes.append("no seeds: intervals come from a residual bootstrap over points (bootstrap.py)")
    return ImportedSweep(RunTable(runs), str(path), kind, mapping, len(rows), trajectories,
                         "column C" if "C" in mapping else f"{FLOPS_PER_PARAM_TOKEN:g}·N·D", tuple(notes))
