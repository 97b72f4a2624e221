"""Named budgets → grid specs, like Hypothesis settings profiles (a user budget names a parent).

A user budget is one ini line ``name: parent=tiny widths=2,4 fractions=1/32,1/16 seeds=0``
under ``scaling_budgets`` in pytest.ini / pyproject.toml; keys not given come from the parent.
Training protocols (issue #14) are keys too: ``schedules=constant,cooldown`` crosses the main
grid with LR schedules; ``epochs=1,2,4,8`` adds a constant-LR sub-grid of repeated epochs on
``epoch_widths`` × ``epoch_fractions`` (by default the main grid's).
Fractions above 1 train past the 60k images on deformed copies of them (stream.py):
``fractions=1/64,…,1,2,4,8`` asks for 2×, 4× and 8× the examples, each run a prefix of one stream
(and the runs up to 1 the very runs of a budget without them); ``stream=sigma=5,alpha=30`` changes
the deformation's parameters (the rest keep their defaults).
What a deformed copy is worth against a fresh image (claims/test_stream_worth.py) is measured below
60k: ``worth_widths=1,2,4 worth_bases=1/16,1/8 worth_copies=2,4`` adds runs that see U = 1/16 (1/8) of
the images and then deformed copies of those same U images, to k·U examples, read against the same
width's fresh runs (``RunSpec.base_fraction``).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from fractions import Fraction

from pytest_scaling.errors import UnknownBudget
from pytest_scaling.runs import PRECISIONS, SCHEDULES, RunSpec
from pytest_scaling.stream import MAX_FRACTION, DeformParams

#: c in LR = c / sqrt(fan_in), measured on Fashion-MNIST, batch 64, one epoch (see README, "Choosing c").
DEFAULT_LR_SCALE = 0.1


@dataclass(frozen=True)
class Budget:
    name: str
    widths: tuple[int, ...]
    fractions: tuple[float, ...]
    seeds: tuple[int, ...]
    dropouts: tuple[float, ...] = (0.0, 0.2)
    sweep_widths: tuple[int, ...] = ()
    sweep_fraction: float = 0.25
    sweep_mults: tuple[float, ...] = tuple(2.0 ** k for k in range(-3, 4))
    sweep_seeds: tuple[int, ...] = (0,)
    lr_scale: float = DEFAULT_LR_SCALE
    batch_size: int = 64
    description: str = ""
    schedules: tuple[str, ...] = ("constant",)
    #: Epoch counts of the epochs sub-grid (constant LR); (1,): no sub-grid.
    epochs: tuple[int, ...] = (1,)
    epoch_widths: tuple[int, ...] = ()  # empty: the main grid's widths
    epoch_fractions: tuple[float, ...] = ()  # empty: the main grid's fractions
    #: Every run's forward-pass precision. A session sets it from --scaling-precision on an fp32 budget;
    #: a budget line's ``precision=bf16`` keeps its own.
    precision: str = "fp32"
    #: Empty, or every precision (fp32,bf16): the main grid's constant one-epoch runs are then trained in
    #: each, whichever ``precision`` a session resolves, for the claim that precision does not move the
    #: estimates; every other claim reads the runs in ``precision``.
    compare_precisions: tuple[str, ...] = ()
    #: More seeds where a claim reads: ``extra_seeds`` are trained too at ``extra_seeds_widths`` (the window
    #: claims read the small widths; a seed of the widest ones costs ten times theirs).
    extra_seeds: tuple[int, ...] = ()
    extra_seeds_widths: tuple[int, ...] = ()
    #: More examples where the data binds: ``extra_fractions`` (typically above 1: the deformed stream) are
    #: trained too at ``extra_fractions_widths`` — the small widths one epoch cannot take to the compute
    #: where a wider model would win, at a few percent of a wide width's cost per example.
    extra_fractions: tuple[float, ...] = ()
    extra_fractions_widths: tuple[int, ...] = ()
    #: The deformed stream fractions above 1 read (``DeformParams.parse``: "" for the defaults, or
    #: ``name=value,…`` over them); runs at fractions ≤ 1 read none, whatever it says.
    stream: str = ""
    #: The worth-of-a-copy design (``worth_specs``; none without all three): at each of ``worth_widths`` the main
    #: grid trains, for each base fraction b of ``worth_bases`` and k of ``worth_copies``, a run on U = b·60k
    #: base images followed by deformed copies of the same U images (``RunSpec.base_fraction``) up to k·U
    #: examples (k·b ≤ 1, so the same width's fresh runs reach as far), with the grid's seeds, no dropout.
    worth_widths: tuple[int, ...] = ()
    worth_bases: tuple[float, ...] = ()
    worth_copies: tuple[int, ...] = ()
    #: The worth design's seeds (empty: the grid's seeds at each worth width). A seed the main grid does not
    #: train at a worth width brings that width's fresh run on all the images (fraction 1) as its yardstick;
    #: it stays out of the main grid, so no other claim reads a mix of seed counts.
    worth_seeds: tuple[int, ...] = ()
    #: The widths that train the non-zero ``dropouts`` (empty: every width). The dropout claims read the
    #: compute-limited window, whose frontier and N_opt sit at the small widths; a dropout run of the widest
    #: ones costs as much as a dozen of theirs.
    dropout_widths: tuple[int, ...] = ()

    def dropouts_for(self, width: int) -> tuple[float, ...]:
        """The main grid's dropout rates at ``width``."""
        if not self.dropout_widths or width in self.dropout_widths:
            return self.dropouts
        return tuple(p for p in self.dropouts if p == 0)

    def seeds_for(self, width: int) -> tuple[int, ...]:
        """The main grid's seeds at ``width``."""
        extra = self.extra_seeds if width in self.extra_seeds_widths else ()
        return tuple(dict.fromkeys(self.seeds + extra))

    def fractions_for(self, width: int) -> tuple[float, ...]:
        """The main grid's fractions at ``width``."""
        extra = self.extra_fractions if width in self.extra_fractions_widths else ()
        return tuple(sorted(set(self.fractions + extra)))

    def _spec(self, **fields) -> RunSpec:
        """A run of this budget: its LR scale and batch size, its precision unless ``fields`` name one."""
        return RunSpec(lr_scale=self.lr_scale, batch_size=self.batch_size, stream=self.stream,
                       **{"precision": self.precision, **fields})

    def main_specs(self) -> list[RunSpec]:
        """Every run but the LR sweep's: widths × fractions × seeds × dropouts × schedules, then the
        epochs sub-grid. Claims tell them apart with ``runs.where(schedule=…, epochs=…)``."""
        specs = [self._spec(width=w, fraction=f, seed=s, dropout=p, schedule=schedule)
                 for w in self.widths
                 for f, s, p, schedule in itertools.product(self.fractions_for(w), self.seeds_for(w),
                                                            self.dropouts_for(w), self.schedules)]
        return list(dict.fromkeys(specs + self.epoch_specs() + self.precision_specs()))

    def precision_specs(self) -> list[RunSpec]:
        """The single-run protocol's grid again in each of ``compare_precisions``."""
        return [self._spec(width=w, fraction=f, seed=s, dropout=p, precision=precision)
                for precision in self.compare_precisions if precision != self.precision
                for w in self.widths
                for f, s, p in itertools.product(self.fractions_for(w), self.seeds_for(w), self.dropouts_for(w))]

    def epoch_specs(self) -> list[RunSpec]:
        """The epochs sub-grid: E passes over each fraction, constant LR (a run of E+1 epochs continues
        the run of E, so its cost is the largest E's)."""
        if self.epochs == (1,):
            return []
        return [self._spec(width=w, fraction=f, seed=s, dropout=p, epochs=e)
                for w in self.epoch_widths or self.widths
                for f, s, p, e in itertools.product(self.epoch_fractions or self.fractions, self.seeds_for(w),
                                                    self.dropouts_for(w), self.epochs)]

    def sweep_specs(self) -> list[RunSpec]:
        return [self._spec(width=w, fraction=self.sweep_fraction, seed=s, dropout=0.0, lr_mult=m)
                for w, m, s in itertools.product(self.sweep_widths, self.sweep_mults, self.sweep_seeds)]

    def worth_specs(self) -> list[RunSpec]:
        """The worth-of-a-copy runs: U base images, then deformed copies of them, to k·U examples. The runs
        on one base fraction and width and seed are one chain (k = 2 is the start of k = 4): a width's cost
        is the largest k·U per base fraction, and each smaller k adds one evaluation."""
        if not (self.worth_widths and self.worth_bases and self.worth_copies):
            return []
        specs = []
        for w in (w for w in self.worth_widths if w in self.widths):
            seeds = self.worth_seeds or self.seeds_for(w)
            specs += [self._spec(width=w, fraction=b * k, seed=s, dropout=0.0, base_fraction=b)
                      for b, k, s in itertools.product(self.worth_bases, self.worth_copies, seeds)]
            specs += [self._spec(width=w, fraction=1.0, seed=s, dropout=0.0)
                      for s in seeds if s not in self.seeds_for(w)]
        return specs

    def all_specs(self) -> list[RunSpec]:
        return sorted(set(self.main_specs()) | set(self.sweep_specs()) | set(self.worth_specs()))

    def provides(self, protocol: str) -> bool:
        """Whether this budget trains the runs a protocol claim needs: ``cooldown``, ``epochs`` (> 1),
        ``precision`` (the main grid in both fp32 and bf16) or ``worth`` (runs on deformed copies of a
        base fraction, ``worth_specs``)."""
        if protocol == "cooldown":
            return "cooldown" in self.schedules
        if protocol == "epochs":
            return max(self.epochs) > 1
        if protocol == "precision":
            return {"fp32", "bf16"} <= {self.precision, *self.compare_precisions}
        if protocol == "worth":
            return bool(self.worth_specs())
        raise ValueError(f"unknown protocol {protocol!r}; protocols are {', '.join(PROTOCOL_BUDGETS)}")

    def describe(self) -> str:
        protocols = "" if self.schedules == ("constant",) else f" × schedules {','.join(self.schedules)}"
        if self.epoch_specs():
            protocols += (f" + epochs {_fmt(self.epochs)} on widths {_fmt(self.epoch_widths or self.widths)} × "
                          f"fractions {_fmt_fractions(self.epoch_fractions or self.fractions)}")
        if self.precision != "fp32":
            protocols += f" in {self.precision}"
        if self.precision_specs():
            protocols += f", again in {','.join(p for p in self.compare_precisions if p != self.precision)}"
        extra = (f" (+{len(self.extra_seeds)} at widths {_fmt(self.extra_seeds_widths)})"
                 if self.extra_seeds and self.extra_seeds_widths else "")
        dropped = (f" (non-zero at widths {_fmt(self.dropout_widths)})"
                   if self.dropout_widths and any(self.dropouts) else "")
        deeper = (f" (+{_fmt_fractions(self.extra_fractions)} at widths {_fmt(self.extra_fractions_widths)})"
                  if self.extra_fractions and self.extra_fractions_widths else "")
        if max(*self.fractions, *self.extra_fractions, self.sweep_fraction, *self.epoch_fractions) > 1:
            protocols += f"; past fraction 1, deformed copies ({DeformParams.parse(self.stream).key()})"
        return (f"{self.name}: widths {_fmt(self.widths)} × fractions {_fmt_fractions(self.fractions)}{deeper} × "
                f"seeds {len(self.seeds)}{extra} × dropout {_fmt(self.dropouts)}{dropped}{protocols} = "
                f"{len(self.main_specs())} runs; "
                f"LR sweep widths {_fmt(self.sweep_widths)} × ×{_fmt_fractions(self.sweep_mults)} × "
                f"seeds {len(self.sweep_seeds)} at fraction {_fmt_fractions((self.sweep_fraction,))} "
                f"= {len(self.sweep_specs())} runs{self._describe_worth()}")

    def _describe_worth(self) -> str:
        worth = self.worth_specs()
        if not worth:
            return ""
        widths = [w for w in self.worth_widths if w in self.widths]
        seeds = f" × seeds {_fmt(self.worth_seeds)}" if self.worth_seeds else ""
        return (f"; worth of a copy: widths {_fmt(widths)} × base {_fmt_fractions(self.worth_bases)} × "
                f"{_fmt(self.worth_copies)} copies{seeds} = {len(worth)} runs")


