"""Every option of pytest-scaling, defined once.

:data:`OPTIONS` is the one table: each row is a pytest option ``--scaling-<name>``, its ini key
``scaling_<name>`` (dashes as underscores) and, for the commands listed in ``cli``, the
``pytest-scaling`` command's ``--<name>``. From it :func:`add_pytest_options` builds pytest's
``addoption``/``addini``, :func:`add_cli_options` the CLI's argparse, :func:`scaling_options`
the session's :class:`~pytest_scaling.session.ScalingOptions`, and :func:`given_on_command_line`
tells whether the plugin was asked for. Adding an option is one row here (and the field it fills).

Choice lists are named, not copied: ``choices="pytest_scaling.data:DATASET_CHOICES"`` is resolved
when a value is checked, so neither ``pytest --help`` nor a project without claims imports the
module that owns the list (torch, for the dataset). This module imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One option; see the module docstring for the names it has in each place."""

    name: str
    help: str
    #: The value when neither the command line nor the ini file gives one (flags: False; lines: none).
    default: Any = None
    #: ``string``, ``flag`` (store_true), ``int`` (a positive integer), ``choice`` (one of ``choices``)
    #: or ``lines`` (an ini line list; the CLI repeats its flag, one line each).
    kind: str = "string"
    #: ``"module:NAME"``: the tuple of allowed values, for ``kind="choice"``.
    choices: str | None = None
    #: The word in "unknown <noun> 'x'" for a choice (default: the name).
    noun: str = ""
    #: The ScalingOptions field this option fills (None: the plugin's own state reads it).
    field: str | None = None
    #: ``pytest-scaling`` commands that take it, as ``--<name>`` (or ``cli_flag``).
    cli: tuple[str, ...] = ()
    cli_flag: str | None = None
    #: Whether pytest takes it on the command line (``--scaling-<name>``) besides the ini key.
    command_line: bool = True
    #: A hook that may supply values beyond ``choices``: where a plugin implements it, pytest takes any value
    #: and the session asks the hook (the CLI, which runs no hooks, keeps to the choices).
    hook: str | None = None

    @property
    def dest(self) -> str:
        """The argparse destination and the ini key: ``scaling_data_dir``."""
        return "scaling_" + self.name.replace("-", "_")

    @property
    def flag(self) -> str:
        return f"--scaling-{self.name}"

    @property
    def metavar(self) -> str:
        return self.name.split("-")[-1].upper()


_TRAIN = ("train",)
_GRID = ("train", "runs")

OPTIONS: tuple[Option, ...] = (
    Option("budget", "named budget (tiny, small, decide, medium, full, or one in scaling_budgets)", "small",
           field="budget", cli=_GRID),
    Option("budgets", "user budgets, one per line: 'name: parent=tiny widths=2,4 fractions=1/8,1/4 seeds=0,1 ...'",
           kind="lines", field="budget_lines", cli=_GRID, cli_flag="--define", command_line=False),
    Option("dataset", "auto (MNIST if found or downloadable, else Fashion-MNIST), mnist, fashion-mnist, or one a "
           "pytest_scaling_resolve_dataset hook supplies", "auto", kind="choice",
           choices="pytest_scaling.data:DATASET_CHOICES", field="dataset", cli=_GRID,
           hook="pytest_scaling_resolve_dataset"),
    Option("data-dir", "directory with the IDX files or a torchvision root (env PYTEST_SCALING_DATA_DIR)",
           field="data_dir", cli=_GRID),
    Option("device", "auto, cpu, cuda, cuda:N or mps", "auto", field="device", cli=_GRID),
    Option("precision", "forward-pass arithmetic: auto (bf16 where native and a short probe measures it faster, "
                        "else fp32), "
                        "fp32 or bf16", "auto",
           kind="choice", choices="pytest_scaling.runs:PRECISION_OPTIONS", field="precision", cli=_GRID),
    Option("cache-dir", "run cache directory (env PYTEST_SCALING_CACHE; default: the user cache dir)",
           field="cache_dir", cli=("train", "runs", "cache")),
    Option("confidence", "confidence level of every interval", "0.95"),
    Option("family", "family-wise error control: finding (Holm within each claim module), "
                     "session (Holm over every claim), none", "finding",
           kind="choice", choices="pytest_scaling.claims:FAMILY_POLICIES", noun="policy"),
    Option("import", "use runs from this CSV (from `pytest-scaling runs --format csv`) instead of training",
           field="import_csv"),
    Option("columns", "column mapping for --scaling-import of another family's runs, "
                      "e.g. 'N=params D=tokens loss=val_loss seed=seed step=step'", field="import_columns"),
    Option("group-size", "runs trained together as one grouped model (1 turns batching off)",
           kind="int", field="group_size", cli=_TRAIN),
    Option("executor", "auto (processes on a multi-core CPU, else local), local (this process), "
                       "processes (one single-threaded process per core), ray", "auto",
           kind="choice", choices="pytest_scaling.executors:EXECUTOR_CHOICES", field="executor", cli=_TRAIN),
    Option("workers", "processes for the processes executor (default: CPU count)",
           kind="int", field="workers", cli=_TRAIN),
    Option("ray-address", "address of an existing Ray cluster (for the ray executor)",
           field="ray_address", cli=_TRAIN),
    Option("report", "write report.json, plots and index.html into this directory"),
    Option("save", "save this session's estimates as baseline NAME"),
    Option("compare", "compare estimates against baseline NAME"),
    Option("compare-fail", "fail when an estimate moves more than FAIL allows, e.g. gamma:0.05 or *:10%"),
    Option("baseline-dir", "where baselines are saved (commit it)", ".scaling"),
    Option("no-train", "use cached runs only; never train", False, kind="flag", field="no_train"),
    Option("retrain", "ignore cached runs and train again", False, kind="flag", field="retrain"),
    Option("strict", "inconclusive claims fail instead of being skipped", False, kind="flag"),
    Option("family-wise", "the same as --scaling-family=session (Holm over every claim of the session)", False,
           kind="flag"),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}

