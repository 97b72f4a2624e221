"""pytest hooks only: options + ini, fixtures, header, claim records, terminal summary.

Works under pytest-xdist: workers train (sharing the grid through the cache's
locks) and ship claim records in ``report.user_properties`` and their training
totals in ``workeroutput``; the controller summarises.
"""

from __future__ import annotations

import json
import time

import pytest

from pytest_scaling.errors import ScalingError

CLAIM_PROPERTY = "scaling_claim"
STATS_KEY = "pytest_scaling_stats"
state_key = pytest.StashKey["ScalingState"]()

# (option suffix, ini type, default, help). Every command-line option has an ini key scaling_<suffix>.
_VALUE_OPTIONS = [
    ("budget", "string", "small", "named budget (tiny, small, medium, full, or one defined in scaling_budgets)"),
    ("dataset", "string", "auto", "auto (MNIST if found or downloadable, else Fashion-MNIST), mnist, fashion-mnist"),
    ("data-dir", "string", None, "directory with the IDX files or a torchvision root (env PYTEST_SCALING_DATA_DIR)"),
    ("device", "string", "auto", "auto, cpu, cuda, cuda:N or mps"),
    ("cache-dir", "string", None, "run cache directory (env PYTEST_SCALING_CACHE; default: the user cache dir)"),
    ("confidence", "string", "0.95", "confidence level of every interval"),
    ("import", "string", None, "use runs from this CSV (from `pytest-scaling runs --format csv`) instead of training"),
    ("group-size", "string", None, "runs trained together as one grouped model (1 turns batching off)"),
    ("executor", "string", "auto", "auto (processes on a multi-core CPU, else local), local (this process), "
                                   "processes (one single-threaded process per core), ray"),
    ("workers", "string", None, "processes for --scaling-executor=processes (default: CPU count)"),
    ("ray-address", "string", None, "address of an existing Ray cluster (with --scaling-executor=ray)"),
    ("report", "string", None, "write report.json, plots and index.html into this directory"),
    ("save", "string", None, "save this session's estimates as baseline NAME"),
    ("compare", "string", None, "compare estimates against baseline NAME"),
    ("compare-fail", "string", None, "fail when an estimate moves beyond EXPR, e.g. gamma:0.05 or *:10%"),
    ("baseline-dir", "string", ".scaling", "where baselines are saved (commit it)"),
]
_FLAG_OPTIONS = [
    ("no-train", "use cached runs only; never train"),
    ("retrain", "ignore cached runs and train again"),
    ("strict", "inconclusive claims fail instead of being skipped"),
    ("family-wise", "Holm/Bonferroni correction across the session's claims"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scaling", "scaling-law claims (pytest-scaling)")
    for suffix, ini_type, default, help_text in _VALUE_OPTIONS:
        dest = "scaling_" + suffix.replace("-", "_")
        group.addoption(f"--scaling-{suffix}", dest=dest, default=None, metavar=suffix.split("-")[-1].upper(),
                        help=f"{help_text} (ini: {dest}; default: {default})")
        parser.addini(dest, help_text, type=ini_type, default=default)
    for suffix, help_text in _FLAG_OPTIONS:
        dest = "scaling_" + suffix.replace("-", "_")
        group.addoption(f"--scaling-{suffix}", dest=dest, action="store_true", default=None,
                        help=f"{help_text} (ini: {dest})")
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
        self.family_wise = bool(_get(config, "family-wise"))
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
        self.records: list[dict] = []
        self.worker_stats: list[dict] = []
        self.started = time.time()
        self.prepared = False
        self.comparison_text = ""
        self.violations: list[str] = []

    # Hooks that receive no config live on this object, registered as a plugin in pytest_configure.
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == CLAIM_PROPERTY:
                self.records.append(json.loads(value))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        stats = getattr(node, "workeroutput", {}).get(STATS_KEY)
        if stats:
            self.worker_stats.append(json.loads(stats))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scaling: a claim about scaling laws (uses the scaling_grid fixture)")
    state = ScalingState(config)
    config.stash[state_key] = state
    config.pluginmanager.register(state, "scaling-state")
    from pytest_scaling import claims

    claims.configure(confidence=state.confidence, strict=state.strict, family_size=1)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Settings live in a module: put the defaults back so an in-process session does not leak them."""
    from pytest_scaling import claims

    state = config.stash.get(state_key, None)
    if state is not None:
        state.session.close()

    claims.configure()
    claims.take_records()


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash[state_key].session.header()


def _uses_scaling(item: pytest.Item) -> bool:
    return any(name.startswith("scaling_") for name in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail fast, before any test runs, when the dataset, device or cache dir is unusable."""
    state = config.stash[state_key]
    scaling_items = [item for item in items if _uses_scaling(item)]
    for item in scaling_items:
        item.add_marker("scaling")
    if state.family_wise:
        from pytest_scaling import claims

        claims.configure(confidence=state.confidence, strict=state.strict, family_size=max(1, len(scaling_items)))
    if scaling_items:
        try:
            state.session.prepare()
        except ScalingError as error:
            raise pytest.UsageError(str(error)) from None
        state.session.console = _terminal_console(config)


def _terminal_console(config: pytest.Config):
    """A rich console on the real terminal (past pytest's capture), or None when there is none."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return None
    from rich.console import Console

    file = reporter._tw._file  # the terminal writer's file is the real stdout, not the captured one
    return Console(file=file) if getattr(file, "isatty", lambda: False)() else None


class ScalingGrid:
    """What ``scaling_grid`` gives a test: call it for a slice of the main grid; ``.lr_sweep()`` for the sweep."""

    def __init__(self, session):
        self._session = session
        self._memo: dict = {}

    @property
    def budget(self):
        return self._session.budget

    def __call__(self, dropout=None, widths=None, fractions=None, seeds=None):
        table = self._checked(lambda: self._session.main_grid(dropout, widths, fractions, seeds))
        return table

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

    def _checked(self, get):
        try:
            table = get()
        except ScalingError as error:
            pytest.fail(str(error), pytrace=False)
        if len(table) == 0:
            hint = (f"run `pytest-scaling train --budget {self.budget.name}` or drop --scaling-no-train"
                    if self._session.options.no_train else "check the slice's filters against the budget")
            pytest.skip(f"no runs for this slice of budget {self.budget.name!r}: {hint}")
        return table


@pytest.fixture(scope="session")
def scaling_grid(request: pytest.FixtureRequest) -> ScalingGrid:
    """Runs of the session's budget, trained (or taken from the cache) on first use."""
    return ScalingGrid(request.config.stash[state_key].session)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A degenerate fit inside a claim means this budget cannot decide it: inconclusive, not an error."""
    from pytest_scaling.errors import FitError

    try:
        return (yield)
    except FitError as error:
        if not _uses_scaling(item):
            raise
        from pytest_scaling import claims

        record = claims.record_undecided(item.nodeid, item.name, f"this budget cannot decide: {error}",
                                         getattr(error, "to_decide", ""))
        message = f"inconclusive: {record.reason}; to decide: {record.to_decide}"
        if item.config.stash[state_key].strict:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    # Records go on the item, so the teardown report carries them (that is the one JUnit XML and
    # pytest-xdist's controller read); the state collects them from there, once.
    from pytest_scaling import claims

    budget = item.config.stash[state_key].session.budget
    for record in claims.take_records():
        data = record.to_dict()
        factor = data["details"].get("seeds_factor")
        if factor is not None:
            from pytest_scaling.budgets import budget_for_seeds

            field = data["details"].get("seed_field", "seeds")
            data["to_decide"] = f"{data['to_decide']}: {budget_for_seeds(budget, factor, field)}"
        item.user_properties.append((CLAIM_PROPERTY, json.dumps(data, default=str)))
        prefix = f"scaling.{data['quantity']}"
        item.user_properties.extend([
            (f"{prefix}.estimate", data["estimate"]), (f"{prefix}.ci", f"[{data['ci_low']}, {data['ci_high']}]"),
            (f"{prefix}.verdict", data["verdict"]),
        ])
    return (yield)


def _totals(state: ScalingState) -> dict:
    parts = [state.session.stats()] + state.worker_stats
    keys = ("runs_cached", "runs_trained", "runs_from_other_workers", "runs_missing", "runs_diverged",
            "train_seconds", "trained_flops", "spent_flops")
    totals = {key: sum(p.get(key, 0) for p in parts) for key in keys}
    totals["runs_total"] = totals["runs_cached"] + totals["runs_trained"] + totals["runs_from_other_workers"]
    totals["total_compute_flops"] = totals["spent_flops"]  # what this session spent training
    totals["wall_seconds"] = time.time() - state.started
    return totals


def _meta(state: ScalingState) -> dict:
    session = state.session
    try:
        dataset = session.source.display_name if not session.options.import_csv else "imported CSV"
    except ScalingError:
        dataset = "unavailable"
    meta = {"budget": session.budget.name, "dataset": dataset, "device": session.options.device,
            "cache_dir": str(session.store.directory), "confidence": state.confidence,
            "design": _design(state)}
    if session._device is not None:
        meta["device"] = str(session._device)
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
    state = config.stash[state_key]
    if hasattr(config, "workerinput"):  # a worker: hand our training totals to the controller
        config.workeroutput[STATS_KEY] = json.dumps(_totals(state))
        return
    if not state.records:
        return
    from pytest_scaling import claims

    if state.family_wise:
        adjusted = claims.holm_adjust([claims.ClaimRecord.from_dict(r) for r in state.records], state.confidence)
        state.records = [r.to_dict() for r in adjusted]
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
            deltas = baseline.compare(current, baseline.load(state.compare, state.baseline_dir))
        except (ValueError, OSError) as error:
            state.violations = [f"cannot compare with baseline {state.compare!r}: {error}"]
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        else:
            writer = config.get_terminal_writer()
            state.comparison_text = baseline.render_comparison(deltas, width=writer.fullwidth, color=writer.hasmarkup)
            state.violations = baseline.violations(deltas, state.fail_rules)
            if state.violations:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if state.save:
        baseline.save(current, state.save, state.baseline_dir)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state = config.stash[state_key]
    if hasattr(config, "workerinput") or not (state.records or state.session.stats() or state.worker_stats):
        return
    from pytest_scaling import report

    writer = terminalreporter._tw
    terminalreporter.write_sep("=", "pytest-scaling")
    terminalreporter.write(report.render_summary(state.records, _meta(state), width=writer.fullwidth,
                                                 color=writer.hasmarkup))
    if state.comparison_text:
        terminalreporter.write_sep("-", f"compared with baseline {state.compare!r}")
        terminalreporter.write(state.comparison_text)
    for line in state.violations:
        terminalreporter.write_line(f"REGRESSION: {line}", red=True, bold=True)
    if state.report_dir:
        terminalreporter.write_line(f"report written to {state.report_dir}/index.html")
    if state.save:
        terminalreporter.write_line(f"baseline {state.save!r} saved in {state.baseline_dir}/")