#: For each protocol a claim may need (``scaling_needs``): the built-in budget that trains it, and the
#: budget-line keys that add it to another budget.
PROTOCOL_BUDGETS = {"cooldown": ("protocols", "schedules=constant,cooldown"),
                    "epochs": ("protocols", "epochs=1,2,4,8"),
                    "precision": ("precision", "compare_precisions=fp32,bf16"),
                    "worth": ("small", "worth_widths=1,2,4 worth_bases=1/16,1/8 worth_copies=2,4 worth_seeds=0,1,2,3")}

#: `small`'s worth-of-a-copy design (claims/test_stream_worth.py): widths 1, 2, 4 (where one epoch binds and a
#: run costs least), U = 1/16 and 1/8 of the images, k = 2 and 4 (k·U at most half the images, so the fresh
#: curve reaches past every reading). k = 2 is the start of k = 4's chain. Seeds 0–3, two more than the grid's:
#: with 2 the interval's t/z expansion was ×2.27 (1.9 residual df) and "more than nothing" was confirmed in fp32
#: ([0.028, 0.75]) but not in bf16 ([−0.051, 0.78]) on one avx512_bf16 EPYC; with 4, [0.057, 0.33] and
#: [0.082, 0.40]. Seeds 2 and 3 bring widths 1, 2, 4's fresh runs on all the images as their yardstick:
#: 30 chains, 52 s of worker time in fp32 on that CPU beyond the 2-seed design's.
WORTH_DESIGN = {"worth_widths": (1, 2, 4), "worth_bases": (1 / 16, 1 / 8), "worth_copies": (2, 4),
                "worth_seeds": (0, 1, 2, 3)}

