"""pytest hooks only: options + ini, fixtures, header, claim records, terminal summary.

Inert until used: registering options, ini keys and markers costs nothing, and the session
(torch, scipy, the dataset) is built only once a ``--scaling-*`` option is given on the command
line or a claim is collected (or its record arrives from an xdist worker). A project without
claims gets no header line, no summary and no report.

Works under pytest-xdist: workers train (sharing the grid through the cache's
locks) and ship claim records in ``report.user_properties`` and the runs they saw
and trained in ``workeroutput``; the controller summarises, counting each run once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager

import pytest

from pytest_scaling.errors import ScalingError

CLAIM_PROPERTY = "scaling_claim"
CLAIMS_MODULE = "pytest_scaling.claims"  # looked up in sys.modules: a session that made no claim never imports it
STATS_KEY = "pytest_scaling_stats"
state_key = pytest.StashKey["ScalingState"]()

# (option suffix, ini type, default, help). Every command-line option has an ini key scaling_<suffix>.
_VALUE_OPTIONS = [
    ("budget", "string", "small", "named budget (tiny, small, decide, medium, full, or one in scaling_budgets)"),
    ("dataset", "string", "auto", "auto (MNIST if found or downloadable, else Fashion-MNIST), mnist, fashion-mnist"),
    ("data-dir", "string", None, "directory with the IDX files or a torchvision root (env PYTEST_SCALING_DATA_DIR)"),
    ("device", "string", "auto", "auto, cpu, cuda, cuda:N or mps"),
    ("precision", "string", "auto", "forward-pass arithmetic: auto (bf16 where the device computes it natively, "
                                    "else fp32), fp32 or bf16"),
    ("cache-dir", "string", None, "run cache directory (env PYTEST_SCALING_CACHE; default: the user cache dir)"),
    ("confidence", "string", "0.95", "confidence level of every interval"),
    ("family", "string", "finding", "family-wise error control: finding (Holm within each claim module), "
                                    "session (Holm over every claim), none"),
    ("import", "string", None, "use runs from this CSV (from `pytest-scaling runs --format csv`) instead of training"),
    ("group-size", "string", None, "runs trained together as one grouped model (1 turns batching off)"),
    ("executor", "string", "auto", "auto (processes on a multi-core CPU, else local), local (this process), "
                                   "processes (one single-threaded process per core), ray"),
    ("workers", "string", None, "processes for --scaling-executor=processes (default: CPU count)"),
    ("ray-address", "string", None, "address of an existing Ray cluster (with --scaling-executor=ray)"),
    ("report", "string", None, "write report.json, plots and index.html into this directory"),
    ("save", "string", None, "save this session's estimates as baseline NAME"),
    ("compare", "string", None, "compare estimates against baseline NAME"),
    ("compare-fail", "string", None, "fail when an estimate moves more than FAIL allows, e.g. gamma:0.05 or *:10%"),
    ("baseline-dir", "string", ".scaling", "where baselines are saved (commit it)"),
]
_FLAG_OPTIONS = [
    ("no-train", "use cached runs only; never train"),
    ("retrain", "ignore cached runs and train again"),
    ("strict", "inconclusive claims fail instead of being skipped"),
    ("family-wise", "the same as --scaling-family=session (Holm over every claim of the session)"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scaling", "scaling-law claims (pytest-scaling)")
    for suffix, ini_type, default, help_text in _VALUE_OPTIONS:
        dest = "scaling_" + suffix.replace("-", "_")
        # argparse %-formats option help (for %(default)s): a literal % must be doubled.
        group.addoption(f"--scaling-{suffix}", dest=dest, default=None, metavar=suffix.split("-")[-1].upper(),
                        help=f"{help_text} (ini: {dest}; default: {default})".replace("%", "%%"))
        parser.addini(dest, help_text, type=ini_type, default=default)
    for suffix, help_text in _FLAG_OPTIONS:
        dest = "scaling_" + suffix.replace("-", "_")
        group.addoption(f"--scaling-{suffix}", dest=dest, action="store_true", default=None,
                        help=f"{help_text} (ini: {dest})".replace("%", "%%"))
        parser.addini(dest, help_text, type="bool", default=False)
    parser.addini("scaling_budgets", "user budgets, one per line: 'name: parent=tiny widths=2,4 fractions=1/8,1/4 "
                  "seeds=0,1 ...'", type="linelist", default=[])


def _get(config: pytest.Config, suffix: str):
    dest = "scaling_" + suffix.replace("-", "_")
    value = config.getoption(dest)
    return value if value is not None else config.getini(dest)


def _positive_int_option(config: pytest.Config, suffix: str) -> int | None:
    value = _get(config, suffix)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise pytest.UsageError(f"--scaling-{suffix} must be a positive integer, got {value!r}")
    return number


class ScalingState:
    """Per-process state: the session, the claim records and the baseline outcome."""

    def __init__(self, config: pytest.Config):
        from pytest_scaling.session import ScalingOptions, ScalingSession

        confidence = _get(config, "confidence")
        try:
            self.confidence = float(confidence)
            if not 0.5 <= self.confidence < 1:
                raise ValueError
        except ValueError:
            raise pytest.UsageError(f"--scaling-confidence must be a number in [0.5, 1), got {confidence!r}") from None
        group_size = _positive_int_option(config, "group-size")
        from pytest_scaling.executors import EXECUTOR_CHOICES

        executor = _get(config, "executor")
        if executor not in EXECUTOR_CHOICES:
            raise pytest.UsageError(f"--scaling-executor: unknown executor {executor!r}; "
                                    f"choose one of: {', '.join(EXECUTOR_CHOICES)}")
        if executor == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                raise pytest.UsageError("--scaling-executor=ray needs Ray: pip install 'pytest-scaling[ray]'") from None
        workers = _positive_int_option(config, "workers")
        options = ScalingOptions(
            budget=_get(config, "budget"), budget_lines=tuple(config.getini("scaling_budgets")),
            dataset=_get(config, "dataset"), data_dir=_get(config, "data-dir") or None,
            device=_get(config, "device"), cache_dir=_get(config, "cache-dir") or None,
            no_train=bool(_get(config, "no-train")), retrain=bool(_get(config, "retrain")),
            import_csv=_get(config, "import") or None, group_size=group_size,
            executor=executor, workers=workers, ray_address=_get(config, "ray-address") or None,
            precision=_get(config, "precision"),
        )
        from pytest_scaling.data import DATASET_CHOICES

        if options.dataset not in DATASET_CHOICES:
            raise pytest.UsageError(f"--scaling-dataset: unknown dataset {options.dataset!r}; "
                                    f"choose one of: {', '.join(DATASET_CHOICES)}")
        try:
            self.session = ScalingSession(options)
        except ScalingError as error:
            raise pytest.UsageError(str(error)) from None
        self.strict = bool(_get(config, "strict"))
        from pytest_scaling.claims import FAMILY_POLICIES

        self.family = "session" if _get(config, "family-wise") else _get(config, "family")
        if self.family not in FAMILY_POLICIES:
            raise pytest.UsageError(f"--scaling-family: unknown policy {self.family!r}; "
                                    f"choose one of: {', '.join(FAMILY_POLICIES)}")
        self.report_dir = _get(config, "report") or None
        self.save = _get(config, "save") or None
        self.compare = _get(config, "compare") or None
        self.baseline_dir = _get(config, "baseline-dir")
        self.fail_rules = []
        compare_fail = _get(config, "compare-fail") or None
        if compare_fail:
            from pytest_scaling.baseline import parse_fail_expr

            if not self.compare:
                raise pytest.UsageError("--scaling-compare-fail needs --scaling-compare=NAME")
            try:
                self.fail_rules = [parse_fail_expr(part) for part in compare_fail.split(",") if part.strip()]
            except ValueError as error:
                raise pytest.UsageError(f"--scaling-compare-fail: {error}") from None
        self.baseline: dict | None = None  # the --scaling-compare baseline, loaded when the session starts
        self.records: list[dict] = []
        self.worker_stats: list[dict] = []
        self.started = time.time()
        self.prepared = False
        self.checked = False  # the report directory and baselines (``_check_outputs``)
        self.header_shown = False
        self.comparison_text = ""
        self.violations: list[str] = []


def _given_on_command_line(config: pytest.Config) -> bool:
    """Whether any --scaling-* option was given: every one defaults to None (its ini key aside)."""
    options = [suffix for suffix, *_ in _VALUE_OPTIONS] + [suffix for suffix, _ in _FLAG_OPTIONS]
    return any(config.getoption("scaling_" + suffix.replace("-", "_")) is not None for suffix in options)


def _active(config: pytest.Config) -> ScalingState | None:
    """The state if the plugin is in use, else None (and nothing may be imported or resolved)."""
    return config.stash.get(state_key, None)


def _activate(config: pytest.Config) -> ScalingState:
    """The state, built on first use: this is where the options are checked (a usage error for a
    bad one) and where claims.py, with scipy, is first imported."""
    state = config.stash.get(state_key, None)
    if state is None:
        state = ScalingState(config)
        config.stash[state_key] = state
        state.session.xdist_workers = _xdist_workers(config)
        import pytest_scaling.claims as claims

        claims.configure(confidence=state.confidence, strict=state.strict, family_size=1)
    return state


class _Reports:
    """The hooks that receive no config, registered in every session: a claim's record from a test
    report, and the runs an xdist worker trained. Either one means the plugin is in use (an xdist
    controller collects nothing, so this is how it learns)."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        records = [json.loads(value) for name, value in report.user_properties if name == CLAIM_PROPERTY]
        if records:
            _activate(self.config).records.extend(records)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        stats = getattr(node, "workeroutput", {}).get(STATS_KEY)
        if stats:
            _activate(self.config).worker_stats.append(json.loads(stats))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scaling: a claim about scaling laws (uses the scaling_grid fixture)")
    config.addinivalue_line("markers", "scaling_needs(protocol): the claim needs runs only some budgets train"
                            f"{_protocols(config)}; skipped at collection on a budget without them")
    config.pluginmanager.register(_Reports(config), "scaling-reports")
    if _given_on_command_line(config):  # asked for: check the options now, before anything runs
        _activate(config)


