"""``pytest-scaling``: fill the cache, print the run table, inspect or clear the cache."""

from __future__ import annotations

import argparse
import sys
import time

from pytest_scaling import options
from pytest_scaling.errors import ScalingError


def _session(args):
    """The session of a command's options, checked as the plugin checks them (a ScalingError for a bad one)."""
    from pytest_scaling.session import ScalingOptions, ScalingSession

    try:
        fields = options.cli_values(args, args.command)
    except ValueError as error:
        raise ScalingError(str(error)) from None
    fields.setdefault("executor", "local")  # a command that does not train starts no processes
    return ScalingSession(ScalingOptions(no_train=getattr(args, "no_train", False), **fields))


#: The parts of a budget a command works on (``--grid``).
GRIDS = ("all", "main", "sweep")


def _specs(session, which: str):
    budget = session.budget
    return {"main": budget.main_specs(), "sweep": budget.sweep_specs(), "all": budget.all_specs()}[which]


def cmd_train(args) -> int:
    from rich.console import Console

    session = _session(args)
    session.console = Console(stderr=True)  # a live bar on a terminal; lines in a log
    session.progress_line = lambda line: print(line, file=sys.stderr, flush=True)
    specs = _specs(session, args.grid)
    started = time.perf_counter()
    session.prepare()
    try:
        table = session.runs(specs)
    finally:
        session.close()
    stats = session.stats()
    header = "\n".join(session.header())
    print(f"{header}\n{len(table)} runs ready ({stats['runs_cached']} cached, {stats['runs_trained']} trained, "
          f"{stats['runs_diverged']} diverged) in {time.perf_counter() - started:.1f} s; "
          f"the runs' compute {stats['trained_flops']:.3g} FLOPs, spent {stats['spent_flops']:.3g} "
          f"(shorter runs come free from longer ones)", file=sys.stderr)
    return 0


def cmd_runs(args) -> int:
    args.no_train = True
    session = _session(args)
    table = session.runs(_specs(session, args.grid))
    if args.format == "csv":
        sys.stdout.write(table.to_csv())
    else:
        from rich.console import Console
        from rich.table import Table

        view = Table("width", "params", "dropout", "lr_mult", "fraction", "seed", "protocol", "FLOPs", "val_loss",
                     "val_acc", "status")
        for run in table:
            s = run.spec
            status = "diverged" if run.diverged else "collapsed" if run.collapsed else "ok"
            # What sets the run apart from the single-run protocol in fp32 (blank: nothing).
            protocol = ", ".join(x for x in (s.schedule if s.schedule != "constant" else "",
                                             f"{s.epochs} epochs" if s.epochs > 1 else "",
                                             s.precision if s.precision != "fp32" else "") if x)
            view.add_row(str(s.width), str(run.params), f"{s.dropout:g}", f"{s.lr_mult:g}", f"{s.fraction:g}",
                         str(s.seed), protocol, f"{run.flops:.3g}", f"{run.val_loss:.4f}", f"{run.val_acc:.4f}", status)
        Console().print(view)
    missing = session.stats().get("runs_missing", 0)
    if missing:
        print(f"{missing} runs of budget {session.budget.name!r} are not cached; "
              f"`pytest-scaling train --budget {session.budget.name}` trains them", file=sys.stderr)
    return 0


def cmd_cache(args) -> int:
    from pytest_scaling.store import RunStore

    store = RunStore(args.cache_dir)
    if args.action == "info":
        info = store.info()
        print(f"cache: {info['directory']}\nruns: {info['runs']}\nsize: {info['bytes'] / 2**20:.2f} MiB")
    else:
        print(f"removed {store.clear()} runs from {store.directory}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The commands; every option the plugin shares with them comes from ``options.OPTIONS``."""
    parser = argparse.ArgumentParser(prog="pytest-scaling", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train every missing run of a budget into the cache")
    options.add_cli_options(train, "train")
    train.add_argument("--grid", default="all", choices=GRIDS)
    train.set_defaults(func=cmd_train)
    runs = sub.add_parser("runs", help="print the cached runs of a budget")
    options.add_cli_options(runs, "runs")
    runs.add_argument("--grid", default="all", choices=GRIDS)
    runs.add_argument("--format", default="table", choices=("table", "csv"))
    runs.set_defaults(func=cmd_runs)
    cache = sub.add_parser("cache", help="show or clear the run cache")
    options.add_cli_options(cache, "cache")
    cache.add_argument("action", choices=("info", "clear"))
    cache.set_defaults(func=cmd_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScalingError as error:
        print(f"pytest-scaling: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pytest-scaling: interrupted; every finished run is in the cache and the next call resumes",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