#: The LR sweep of `small` and the budgets built on it (claims/test_lr_fan_in.py). Widths 2–32 span ln fan_in
#: by 2.8 (Sxx 4.4, against 2.2 for widths 4, 11, 32): the slope's interval about 0.7× as wide for the cost of
#: width 2's runs. Width 1 is left out, measured: on this grid one of its three seeds has no basin (fp32 val loss
#: 0.71–0.81 from ×1/4 to ×8, against 0.57–0.69 for the others), so its vertex's bootstrap reaches the sweep's
#: ×8 edge and the slope's interval [−1.18, −0.34] (fp32, family level) against [−0.80, −0.34] without it.
#: 3 seeds give each width's vertex 2 df instead of 1 (the slope's t/z expansion ×1.31 at 5.0 df, against
#: ×2.20 at 2.0 df); √2 steps between 1/2 and 2, where every width's optimum has sat, put five points inside
#: the basin instead of three.
SWEEP_DESIGN = {"sweep_widths": (2, 4, 11, 32), "sweep_fraction": 1 / 8, "sweep_seeds": (0, 1, 2),
                "sweep_mults": (1 / 8, 1 / 4, 1 / 2, 2 ** -0.5, 1.0, 2 ** 0.5, 2.0, 4.0, 8.0)}