def _protocols(config: pytest.Config) -> str:
    """`` ('cooldown', ...)`` for ``pytest --markers``, else nothing: naming them imports the budgets (numpy)."""
    if not config.getoption("markers", False):
        return ""
    from pytest_scaling.budgets import PROTOCOL_BUDGETS

    return f" ({', '.join(map(repr, PROTOCOL_BUDGETS))})"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Settings live in a module: put the defaults back so an in-process session does not leak them."""
    state = _active(config)
    if state is not None:
        state.session.close()
    claims = sys.modules.get(CLAIMS_MODULE)
    if claims is not None:
        claims.configure()
        claims.take_records()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Check what is only used once the grid has trained: the report directory and the baseline.

    Either failing after a long training would waste it; checked here, it is a usage error
    before the first run. On pytest-xdist's controller only (tryfirst: before workers start).
    """
    state = _active(session.config)
    if state is not None:
        _check_outputs(session.config, state)


def _check_outputs(config: pytest.Config, state: ScalingState) -> None:
    """The report directory and the baselines, checked once, before training (never on an xdist worker)."""
    if state.checked or hasattr(config, "workerinput"):
        return
    state.checked = True
    if state.report_dir:
        _check_writable_dir(state.report_dir, "--scaling-report",
                            "give a directory you can write, e.g. --scaling-report=scaling-report")
    if state.save:
        from pytest_scaling.baseline import check_name

        try:
            check_name(state.save)
        except ValueError as error:
            raise pytest.UsageError(f"--scaling-save: {error}") from None
        _check_writable_dir(state.baseline_dir, "--scaling-baseline-dir",
                            "give a directory you can write with --scaling-baseline-dir=DIR")
    if state.compare:
        from pytest_scaling import baseline

        try:
            state.baseline = baseline.load(state.compare, state.baseline_dir)
        except ValueError as error:  # BaselineError says which baselines exist and how to save one
            raise pytest.UsageError(f"--scaling-compare: {error}") from None