_INI_TYPES = {"string": "string", "int": "string", "choice": "string", "flag": "bool", "lines": "linelist"}


def choices(option: Option) -> tuple[str, ...]:
    """The allowed values of a choice option, from the module that owns the list."""
    module, _, name = option.choices.partition(":")
    return tuple(getattr(importlib.import_module(module), name))


def check(option: Option, value: Any, flag: str | None = None) -> Any:
    """``value`` (as given: a string, a bool, lines) made the option's type: a positive int for ``int``,
    the default for an empty string. A ValueError whose text names ``flag`` (default: the pytest spelling)
    for a value the option does not take."""
    flag = flag or option.flag
    if option.kind == "flag":
        return bool(value)
    if option.kind == "lines":
        return tuple(value or ())
    if value in (None, ""):
        return option.default
    if option.kind == "int":
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            raise ValueError(f"{flag} must be a positive integer, got {value!r}")
        return number
    if option.kind == "choice":
        allowed = choices(option)
        if value not in allowed:
            raise ValueError(f"{flag}: unknown {option.noun or option.name} {value!r}; "
                             f"choose one of: {', '.join(allowed)}")
    return value


# --------------------------------------------------------------------------- pytest


def add_pytest_options(parser) -> None:
    """pytest's options and ini keys: every command-line option defaults to None, so a value given
    is told from the ini key's (:func:`given_on_command_line`)."""
    group = parser.getgroup("scaling", "scaling-law claims (pytest-scaling)")
    for option in OPTIONS:
        parser.addini(option.dest, option.help, type=_INI_TYPES[option.kind],
                      default=[] if option.kind == "lines" else option.default)
        if not option.command_line:
            continue
        # argparse %-formats option help (for %(default)s): a literal % must be doubled.
        if option.kind == "flag":
            group.addoption(option.flag, dest=option.dest, action="store_true", default=None,
                            help=f"{option.help} (ini: {option.dest})".replace("%", "%%"))
        else:
            group.addoption(option.flag, dest=option.dest, default=None, metavar=option.metavar,
                            help=f"{option.help} (ini: {option.dest}; default: {option.default})".replace("%", "%%"))


def raw(config, name: str) -> Any:
    """The option's value as given: the command line's, else the ini key's (else its default)."""
    option = BY_NAME[name]
    value = config.getoption(option.dest) if option.command_line else None
    return value if value is not None else config.getini(option.dest)


def value(config, name: str) -> Any:
    """The option's value, checked and typed (:func:`check`); a ValueError for a bad one. A choice that a
    hook can extend (``Option.hook``) takes any value where a plugin implements the hook."""
    option = BY_NAME[name]
    if option.hook and getattr(config.pluginmanager.hook, option.hook).get_hookimpls():
        option = dataclasses.replace(option, kind="string")
    return check(option, raw(config, name))


def given_on_command_line(config) -> bool:
    """Whether any --scaling-* option was given: every one defaults to None (its ini key aside)."""
    return any(config.getoption(option.dest) is not None for option in OPTIONS if option.command_line)


# --------------------------------------------------------------------------- the CLI


def cli_options(command: str) -> list[Option]:
    return [option for option in OPTIONS if command in option.cli]


def add_cli_options(parser, command: str) -> None:
    """The options ``pytest-scaling <command>`` takes, as ``--<name>``; values stay strings until
    :func:`cli_values` checks them as the plugin does."""
    for option in cli_options(command):
        flag = option.cli_flag or f"--{option.name}"
        dest = option.name.replace("-", "_")
        if option.kind == "flag":
            parser.add_argument(flag, dest=dest, action="store_true", help=option.help)
        elif option.kind == "lines":
            parser.add_argument(flag, dest=dest, action="append", metavar="LINE",
                                help=f"{option.help} (as the {option.dest} ini key)")
        else:
            default = f"; default: {option.default}" if option.default is not None else ""
            parser.add_argument(flag, dest=dest, default=option.default, metavar=option.metavar,
                                help=f"{option.help}{default}".replace("%", "%%"))


def cli_values(args, command: str) -> dict[str, Any]:
    """ScalingOptions fields from parsed CLI ``args``, checked as the plugin checks them."""
    out = {}
    for option in cli_options(command):
        if option.field is None:
            continue
        flag = option.cli_flag or f"--{option.name}"
        out[option.field] = check(option, getattr(args, option.name.replace("-", "_"), option.default), flag)
    return out


# --------------------------------------------------------------------------- the session


def scaling_options(config, **overrides):
    """The session's ScalingOptions from every option with a field (checked; a ValueError for a bad one)."""
    from pytest_scaling.session import ScalingOptions

    fields = {option.field: value(config, option.name) for option in OPTIONS if option.field}
    fields.update(overrides)
    return ScalingOptions(**fields)