#: The widths of `small` (and `decide`) that train dropout 0.2: the dropout claims read the compute-limited
#: window, whose frontier and N_opt sit at widths 1–8 (16 bounds it from above); widths 23 and 32 would
#: spend 23 % of the grid's training time on runs no dropout claim reads.
DROPOUT_WIDTHS = (1, 2, 3, 4, 6, 8, 11, 16)

#: Seeds past which "more seeds" is not a practical prescription.
PRACTICAL_SEEDS = 20


def budget_for_seeds(budget: Budget, factor: float, field: str = "seeds", widths=None) -> str:
    """The smallest budget with ``factor`` × this budget's seeds: a one-line definition for the ini
    (this budget with more seeds), and a built-in budget that also provides them, if any.
    ``field``: which seeds the claim's runs use, ``seeds`` (main grid) or ``sweep_seeds`` (LR sweep).
    ``widths``: the widths the claim reads; when they are fewer than the grid's, the line adds the seeds
    at those widths only (``extra_seeds``), not across the grid."""
    import math

    have = len(getattr(budget, field))
    if not math.isfinite(factor) or factor * have > PRACTICAL_SEEDS:
        return (f"more than {PRACTICAL_SEEDS} seeds: seeds alone will not decide it at this estimate; "
                f"a wider compute range or a less noisy estimator would")
    need = max(have + 1, math.ceil(factor * have))
    seeds = ",".join(str(s) for s in range(need))
    read = sorted({int(w) for w in widths or ()} & set(budget.widths)) if field == "seeds" else []
    if read and len(read) < len(budget.widths):
        extra = ",".join(str(s) for s in range(have, need))
        return (f"{need} seeds at the widths the claim reads ({_fmt(read)}): add to scaling_budgets the line "
                f"'{budget.name}{need}: parent={budget.name} extra_seeds={extra} extra_seeds_widths={_fmt(read)}'")
    line = f"{need} seeds: add to scaling_budgets the line '{budget.name}{need}: parent={budget.name} {field}={seeds}'"
    for other in BUILTIN_BUDGETS.values():
        if (len(getattr(other, field)) >= need and set(budget.widths) <= set(other.widths)
                and set(budget.fractions) <= set(other.fractions) and set(budget.schedules) <= set(other.schedules)
                and set(budget.epoch_specs()) <= set(dataclasses.replace(other, seeds=budget.seeds).epoch_specs())):
            return f"{line} (or --scaling-budget={other.name}, {len(getattr(other, field))} seeds)"
    return line