def _check_writable_dir(path: str, option: str, advice: str) -> None:
    """Create ``path`` if missing and write a file into it; a usage error when either fails."""
    import tempfile

    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise pytest.UsageError(f"{option}: cannot write into {path!r} ({reason}); {advice}") from None


def _xdist_workers(config: pytest.Config) -> int:
    """How many pytest-xdist workers this (controller) session starts; 0 without xdist or in a worker."""
    if hasattr(config, "workerinput") or config.getoption("dist", "no") == "no":
        return 0
    spec = config.getoption("numprocesses", None)  # -n N (``auto`` resolves to a number by now)
    if isinstance(spec, int) and spec > 0:
        return spec
    count = 0
    for tx in config.getoption("tx", None) or ():  # --tx 3*popen counts 3
        head, _, _ = str(tx).partition("*")
        count += int(head) if head.isdigit() and "*" in str(tx) else 1
    return count


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The header, when a --scaling-* option says the plugin is used; otherwise it waits for collection."""
    return _header(config)


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    """The header after collection, when a collected claim is what put the plugin to use. (An xdist
    controller collects nothing: there the summary alone speaks.)"""
    if config.get_verbosity() < 0 or hasattr(config, "workerinput"):  # as pytest's own header: none under -q
        return []
    return _header(config)


def _header(config: pytest.Config) -> list[str]:
    state = _active(config)
    if state is None or state.header_shown:
        return []
    state.header_shown = True
    return state.session.header()


def _uses_scaling(item: pytest.Item) -> bool:
    return any(name.startswith("scaling_") for name in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail fast, before any test runs, when the dataset, device or cache dir is unusable."""
    scaling_items = [item for item in items if _uses_scaling(item)]
    state = _activate(config) if scaling_items else _active(config)
    if state is None:
        return
    _check_outputs(config, state)
    for item in scaling_items:
        item.add_marker("scaling")
    scaling_items = [item for item in scaling_items if _budget_provides(item, state.session.budget)]
    import pytest_scaling.claims as claims

    families: dict[str, int] = {}
    for item in scaling_items:
        families[claims.family_of(item.nodeid)] = families.get(claims.family_of(item.nodeid), 0) + 1
    claims.configure(confidence=state.confidence, strict=state.strict, policy=state.family,
                     family_size=max(1, len(scaling_items)) if state.family == "session" else 1, families=families)
    if scaling_items:
        # Where training reports progress, set before prepare() builds the runner that reports it.
        state.session.console = _terminal_console(config)
        state.session.progress_line = None if state.session.console else _progress_writer(config)
        try:
            state.session.prepare()
        except ScalingError as error:
            raise pytest.UsageError(str(error)) from None


