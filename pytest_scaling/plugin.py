"""pytest hooks only: options + ini, the ``scaling_grid`` fixture, header, claim records, summary.

Each job lives in its own module, imported from here: the option table (``options``), the
per-session state and its end-of-session meta (``state``), the fixture's object (``grid``), what
is read from and written onto a claim's item (``items``), the terminal's console (``console``).

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
import sys

import pytest

from pytest_scaling import items as claim_items
from pytest_scaling import options
from pytest_scaling.errors import ScalingError
from pytest_scaling.state import activate, active, check_outputs

CLAIMS_MODULE = "pytest_scaling.claims"  # looked up in sys.modules: a session that made no claim never imports it
STATS_KEY = "pytest_scaling_stats"


def __getattr__(name: str):
    if name == "ScalingGrid":  # its home is pytest_scaling.grid; kept importable from here
        from pytest_scaling.grid import ScalingGrid

        return ScalingGrid
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_addhooks(pluginmanager) -> None:
    from pytest_scaling import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_pytest_options(parser)


class _Reports:
    """The hooks that receive no config, registered in every session: a claim's record from a test
    report, and the runs an xdist worker trained. Either one means the plugin is in use (an xdist
    controller collects nothing, so this is how it learns)."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        records = claim_items.records_of(report)
        if records:
            activate(self.config).records.extend(records)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        stats = getattr(node, "workeroutput", {}).get(STATS_KEY)
        if stats:
            activate(self.config).worker_stats.append(json.loads(stats))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{claim_items.CLAIM_MARKER}: a scaling-law claim (as is any test using "
                            f"{', '.join(claim_items.CLAIM_FIXTURES)})")
    config.addinivalue_line("markers", "scaling_needs(protocol): the claim needs runs only some budgets train"
                            f"{_protocols(config)}; skipped at collection on a budget without them")
    config.pluginmanager.register(_Reports(config), "scaling-reports")
    if options.given_on_command_line(config):  # asked for: check the options now, before anything runs
        activate(config)


def _protocols(config: pytest.Config) -> str:
    """`` ('cooldown', ...)`` for ``pytest --markers``, else nothing: naming them imports the budgets (numpy)."""
    if not config.getoption("markers", False):
        return ""
    from pytest_scaling.budgets import PROTOCOL_BUDGETS

    return f" ({', '.join(map(repr, PROTOCOL_BUDGETS))})"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the session; claims write where they wrote before it (an in-process session leaks nothing)."""
    from pytest_scaling.state import deactivate

    deactivate(config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Check what is only used once the grid has trained: the report directory and the baseline.

    Either failing after a long training would waste it; checked here, it is a usage error
    before the first run. On pytest-xdist's controller only (tryfirst: before workers start).
    """
    state = active(session.config)
    if state is not None:
        check_outputs(session.config, state)


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
    state = active(config)
    if state is None or state.header_shown:
        return []
    state.header_shown = True
    return state.session.header()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail fast, before any test runs, when the dataset, device or cache dir is unusable."""
    scaling_items = [item for item in items if claim_items.is_claim(item)]
    state = activate(config) if scaling_items else active(config)
    if state is None:
        return
    check_outputs(config, state)
    for item in scaling_items:
        item.add_marker(claim_items.CLAIM_MARKER)
    scaling_items = [item for item in scaling_items if claim_items.budget_provides(
        item, state.session.budget, imported_sweep=bool(state.session.options.import_columns))]
    import pytest_scaling.claims as claims

    families: dict[str, int] = {}
    for item in scaling_items:
        families[claims.family_of(item.nodeid)] = families.get(claims.family_of(item.nodeid), 0) + 1
    claims.configure(confidence=state.confidence, strict=state.strict, policy=state.family,
                     family_size=max(1, len(scaling_items)) if state.family == "session" else 1, families=families)
    if scaling_items:
        from pytest_scaling.console import progress_writer, terminal_console

        # Where training reports progress, set before prepare() builds the runner that reports it.
        state.session.console = terminal_console(config)
        state.session.progress_line = None if state.session.console else progress_writer(config)
        try:
            state.session.prepare()
        except ScalingError as error:
            raise pytest.UsageError(str(error)) from None


@pytest.fixture(scope="session")
def scaling_grid(request: pytest.FixtureRequest):
    """Runs of the session's budget, trained (or taken from the cache) on first use."""
    from pytest_scaling.grid import ScalingGrid

    return ScalingGrid(activate(request.config).session)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A degenerate fit inside a claim means this budget cannot decide it: inconclusive, not an error."""
    from pytest_scaling.errors import FitError

    try:
        return (yield)
    except FitError as error:
        if not claim_items.is_claim(item):
            raise
        import pytest_scaling.claims as claims

        state = activate(item.config)
        record = claims.record_undecided(item.nodeid, item.name, f"this budget cannot decide: {error}",
                                         getattr(error, "to_decide", ""))
        message = f"inconclusive: {record.reason}; to decide: {record.to_decide}"
        if state.strict:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """The claim records the test made go onto its item, for the teardown report to carry."""
    state = active(item.config)
    if state is not None:
        records = state.claim_log.take()
    else:  # claims made without the plugin in use (no claim fixture or marker) still count, and wake it
        claims = sys.modules.get(CLAIMS_MODULE)
        records = claims.take_records() if claims is not None else []
        state = activate(item.config) if records else None
    if records:
        claim_items.attach_records(item, records, state.session.budget)
    return (yield)


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    config = session.config
    state = active(config)
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
        # from_dict keeps the record's own fields; the plugin's additions (finding, source, module, plots) ride along
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
    meta = state.meta()
    current = report.build_report_json(state.records, meta, runs)
    config.hook.pytest_scaling_update_report_json(config=config, report=current)
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
    state = active(config)
    if state is None or hasattr(config, "workerinput"):
        return
    if not (state.records or state.session.stats() or state.worker_stats):
        return
    from pytest_scaling import report
    from pytest_scaling.console import live_terminal

    writer = terminalreporter._tw
    terminalreporter.write_sep("=", "pytest-scaling")
    layout = "table" if live_terminal(config) else "lines"
    terminalreporter.write(report.render_summary(state.records, state.meta(), width=writer.fullwidth,
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