def _fmt(values) -> str:
    return ",".join(f"{v:g}" for v in values)


def _fmt_fractions(values) -> str:
    """1/8 for a ratio of small integers, 0.7071 for anything else (√2 steps)."""
    def one(v):
        ratio = Fraction(v).limit_denominator(1024)
        return str(ratio) if abs(float(ratio) - v) < 1e-9 * max(abs(v), 1) else f"{v:.4g}"
    return ",".join(one(v) for v in values)


def _halvings(smallest: int, largest: int = 0) -> tuple[float, ...]:
    """Fractions 1/2^largest … 1/2^smallest, small to large (e.g. _halvings(6) → 1/64 … 1)."""
    return tuple(2.0 ** -k for k in range(smallest, largest - 1, -1))


#: Issue #22: small's grid, and past the one-epoch cap 2×, 4× and 8× the examples (the deformed stream) for
#: widths 1–8 — the widths whose data binds above small's window, 8 % of a seed's FLOPs per example.
DECIDE = Budget("decide", widths=(1, 2, 3, 4, 6, 8, 11, 16, 23, 32), fractions=_halvings(6), seeds=(0, 1),
                extra_fractions=(2.0, 4.0, 8.0), extra_fractions_widths=(1, 2, 3, 4, 6, 8),
                dropout_widths=DROPOUT_WIDTHS, **SWEEP_DESIGN, **WORTH_DESIGN,
                description="small, with 8× the examples (deformed copies) where the data binds")