def _budget_provides(item: pytest.Item, budget) -> bool:
    """False, with a skip marker naming the budget that has them, when the claim needs protocol runs
    (``@pytest.mark.scaling_needs("cooldown")``) this budget does not train; such a claim is then no
    member of the family-wise correction's family."""
    from pytest_scaling.budgets import PROTOCOL_BUDGETS

    for marker in item.iter_markers("scaling_needs"):
        protocol = marker.args[0] if marker.args else ""
        try:
            provided = budget.provides(protocol)
        except ValueError as error:
            raise pytest.UsageError(f"{item.nodeid}: scaling_needs: {error}") from None
        if not provided:
            builtin, keys = PROTOCOL_BUDGETS[protocol]
            item.add_marker(pytest.mark.skip(
                reason=f"budget {budget.name!r} trains no {protocol} runs; this claim needs "
                       f"--scaling-budget={builtin} (or a budget line with {keys})"))
            return False
    return True


def _live_terminal(config: pytest.Config) -> bool:
    """Whether pytest writes to a person's terminal (a tty with markup, outside CI) rather than a log.

    A log gets progress lines instead of a live bar, and one line per claim instead of a table.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return False
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    isatty = getattr(reporter._tw._file, "isatty", None)
    return bool(reporter._tw.hasmarkup and isatty and isatty())


def _terminal_console(config: pytest.Config):
    """A rich console on the real terminal, or None off one.

    Training runs inside a test, while pytest captures file descriptor 1, so the console
    writes to a duplicate of the terminal's descriptor taken now (outside capture).
    """
    if not _live_terminal(config):
        return None
    writer = config.pluginmanager.get_plugin("terminalreporter")._tw
    try:
        file = open(os.dup(writer._file.fileno()), "w", encoding="utf-8", errors="replace")  # noqa: SIM115
    except (AttributeError, OSError, ValueError):
        return None
    config.add_cleanup(file.close)  # it lives as long as the session, not a block
    return _make_terminal_console(file, writer)


def _make_terminal_console(file, writer):
    from rich.console import Console

    class TerminalConsole(Console):
        """A console that shares the terminal with pytest's reporter: a live display gets a
        line of its own, and when it is gone the cursor goes back to the end of pytest's line."""

        @contextmanager
        def live_region(self):
            writer.flush()
            column = writer.width_of_current_line
            self.file.write("\n")
            self.file.flush()
            try:
                yield
            finally:  # a transient bar leaves the cursor at the start of its line, one below pytest's
                self.file.write("\x1b[1A" + (f"\x1b[{column}C" if column else ""))
                self.file.flush()

    return TerminalConsole(file=file)


