"""pytest-scaling's hook specifications, registered in ``pytest_addhooks``: implement them in a
conftest.py or a plugin, as pytest-xdist's ``newhooks`` are.

The two ``firstresult`` hooks let a project bring its own model family and data to the shipped claims
(``examples/own_family``). Both are called when the plugin is first used in a process: on the controller,
and again on each pytest-xdist worker (which runs the conftest too), so an implementation must return the
same trainer and the same data every time it is called — runs are cached under the trainer's name and
version and the data's identity, so a worker that disagreed would train (and file) runs of its own.
"""

import pytest


@pytest.hookspec(firstresult=True)
def pytest_scaling_make_trainer(config: pytest.Config):
    """The session's trainer (a ``pytest_scaling.trainers.Trainer``: a name and a version, both in the cache key,
    ``params``/``flops_per_example`` of a width, and ``train(specs, data, settings)``), or None for the
    built-in CNN engine. It must be picklable (a class at module level of an importable module): the
    process-pool and Ray executors send it to their workers."""


@pytest.hookspec(firstresult=True)
def pytest_scaling_resolve_dataset(config: pytest.Config, name: str):
    """The data to train on for ``--scaling-dataset=name`` (``auto`` unless given): a
    ``pytest_scaling.data.TensorSource`` (train and validation tensors; its identity, a digest of them,
    goes into every run's cache key), or None to fall back to the built-in MNIST-family resolution. With an
    implementation of this hook, ``--scaling-dataset`` takes any name; one that no hook supplies and that is
    not built in is a usage error."""


@pytest.hookspec
def pytest_scaling_update_report_json(config: pytest.Config, report: dict) -> None:
    """Add to (or change) the session's report dict before it is written as report.json, saved as a
    baseline or compared with one: e.g. the commit of the training code under test, or the tracker
    run a sweep came from. Called once, on the controller (never on an xdist worker)."""