BUILTIN_BUDGETS: dict[str, Budget] = {
    b.name: b for b in (
        Budget("tiny", widths=(1, 2, 3, 4, 6, 8), fractions=_halvings(5, 2), seeds=(0, 1),
               sweep_widths=(2, 4, 16), sweep_fraction=1 / 8, sweep_mults=tuple(2.0 ** k for k in range(-2, 3)),
               sweep_seeds=(0, 1), description="tests and CI smoke"),
        Budget("small", widths=(1, 2, 3, 4, 6, 8, 11, 16, 23, 32), fractions=_halvings(6), seeds=(0, 1),
               dropout_widths=DROPOUT_WIDTHS, **SWEEP_DESIGN, **WORTH_DESIGN, description="a laptop"),
        DECIDE,
        # decide with seeds 0–3 at widths 1–8, where the window reads (11–32 keep 2: a seed of theirs costs ten
        # times a small width's). On an avx512_bf16 EPYC: 22 (fp32) and 21 (bf16) of 27 claims decided against
        # decide's 19 and 17; the three γ approaches agree within 0.2 in both precisions; +8.0 min wall.
        dataclasses.replace(DECIDE, name="decide4", extra_seeds=(2, 3), extra_seeds_widths=(1, 2, 3, 4, 6, 8),
                            description="decide, with 4 seeds at widths 1–8 where the window reads"),
        Budget("medium", widths=(1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64), fractions=_halvings(7), seeds=(0, 1, 2),
               sweep_widths=(4, 11, 32, 64), sweep_fraction=1 / 4, sweep_seeds=(0, 1, 2),
               sweep_mults=tuple(2.0 ** k for k in range(-4, 5)), description="a patient CPU or one GPU"),
        Budget("full", widths=(1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128), fractions=_halvings(8),
               seeds=(0, 1, 2, 3, 4), sweep_widths=(4, 11, 32, 64, 128), sweep_fraction=1 / 4,
               sweep_seeds=(0, 1, 2), sweep_mults=tuple(2.0 ** k for k in range(-4, 5)), description="GPU runners"),
        # Issue #14: does γ depend on the protocol? `small`'s widths up to 16 (width 1 opens the compute-limited
        # window, N_opt crosses 2…4 inside it, 6…16 bound it from above) and fractions, 3 seeds, no dropout,
        # each run both at constant LR and cooled down. Its constant runs of seeds 0 and 1 and its LR sweep are
        # `small`'s (same specs, same cache keys), though a chain whose cooldowns are not cached retrains its
        # trunk to branch them. Epochs 1…8 on 1/32 and 1/8 stay within the one-epoch curve (8 × 1/8 is all the
        # data), so each repeated run is read against fresh data of the same width without extrapolating.
        Budget("protocols", widths=(1, 2, 3, 4, 6, 8, 11, 16), fractions=_halvings(6), seeds=(0, 1, 2),
               dropouts=(0.0,), schedules=("constant", "cooldown"), epochs=(1, 2, 4, 8), epoch_widths=(4, 11),
               epoch_fractions=(1 / 32, 1 / 8), **SWEEP_DESIGN,
               description="training protocols: constant LR vs cooldown, and repeated epochs"),
        # Issue #16: does bf16 move the estimates? `protocols`' main grid without its protocols (its constant
        # fp32 runs are these, same cache keys) in both precisions, whichever the session's is: each bf16 run
        # is paired with the fp32 run of the same initialisation and data order.
        Budget("precision", widths=(1, 2, 3, 4, 6, 8, 11, 16), fractions=_halvings(6), seeds=(0, 1, 2),
               dropouts=(0.0,), compare_precisions=("fp32", "bf16"), **SWEEP_DESIGN,
               description="precision: the main grid in fp32 and in bf16"),
    )
}

_TUPLE_FIELDS = {"widths": int, "fractions": float, "seeds": int, "dropouts": float, "sweep_widths": int,
                 "sweep_mults": float, "sweep_seeds": int, "schedules": str, "epochs": int, "epoch_widths": int,
                 "epoch_fractions": float, "compare_precisions": str, "extra_seeds": int, "extra_seeds_widths": int,
                 "extra_fractions": float, "extra_fractions_widths": int, "worth_widths": int,
                 "worth_bases": float, "worth_copies": int, "worth_seeds": int, "dropout_widths": int}
_SCALAR_FIELDS = {"sweep_fraction": float, "lr_scale": float, "batch_size": int, "description": str,
                  "precision": str, "stream": str}


def _number(text: str, kind):
    if kind is str:
        return text
    value = float(Fraction(text)) if "/" in text else float(text)
    if kind is int:
        if value != int(value):
            raise ValueError(f"{text!r} is not an integer")
        return int(value)
    return value


def parse_budget_line(line: str, known: dict[str, Budget]) -> Budget:
    """``name: parent=small widths=2,4,8 fractions=1/8,1/4`` → Budget (errors name the bad part)."""
    if ":" not in line:
        raise UnknownBudget(f"budget definition {line!r} needs the form 'name: key=value ...'")
    name, _, rest = line.partition(":")
    name = name.strip()
    if not name.isidentifier():
        raise UnknownBudget(f"budget name {name!r} must be a plain identifier")
    fields: dict = {}
    parent_name = "small"
    for item in rest.split():
        key, sep, value = item.partition("=")
        if not sep:
            raise UnknownBudget(f"budget {name!r}: {item!r} is not key=value")
        try:
            if key == "parent":
                parent_name = value
            elif key in _TUPLE_FIELDS:
                fields[key] = tuple(_number(v, _TUPLE_FIELDS[key]) for v in value.split(",") if v)
            elif key in _SCALAR_FIELDS:
                fields[key] = _number(value, _SCALAR_FIELDS[key])
            else:
                valid = ", ".join(["parent", *_TUPLE_FIELDS, *_SCALAR_FIELDS])
                raise UnknownBudget(f"budget {name!r}: unknown key {key!r}; valid keys: {valid}")
        except (ValueError, ZeroDivisionError) as error:
            raise UnknownBudget(f"budget {name!r}: bad value for {key!r}: {error}") from None
    if parent_name not in known:
        raise UnknownBudget(f"budget {name!r}: unknown parent {parent_name!r}; known: {', '.join(known)}")
    budget = dataclasses.replace(known[parent_name], name=name, **fields)
    _validate(budget)
    return budget