def _progress_writer(config: pytest.Config):
    """Write a progress line through the terminal reporter, past the capture of the test that trains."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return None  # an xdist worker's output does not reach the log
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
        reporter.flush()

    return write


class ScalingGrid:
    """What ``scaling_grid`` gives a test: call it for a slice of the main grid; ``.lr_sweep()`` for the sweep."""

    def __init__(self, session):
        self._session = session
        self._memo: dict = {}

    @property
    def budget(self):
        return self._session.budget

    def __call__(self, dropout=None, widths=None, fractions=None, seeds=None, schedule="constant", epochs=1,
                 precision=None):
        """Runs of the main grid; by default constant LR, one epoch, the session's precision.
        ``schedule="cooldown"``, ``epochs=4`` or ``precision="bf16"`` select a protocol the budget trains;
        None keeps them all (for precision: the session's)."""
        return self._checked(lambda: self._session.main_grid(dropout, widths, fractions, seeds, schedule, epochs,
                                                             precision))

    def lr_sweep(self, widths=None):
        return self._checked(lambda: self._session.lr_sweep(widths))

    def memo(self, key, compute):
        """``compute()`` once per session and key: claims that share an estimate (a joint bootstrap,
        one LR sweep) ask for it by name. A FitError is kept and raised again for every claim."""
        from pytest_scaling.errors import FitError

        if key not in self._memo:
            try:
                self._memo[key] = compute()
            except FitError as error:
                self._memo[key] = error
        if isinstance(self._memo[key], FitError):
            raise self._memo[key]
        return self._memo[key]

    _full_reported = False  # the first claim a full cache stops fails with why; the rest skip with it

    def _checked(self, get):
        from pytest_scaling.errors import CacheFull

        try:
            table, problem = get(), None
        except ScalingError as error:
            table, problem = None, error
        # Outside the except block, so the report shows the message alone, not the exceptions chained to it.
        if isinstance(problem, CacheFull):
            if self._full_reported:
                pytest.skip(f"training stopped: {problem}")
            self._full_reported = True
        if problem is not None:
            pytest.fail(str(problem), pytrace=False)
        if len(table) == 0:
            hint = (f"run `pytest-scaling train --budget {self.budget.name}` or drop --scaling-no-train"
                    if self._session.options.no_train else "check the slice's filters against the budget")
            pytest.skip(f"no runs for this slice of budget {self.budget.name!r}: {hint}")
        return table


@pytest.fixture(scope="session")
def scaling_grid(request: pytest.FixtureRequest) -> ScalingGrid:
    """Runs of the session's budget, trained (or taken from the cache) on first use."""
    return ScalingGrid(_activate(request.config).session)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A degenerate fit inside a claim means this budget cannot decide it: inconclusive, not an error."""
    from pytest_scaling.errors import FitError

    try:
        return (yield)
    except FitError as error:
        if not _uses_scaling(item):
            raise
        import pytest_scaling.claims as claims

        record = claims.record_undecided(item.nodeid, item.name, f"this budget cannot decide: {error}",
                                         getattr(error, "to_decide", ""))
        message = f"inconclusive: {record.reason}; to decide: {record.to_decide}"
        if _activate(item.config).strict:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    # Records go on the item, so the teardown report carries them (that is the one JUnit XML and
    # pytest-xdist's controller read); the state collects them from there, once.
    claims = sys.modules.get(CLAIMS_MODULE)
    records = claims.take_records() if claims is not None else []
    if records:  # a claim was made, so the plugin is in use; the finding its module tests groups it in the report
        budget = _activate(item.config).session.budget
        module = getattr(item, "module", None)
        finding, source = claims.module_finding(getattr(module, "__doc__", None))
        origin = {"finding": finding, "source": source, "module": item.path.stem if module else None}
    for record in records:
        data = record.to_dict()
        data.update(origin)
        factor = data["details"].get("seeds_factor")
        if factor is not None:
            from pytest_scaling.budgets import budget_for_seeds

            field = data["details"].get("seed_field", "seeds")
            widths = data["details"].get("widths_read")
            data["to_decide"] = f"{data['to_decide']}: {budget_for_seeds(budget, factor, field, widths)}"
        item.user_properties.append((CLAIM_PROPERTY, json.dumps(data, default=str)))
        prefix = f"scaling.{data['quantity']}"
        item.user_properties.extend([
            (f"{prefix}.estimate", data["estimate"]), (f"{prefix}.ci", f"[{data['ci_low']}, {data['ci_high']}]"),
            (f"{prefix}.verdict", data["verdict"]),
        ])
    return (yield)


def _totals(state: ScalingState) -> dict:
    """This session's runs, each counted once across xdist workers and the controller."""
    from pytest_scaling.runner import merge_stats

    totals = merge_stats([state.session.stats()] + state.worker_stats)
    totals["total_compute_flops"] = totals["spent_flops"]  # what this session spent training
    totals["wall_seconds"] = time.time() - state.started
    return totals


def _meta(state: ScalingState) -> dict:
    session = state.session
    try:
        dataset = session.source.display_name if not session.options.import_csv else "imported CSV"
    except ScalingError:
        dataset = "unavailable"
    import torch

    try:  # imported runs were trained elsewhere: only the option is known
        device = session.options.device if session.options.import_csv else session.hardware()
    except Exception:  # a device query must not cost the report after a long run
        device = session.options.device
    meta = {"budget": session.budget.name, "dataset": dataset, "device": device,
            "precision": session.precision, "torch": torch.__version__,
            "cache_dir": str(session.store.directory), "confidence": state.confidence,
            "design": _design(state)}
    meta.update(_totals(state))
    return meta


def _design(state: ScalingState) -> dict | None:
    """The design diagnosis of the main grid without dropout (what binds where, the window), from
    cached runs only; None when there are none or they cannot be diagnosed."""
    if getattr(state, "design", False) is not False:
        return state.design
    from pytest_scaling.errors import FitError

    state.design = None
    try:
        session = state.session if state.session.options.import_csv else state.session.with_options(no_train=True)
        runs = session.main_grid(dropout=0.0).where(lr_mult=1.0)
        if len(runs):
            from pytest_scaling.estimators.design import diagnose

            state.design = diagnose(runs).to_dict()
    except (ScalingError, FitError):
        pass
    return state.design


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    config = session.config
    state = _active(config)
    if state is None:
        return
    if hasattr(config, "workerinput"):  # a worker: hand the runs it saw and trained to the controller
        config.workeroutput[STATS_KEY] = json.dumps(state.session.stats())
        return
    if not state.records:
        return
    import pytest_scaling.claims as claims

    if state.family != "none":
        adjusted = claims.holm_adjust([claims.ClaimRecord.from_dict(r) for r in state.records], state.confidence,
                                      state.family)
        # from_dict keeps the record's own fields; the plugin's additions (finding, source, module) ride along
        state.records = [{**old, **new.to_dict()} for old, new in zip(state.records, adjusted)]
    if not (state.report_dir or state.save or state.compare):
        return
    from pytest_scaling import baseline, report

    runs = None
    if state.report_dir:
        try:
            runs = state.session.with_options(no_train=True).runs(state.session.budget.all_specs())
        except ScalingError:
            runs = None
    meta = _meta(state)
    current = report.build_report_json(state.records, meta, runs)
    if state.report_dir:
        report.write_report(state.report_dir, state.records, meta, runs, report_json=current)
    if state.compare:
        try:
            saved = state.baseline or baseline.load(state.compare, state.baseline_dir)
            deltas = baseline.compare(current, saved)
        except (ValueError, OSError) as error:
            state.violations = [f"cannot compare with baseline {state.compare!r}: {error}"]
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        else:
            writer = config.get_terminal_writer()
            state.comparison_text = baseline.render_comparison(deltas, width=writer.fullwidth, color=writer.hasmarkup,
                                                               changes=baseline.setting_changes(current, saved))
            state.violations = baseline.violations(deltas, state.fail_rules)
            if state.violations:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if state.save:
        baseline.save(current, state.save, state.baseline_dir)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state = _active(config)
    if state is None or hasattr(config, "workerinput"):
        return
    if not (state.records or state.session.stats() or state.worker_stats):
        return
    from pytest_scaling import report

    writer = terminalreporter._tw
    terminalreporter.write_sep("=", "pytest-scaling")
    layout = "table" if _live_terminal(config) else "lines"
    terminalreporter.write(report.render_summary(state.records, _meta(state), width=writer.fullwidth,
                                                 color=writer.hasmarkup, layout=layout))
    if state.comparison_text:
        terminalreporter.write_sep("-", f"compared with baseline {state.compare!r}")
        terminalreporter.write(state.comparison_text)
    for line in state.violations:
        terminalreporter.write_line(f"REGRESSION: {line}", red=True, bold=True)
    if state.report_dir:
        terminalreporter.write_line(f"report written to {state.report_dir}/index.html")
    if state.save:
        terminalreporter.write_line(f"baseline {state.save!r} saved in {state.baseline_dir}/")
