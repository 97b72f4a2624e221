import itertools
import math

import pytest

from pytest_scaling.budgets import BUILTIN_BUDGETS, get_budget, parse_budget_line
from pytest_scaling.errors import UnknownBudget
from pytest_scaling.models import WIDTHS


@pytest.mark.parametrize("budget", BUILTIN_BUDGETS.values(), ids=lambda b: b.name)
def test_builtin_budgets_follow_the_design(budget):
    assert set(budget.widths) <= set(WIDTHS)
    assert budget.main_specs() and {s.dropout for s in budget.main_specs()} == {0.0, 0.2}
    # An LR sweep needs ≥3 widths spanning ≥8× and ≥5 multipliers in factors of 2.
    assert len(budget.sweep_widths) >= 3 and max(budget.sweep_widths) / min(budget.sweep_widths) >= 8
    logs = sorted(math.log2(m) for m in budget.sweep_mults)
    assert len(logs) >= 5 and all(b - a == 1 for a, b in itertools.pairwise(logs))


def test_design_table_ranges():
    assert (min(BUILTIN_BUDGETS["small"].widths), max(BUILTIN_BUDGETS["small"].widths)) == (1, 32)
    assert min(BUILTIN_BUDGETS["small"].fractions) == 1 / 64 and max(BUILTIN_BUDGETS["small"].fractions) == 1
    assert len(BUILTIN_BUDGETS["small"].seeds) >= 2 and len(BUILTIN_BUDGETS["full"].seeds) == 5


def test_user_budget_inherits_from_parent():
    budget = parse_budget_line("mine: parent=tiny widths=2,4 fractions=1/8,1/4 seeds=3", dict(BUILTIN_BUDGETS))
    assert budget.widths == (2, 4) and budget.fractions == (0.125, 0.25) and budget.seeds == (3,)
    assert budget.sweep_widths == BUILTIN_BUDGETS["tiny"].sweep_widths
    assert len(budget.main_specs()) == 2 * 2 * 1 * 2


@pytest.mark.parametrize("line, fragment", [
    ("no colon here", "name: key=value"),
    ("x: widths=a,b", "bad value for 'widths'"),
    ("x: colour=red", "unknown key 'colour'"),
    ("x: parent=huge", "unknown parent 'huge'"),
    ("x: fractions=2", "fractions must lie in (0, 1]"),
])
def test_bad_budget_lines_say_what_is_wrong(line, fragment):
    with pytest.raises(UnknownBudget, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        parse_budget_line(line, dict(BUILTIN_BUDGETS))


def test_unknown_budget_lists_valid_names():
    with pytest.raises(UnknownBudget) as info:
        get_budget("huge", ["mine: parent=tiny seeds=0"])
    assert all(name in str(info.value) for name in ("tiny", "small", "medium", "full", "mine"))
