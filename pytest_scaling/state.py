"""The plugin's per-session state, kept in ``config.stash``: the checked options, the session, the
claim records, and what the session says about itself at the end (totals, meta, design diagnosis).

Built on first use (:func:`activate`): that is where the options are checked (a usage error for a
bad one) and where claims.py, with scipy, is first imported. Nothing here is imported by a project
that makes no claim and gives no ``--scaling-*`` option beyond this module itself (no numpy).
"""

from __future__ import annotations

import os
import time

import pytest

from pytest_scaling import options
from pytest_scaling.errors import ScalingError

state_key = pytest.StashKey["ScalingState"]()


def _usage(get):
    """``get()``, with a ValueError from an option check made a pytest usage error."""
    try:
        return get()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


class ScalingState:
    """Per-process state: the session, the claim records and the baseline outcome."""

    def __init__(self, config: pytest.Config):
        from pytest_scaling.session import ScalingSession

        confidence = options.value(config, "confidence")
        try:
            self.confidence = float(confidence)
            if not 0.5 <= self.confidence < 1:
                raise ValueError
        except ValueError:
            raise pytest.UsageError(f"--scaling-confidence must be a number in [0.5, 1), got {confidence!r}") from None
        session_options = _usage(lambda: options.scaling_options(config))
        if session_options.executor == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                raise pytest.UsageError("--scaling-executor=ray needs Ray: pip install 'pytest-scaling[ray]'") from None
        try:
            self.session = ScalingSession(session_options, **plugged_in(config))
        except ScalingError as error:
            raise pytest.UsageError(str(error)) from None
        self.strict = options.value(config, "strict")
        self.family = "session" if options.value(config, "family-wise") else _usage(
            lambda: options.value(config, "family"))
        self.report_dir = options.value(config, "report")
        self.save = options.value(config, "save")
        self.compare = options.value(config, "compare")
        self.baseline_dir = options.value(config, "baseline-dir")
        self.fail_rules = []
        compare_fail = options.value(config, "compare-fail")
        if compare_fail:
            from pytest_scaling.baseline import parse_fail_expr

            if not self.compare:
                raise pytest.UsageError("--scaling-compare-fail needs --scaling-compare=NAME")
            try:
                self.fail_rules = [parse_fail_expr(part) for part in compare_fail.split(",") if part.strip()]
            except ValueError as error:
                raise pytest.UsageError(f"--scaling-compare-fail: {error}") from None
        import pytest_scaling.claims as claims

        #: Where this session's claims write their records (``claims.use_log``) until the test's report takes them.
        self.claim_log = claims.ClaimLog()
        self.outer_log = None  # the log claims wrote to before this session (``activate``)
        self.baseline: dict | None = None  # the --scaling-compare baseline, loaded when the session starts
        self.records: list[dict] = []  # every claim's record, as the test reports carried them
        self.worker_stats: list[dict] = []
        self.started = time.time()
        self.checked = False  # the report directory and baselines (``check_outputs``)
        self.header_shown = False
        self.comparison_text = ""
        self.violations: list[str] = []
        self._design: dict | bool | None = False  # False: not diagnosed yet

    # --- what the session says about itself at the end ---------------------------------------

    def totals(self) -> dict:
        """This session's runs, each counted once across xdist workers and the controller."""
        from pytest_scaling.runner import merge_stats

        totals = merge_stats([self.session.stats()] + self.worker_stats)
        totals["total_compute_flops"] = totals["spent_flops"]  # what this session spent training
        totals["wall_seconds"] = time.time() - self.started
        return totals

    def meta(self) -> dict:
        """The report's ``meta``: budget, dataset, device, precision, cache, confidence, design, totals."""
        session = self.session
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
                "cache_dir": str(session.store.directory), "confidence": self.confidence,
                "design": self.design()}
        if not session.options.import_csv:  # who trained the runs (imported ones: trained elsewhere)
            meta["trainer"] = session.trainer_info()
        if session.sweep is not None:  # another family's runs: what was read and what the reading assumed
            meta["dataset"] = f"imported sweep ({session.sweep.path})"
            meta["imported"] = session.sweep.describe()
        meta.update(self.totals())
        return meta

    def design(self) -> dict | None:
        """The design diagnosis of the main grid without dropout (what binds where, the window), from
        cached runs only; None when there are none or they cannot be diagnosed. Diagnosed once."""
        if self._design is not False:
            return self._design
        from pytest_scaling.errors import FitError

        self._design = None
        try:
            session = self.session if self.session.options.import_csv else self.session.with_options(no_train=True)
            runs = session.main_grid(dropout=0.0).where(lr_mult=1.0)
            if len(runs):
                from pytest_scaling.estimators.design import diagnose

                self._design = diagnose(runs).to_dict()
        except (ScalingError, FitError):
            pass
        return self._design


def plugged_in(config: pytest.Config) -> dict:
    """What a project's hooks supply (hookspecs.py): the trainer (None: the built-in engine) and, where a plugin
    implements ``pytest_scaling_resolve_dataset``, the dataset resolver the session asks first. Asked in every
    process that uses the plugin: the controller and each xdist worker, which runs the same conftest."""
    hook = config.pluginmanager.hook
    found = {"trainer": hook.pytest_scaling_make_trainer(config=config)}
    if hook.pytest_scaling_resolve_dataset.get_hookimpls():
        found["dataset_hook"] = lambda name: hook.pytest_scaling_resolve_dataset(config=config, name=name)
    return found


def active(config: pytest.Config) -> ScalingState | None:
    """The state if the plugin is in use, else None (and nothing may be imported or resolved)."""
    return config.stash.get(state_key, None)


def activate(config: pytest.Config) -> ScalingState:
    """The state, built on first use; from then on claims write into its log."""
    state = config.stash.get(state_key, None)
    if state is None:
        state = ScalingState(config)
        config.stash[state_key] = state
        state.session.xdist_workers = xdist_workers(config)
        import pytest_scaling.claims as claims

        state.outer_log = claims.use_log(state.claim_log)
        claims.configure(confidence=state.confidence, strict=state.strict, family_size=1)
    return state


def deactivate(config: pytest.Config) -> None:
    """Close the session and give claims back the log they wrote to before it (an in-process session's
    settings and records do not leak into the one that ran it)."""
    state = active(config)
    if state is None:
        return
    state.session.close()
    import pytest_scaling.claims as claims

    claims.use_log(state.outer_log)


def check_outputs(config: pytest.Config, state: ScalingState) -> None:
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


def xdist_workers(config: pytest.Config) -> int:
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