def _validate(b: Budget) -> None:
    if not b.widths or any(w < 1 for w in b.widths):
        raise UnknownBudget(f"budget {b.name!r}: widths must be positive integers")
    if not b.fractions or any(not 0 < f <= MAX_FRACTION
                              for f in (*b.fractions, *b.extra_fractions, b.sweep_fraction, *b.epoch_fractions)):
        raise UnknownBudget(f"budget {b.name!r}: fractions (and extra_fractions, sweep_fraction, epoch_fractions) "
                            f"must lie in (0, 1] "
                            f"for shares of the 60k training images, or in (1, {MAX_FRACTION:g}] for that many times "
                            f"60k examples, the images then deformed copies of them (2 = the images and one copy)")
    try:
        DeformParams.parse(b.stream)
    except (ValueError, TypeError) as error:
        raise UnknownBudget(f"budget {b.name!r}: bad stream {b.stream!r}: {error}; give stream=name=value,… "
                            f"over the defaults ({DeformParams().key()})") from None
    if not b.seeds or b.batch_size < 1 or b.lr_scale <= 0 or any(not 0 <= p < 1 for p in b.dropouts):
        raise UnknownBudget(f"budget {b.name!r}: needs ≥1 seed, batch_size ≥ 1, lr_scale > 0, dropouts in [0, 1)")
    if not b.schedules or any(s not in SCHEDULES for s in b.schedules):
        raise UnknownBudget(f"budget {b.name!r}: schedules must be among {', '.join(SCHEDULES)}")
    if "constant" not in b.schedules:
        raise UnknownBudget(f"budget {b.name!r}: schedules must include constant (every claim but the protocol "
                            f"claims reads the constant-LR runs, and a cooldown is measured against them)")
    if b.precision not in PRECISIONS or any(p not in PRECISIONS for p in b.compare_precisions):
        raise UnknownBudget(f"budget {b.name!r}: precision and compare_precisions must be among "
                            f"{', '.join(PRECISIONS)}")
    if b.compare_precisions and set(b.compare_precisions) != set(PRECISIONS):
        raise UnknownBudget(f"budget {b.name!r}: compare_precisions trains the main grid in every precision, "
                            f"whichever a session runs in: give compare_precisions={','.join(PRECISIONS)}")
    if not b.epochs or any(e < 1 for e in b.epochs) or any(w < 1 for w in b.epoch_widths):
        raise UnknownBudget(f"budget {b.name!r}: epochs must be integers ≥ 1, epoch_widths positive")
    if any(w < 1 for w in b.dropout_widths):
        raise UnknownBudget(f"budget {b.name!r}: dropout_widths must be positive integers")
    if b.worth_widths and not (b.worth_bases and b.worth_copies):
        raise UnknownBudget(f"budget {b.name!r}: worth_widths needs worth_bases and worth_copies too (an empty "
                            f"worth_widths= drops the worth design)")
    if any(w < 1 for w in b.worth_widths) or any(not 0 < f < 1 for f in b.worth_bases) or any(
            k < 2 for k in b.worth_copies) or any(f * k > 1 + 1e-12 for f in b.worth_bases for k in b.worth_copies):
        raise UnknownBudget(f"budget {b.name!r}: worth_widths must be positive, worth_bases in (0, 1), worth_copies "
                            f"integers ≥ 2, and every base × copies ≤ 1 (the fresh runs it is read against end at "
                            f"all 60k images)")


def available_budgets(ini_lines: list[str] | None = None) -> dict[str, Budget]:
    budgets = dict(BUILTIN_BUDGETS)
    for line in ini_lines or ():
        if line.strip():
            budget = parse_budget_line(line, budgets)
            budgets[budget.name] = budget
    return budgets


def get_budget(name: str, ini_lines: list[str] | None = None) -> Budget:
    budgets = available_budgets(ini_lines)
    if name not in budgets:
        raise UnknownBudget(f"unknown budget {name!r}; valid budgets: {', '.join(budgets)}")
    return budgets[name]
