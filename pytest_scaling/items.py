"""What the plugin reads from a test item and writes onto it: whether the test is a claim, the
finding and plots its module declares, the protocol runs it needs, and its claim records.

A test is a claim when it uses a fixture of :data:`CLAIM_FIXTURES` or carries
``@pytest.mark.scaling``; nothing else (a user's own ``scaling_factor`` fixture) wakes the plugin.
A claim module names the plots it feeds in a module-level ``SCALING_PLOTS`` tuple of plot stems
(``report.PLOTS``), the plot most its own first; the report puts each plot beside the claims of the
module that lists it earliest, so it never needs to know a claim module's name.
"""

from __future__ import annotations

import json

import pytest

#: The fixtures that make a test a claim.
CLAIM_FIXTURES = ("scaling_grid",)
#: The marker that makes a test a claim (the plugin also puts it on every claim it recognises).
CLAIM_MARKER = "scaling"
#: The module attribute naming the plots a claim module feeds.
PLOTS_ATTRIBUTE = "SCALING_PLOTS"
#: The user property that carries a claim's record to the controller, JUnit XML and the report.
CLAIM_PROPERTY = "scaling_claim"


def is_claim(item: pytest.Item) -> bool:
    return (any(name in CLAIM_FIXTURES for name in getattr(item, "fixturenames", ()))
            or item.get_closest_marker(CLAIM_MARKER) is not None)


def origin(item: pytest.Item) -> dict:
    """What the plugin adds to each record of ``item``: the finding its module tests and its source
    (from the module's docstring), the module, and the plots the module feeds."""
    from pytest_scaling.claims import module_finding

    module = getattr(item, "module", None)
    finding, source = module_finding(getattr(module, "__doc__", None))
    plots = getattr(module, PLOTS_ATTRIBUTE, ())
    plots = [plots] if isinstance(plots, str) else [str(stem) for stem in plots]
    return {"finding": finding, "source": source, "module": item.path.stem if module else None, "plots": plots}


def budget_provides(item: pytest.Item, budget, imported_sweep: bool = False) -> bool:
    """False, with a skip marker naming the budget that has them, when the claim needs protocol runs
    (``@pytest.mark.scaling_needs("cooldown")``) this budget does not train; such a claim is then no
    member of the family-wise correction's family."""
    from pytest_scaling.budgets import PROTOCOL_BUDGETS

    for marker in item.iter_markers("scaling_needs"):
        protocol = marker.args[0] if marker.args else ""
        if imported_sweep:  # another family's runs: the engine's protocol runs are not among them
            item.add_marker(pytest.mark.skip(reason=f"the imported sweep has no {protocol} runs (this engine's "
                                                    f"protocol); this claim reads only runs this engine trains"))
            return False
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


def attach_records(item: pytest.Item, records, budget) -> None:
    """Put ``records`` (ClaimRecords of ``item``) on the item as user properties, each with its origin
    and, where seeds would decide it, the budget line that has them. They go on the item so the
    teardown report carries them: that is the one JUnit XML and pytest-xdist's controller read."""
    if not records:
        return
    where = origin(item)
    for record in records:
        data = record.to_dict()
        data.update(where)
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


def records_of(report: pytest.TestReport) -> list[dict]:
    """The claim records a (teardown) test report carries."""
    return [json.loads(value) for name, value in report.user_properties if name == CLAIM_PROPERTY]
