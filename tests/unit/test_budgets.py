import dataclasses
import itertools
import math
import re

import pytest

from pytest_scaling.budgets import BUILTIN_BUDGETS, get_budget, parse_budget_line
from pytest_scaling.errors import UnknownBudget
from pytest_scaling.models import WIDTHS


@pytest.mark.parametrize("budget", BUILTIN_BUDGETS.values(), ids=lambda b: b.name)
def test_builtin_budgets_follow_the_design(budget):
    assert set(budget.widths) <= set(WIDTHS)
    # The protocols and precision budgets compare conditions without dropout; the scaling budgets measure
    # dropout's shift.
    assert budget.main_specs() and {s.dropout for s in budget.main_specs()} == (
        {0.0} if budget.name in ("protocols", "precision") else {0.0, 0.2})
    # An LR sweep needs ≥3 widths spanning ≥8× and ≥5 multipliers, no step wider than a factor of 2; √2
    # steps only where the optimum sits (within 2× of the width's c/sqrt(fan_in)).
    assert len(budget.sweep_widths) >= 3 and max(budget.sweep_widths) / min(budget.sweep_widths) >= 8
    logs = sorted(math.log2(m) for m in budget.sweep_mults)
    steps = [(a, b - a) for a, b in itertools.pairwise(logs)]
    assert len(logs) >= 5 and all(math.isclose(d, 1) or (math.isclose(d, 0.5) and -1 <= a < 1) for a, d in steps)


def test_dropout_widths_train_dropout_only_where_the_claims_read():
    small = BUILTIN_BUDGETS["small"]
    dropped = {s.width for s in small.main_specs() if s.dropout > 0}
    assert dropped == set(small.dropout_widths) == {1, 2, 3, 4, 6, 8, 11, 16}
    assert {s.width for s in small.main_specs() if s.dropout == 0} == set(small.widths)
    mine = parse_budget_line("mine: parent=tiny dropout_widths=2,4", dict(BUILTIN_BUDGETS))
    assert {s.width for s in mine.main_specs() if s.dropout > 0} == {2, 4}
    assert "non-zero at widths 2,4" in mine.describe()
    with pytest.raises(UnknownBudget, match="dropout_widths must be positive"):
        parse_budget_line("x: dropout_widths=0", dict(BUILTIN_BUDGETS))


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
    ("x: fractions=0,1", "fractions (and extra_fractions, sweep_fraction, epoch_fractions) must lie in (0, 1]"),
    ("x: fractions=1,2048", "or in (1, 1024] for that many times 60k examples"),
    ("x: stream=sigma=0", "bad stream 'sigma=0'"),
    ("x: stream=blur=2", "with a name among alpha, sigma, degrees, scale, shear, translate, seed"),
    ("x: schedules=cosine", "schedules must be among constant, cooldown"),
    ("x: epochs=0", "epochs must be integers"),
    ("x: epochs=1.5", "bad value for 'epochs'"),
    ("x: epoch_fractions=0", "epoch_fractions) must lie in (0, 1]"),
])
def test_bad_budget_lines_say_what_is_wrong(line, fragment):
    with pytest.raises(UnknownBudget, match=re.escape(fragment)):
        parse_budget_line(line, dict(BUILTIN_BUDGETS))


def test_unknown_budget_lists_valid_names():
    with pytest.raises(UnknownBudget) as info:
        get_budget("huge", ["mine: parent=tiny seeds=0"])
    assert all(name in str(info.value) for name in ("tiny", "small", "medium", "full", "mine"))


#: Main-grid sizes of the scaling budgets before training protocols existed: same specs, same cache keys
#: (small: 280 before dropout 0.2 left widths 23 and 32, 2 widths × 7 fractions × 2 seeds fewer).
SCALING_BUDGET_RUNS = {"tiny": 96, "small": 252, "medium": 576, "full": 1260}


@pytest.mark.parametrize("name", SCALING_BUDGET_RUNS)
def test_scaling_budgets_are_unchanged_by_protocols(name):
    budget = BUILTIN_BUDGETS[name]
    assert len(budget.main_specs()) == SCALING_BUDGET_RUNS[name] and budget.epoch_specs() == []
    assert all(s.schedule == "constant" and s.epochs == 1 for s in budget.all_specs())
    grid = set(budget.main_specs()) | set(budget.sweep_specs())  # the worth design's runs are apart from these
    assert all(set(s.as_dict()) == {"width", "fraction", "seed", "dropout", "lr_mult", "lr_scale", "batch_size"}
               for s in grid)
    assert set(budget.all_specs()) == grid | set(budget.worth_specs())
    assert "schedules" not in budget.describe() and "epochs" not in budget.describe()


def test_protocols_budget():
    budget, small = BUILTIN_BUDGETS["protocols"], BUILTIN_BUDGETS["small"]
    specs = budget.main_specs()
    assert len(specs) == len(set(specs))
    by_protocol = {}
    for s in specs:
        by_protocol.setdefault((s.schedule, s.epochs), set()).add((s.width, s.fraction, s.seed))
    assert by_protocol[("constant", 1)] == by_protocol[("cooldown", 1)]  # every run under both schedules
    assert by_protocol[("constant", 1)] == set(itertools.product(budget.widths, budget.fractions, budget.seeds))
    for epochs in (2, 4, 8):
        assert by_protocol[("constant", epochs)] == set(itertools.product((4, 11), (1 / 32, 1 / 8), (0, 1, 2)))
    # Its constant runs of seeds 0 and 1, and its LR sweep, are small's: cached once for both.
    assert {s for s in specs if s.schedule == "constant" and s.epochs == 1 and s.seed < 2} <= set(small.main_specs())
    assert budget.sweep_specs() == small.sweep_specs()
    # Branches and continuations fall in their trunk's chain: the runner trains them with it.
    trunks = {s.chain_key for s in specs if s.schedule == "constant" and s.epochs == 1}
    assert {s.chain_key for s in specs} == trunks
    assert min(budget.widths) == 1  # the compute-limited window opens at width 1 (README)
    assert "schedules constant,cooldown" in budget.describe() and "epochs 1,2,4,8" in budget.describe()


def test_protocol_keys_in_a_budget_line():
    budget = parse_budget_line("cool: parent=small widths=2,4 seeds=0 schedules=constant,cooldown epochs=1,2,4 "
                               "epoch_widths=4 epoch_fractions=1/8", dict(BUILTIN_BUDGETS))
    assert budget.schedules == ("constant", "cooldown") and budget.epochs == (1, 2, 4)
    epoch_runs = {(s.width, s.fraction, s.epochs) for s in budget.main_specs() if s.epochs > 1}
    assert epoch_runs == {(4, 1 / 8, 2), (4, 1 / 8, 4)}
    assert len(budget.main_specs()) == 2 * 7 * 1 * 2 * 2 + 2 * 2  # (+ the two epoch counts × two dropouts)
    whole = parse_budget_line("again: parent=tiny epochs=1,2", dict(BUILTIN_BUDGETS))
    # Every main run at 1 and 2 epochs (the 1-epoch runs once).
    assert len(whole.epoch_specs()) == len(whole.main_specs()) == 2 * len(BUILTIN_BUDGETS["tiny"].main_specs())


def test_budgets_say_which_protocol_runs_they_train():
    protocols, small = BUILTIN_BUDGETS["protocols"], BUILTIN_BUDGETS["small"]
    assert protocols.provides("cooldown") and protocols.provides("epochs")
    assert not small.provides("cooldown") and not small.provides("epochs")
    with pytest.raises(ValueError, match="unknown protocol"):
        small.provides("cosine")
    with pytest.raises(UnknownBudget, match="must include constant"):
        parse_budget_line("x: parent=tiny schedules=cooldown", dict(BUILTIN_BUDGETS))


def test_a_budget_carries_its_precision_into_every_spec():
    budget = parse_budget_line("half: parent=tiny precision=bf16 epochs=1,2", dict(BUILTIN_BUDGETS))
    assert {s.precision for s in budget.all_specs()} == {"bf16"} and "in bf16" in budget.describe()
    assert {s.precision for s in BUILTIN_BUDGETS["tiny"].all_specs()} == {"fp32"}
    with pytest.raises(UnknownBudget, match="precision"):
        parse_budget_line("bad: parent=tiny precision=fp16", dict(BUILTIN_BUDGETS))


def test_the_session_resolves_its_precision_once_against_its_device(monkeypatch, tmp_path):
    import pytest_scaling.precision as precision
    import pytest_scaling.precision_probe as probe
    from pytest_scaling.errors import ScalingError
    from pytest_scaling.session import ScalingOptions, ScalingSession

    assert ScalingOptions().precision == "auto"  # the default: bf16 only where it is native
    fp32 = ScalingSession(ScalingOptions(budget="tiny", device="cpu", precision="fp32"))
    assert fp32.precision == "fp32" and fp32.budget == BUILTIN_BUDGETS["tiny"]
    bf16 = ScalingSession(ScalingOptions(budget="tiny", device="cpu", precision="bf16"))
    assert bf16.precision == "bf16" and {s.precision for s in bf16.budget.main_specs()} == {"bf16"}
    calls = []
    monkeypatch.setattr(precision, "native_bf16", lambda d: calls.append(d) or True)
    monkeypatch.setattr(probe, "time_probe", lambda d: (1.0, 0.5))  # bf16 measured 2× faster here
    monkeypatch.setattr(probe, "_measured", {})
    auto = ScalingSession(ScalingOptions(budget="tiny", device="cpu", precision="auto", cache_dir=str(tmp_path)))
    assert auto.precision == auto.precision == "bf16" and len(calls) == 1
    assert {s.precision for s in auto.budget.sweep_specs()} == {"bf16"}
    with pytest.raises(ScalingError, match="unknown precision"):
        ScalingSession(ScalingOptions(budget="tiny", precision="fp16"))


def test_the_precision_budget_trains_its_grid_in_both_precisions_whichever_the_session_uses():
    from pytest_scaling.session import ScalingOptions, ScalingSession

    budget = BUILTIN_BUDGETS["precision"]
    assert budget.provides("precision") and not BUILTIN_BUDGETS["small"].provides("precision")
    fp32 = {s for s in budget.main_specs() if s.precision == "fp32"}
    bf16 = {s for s in budget.main_specs() if s.precision == "bf16"}
    assert {dataclasses.replace(s, precision="fp32") for s in bf16} == fp32 and len(fp32) == 8 * 7 * 3
    # Its fp32 runs are the constant one-epoch runs of `protocols` (same specs, so same cache keys).
    assert fp32 == {s for s in BUILTIN_BUDGETS["protocols"].main_specs() if s.schedule == "constant" and s.epochs == 1}
    in_bf16 = ScalingSession(ScalingOptions(budget="precision", device="cpu", precision="bf16")).budget
    assert set(in_bf16.main_specs()) == fp32 | bf16 and in_bf16.provides("precision")
    assert {s.precision for s in in_bf16.sweep_specs()} == {"bf16"}  # other claims read the session's precision
    line = parse_budget_line("mixed: parent=tiny compare_precisions=fp32,bf16", dict(BUILTIN_BUDGETS))
    assert line.provides("precision") and "again in bf16" in line.describe()
    with pytest.raises(UnknownBudget, match="compare_precisions"):
        parse_budget_line("bad: parent=tiny compare_precisions=fp16", dict(BUILTIN_BUDGETS))
    # Relative to the session it would provide the runs on one machine and not on another: refused.
    with pytest.raises(UnknownBudget, match="compare_precisions=fp32,bf16"):
        parse_budget_line("half: parent=tiny compare_precisions=bf16", dict(BUILTIN_BUDGETS))


def test_extra_seeds_train_only_at_their_widths():
    from pytest_scaling.budgets import BUILTIN_BUDGETS, parse_budget_line

    small = BUILTIN_BUDGETS["small"]
    more = parse_budget_line("small4: parent=small extra_seeds=2,3 extra_seeds_widths=1,2", BUILTIN_BUDGETS)
    added = set(more.main_specs()) - set(small.main_specs())
    assert {s.width for s in added} == {1, 2} and {s.seed for s in added} == {2, 3}
    assert len(added) == 2 * 2 * len(small.fractions) * len(small.dropouts)
    assert set(small.main_specs()) <= set(more.main_specs())
    assert "(+2 at widths 1,2)" in more.describe()


def test_extra_fractions_feed_only_their_widths_past_the_cap():
    from pytest_scaling.budgets import BUILTIN_BUDGETS, parse_budget_line

    small = BUILTIN_BUDGETS["small"]
    more = parse_budget_line("deep: parent=small extra_fractions=2,4 extra_fractions_widths=1,2", BUILTIN_BUDGETS)
    added = set(more.main_specs()) - set(small.main_specs())
    assert {s.width for s in added} == {1, 2} and {s.fraction for s in added} == {2.0, 4.0}
    assert all(s.stream.startswith("elastic") for s in added)  # past 1: the deformed stream, named in the key
    assert len(added) == 2 * 2 * len(small.seeds) * len(small.dropouts)
    assert set(small.main_specs()) <= set(more.main_specs())
    assert "fractions 1/64,1/32,1/16,1/8,1/4,1/2,1 (+2,4 at widths 1,2) × seeds" in more.describe()
    with pytest.raises(UnknownBudget, match="extra_fractions"):
        parse_budget_line("bad: parent=small extra_fractions=0 extra_fractions_widths=1", BUILTIN_BUDGETS)


def test_seeds_are_prescribed_at_the_widths_a_claim_reads():
    from pytest_scaling.budgets import BUILTIN_BUDGETS, budget_for_seeds

    small = BUILTIN_BUDGETS["small"]
    line = budget_for_seeds(small, 2.0, "seeds", widths=[1.0, 2.0, 3.0, 4.0])
    assert "extra_seeds=2,3 extra_seeds_widths=1,2,3,4" in line
    assert "seeds=0,1,2,3'" in budget_for_seeds(small, 2.0, "seeds", widths=None)  # no widths: the whole grid


def test_small_and_decide_train_the_worth_design_and_tiny_does_not():
    """Widths 1, 2, 4 × U = 1/16, 1/8 of the images × k = 2, 4 × seeds 0–3: 48 copies runs on 24 chains (k = 2
    is the start of k = 4), read against each seed's fresh run on all the images: the main grid's for seeds 0
    and 1, six of the worth design's own for seeds 2 and 3 (kept out of the main grid); none in `tiny`."""
    from pytest_scaling.budgets import PROTOCOL_BUDGETS

    tiny, small, decide = (BUILTIN_BUDGETS[n] for n in ("tiny", "small", "decide"))
    assert tiny.worth_specs() == [] and not tiny.provides("worth")
    for budget in (small, decide):
        specs = budget.worth_specs()
        copies = [s for s in specs if s.base_fraction > 0]
        fresh = [s for s in specs if s.base_fraction == 0]
        assert budget.provides("worth") and len(copies) == 3 * 2 * 2 * 4 == 48
        assert {(s.width, s.base_fraction, s.fraction) for s in copies} == {
            (w, b, b * k) for w in (1, 2, 4) for b in (1 / 16, 1 / 8) for k in (2, 4)}
        assert {s.seed for s in copies} == {0, 1, 2, 3} and {s.dropout for s in specs} == {0.0}
        assert all(s.fraction <= 0.5 and s.stream and s.schedule == "constant" and s.epochs == 1 for s in copies)
        assert {(s.width, s.fraction, s.seed) for s in fresh} == {(w, 1.0, s) for w in (1, 2, 4) for s in (2, 3)}
        assert len({s.chain_key for s in specs}) == 24 + 6
        assert not set(specs) & set(budget.main_specs())  # no claim reading the main grid sees them
        assert "worth of a copy: widths 1,2,4 × base 1/16,1/8 × 2,4 copies × seeds 0,1,2,3 = 54 runs" in \
            budget.describe()
    assert small.worth_specs() == decide.worth_specs()  # one set of runs, cached once for both
    assert PROTOCOL_BUDGETS["worth"][0] == "small"


def test_worth_keys_in_a_budget_line():
    line = parse_budget_line("w: parent=tiny worth_widths=2,4,16 worth_bases=1/8 worth_copies=2", dict(BUILTIN_BUDGETS))
    assert {(s.width, s.fraction) for s in line.worth_specs()} == {(2, 0.25), (4, 0.25)}  # 16 is not in tiny
    assert len(line.worth_specs()) == 2 * 2 and line.provides("worth")
    dropped = parse_budget_line("nw: parent=small worth_widths=", dict(BUILTIN_BUDGETS))
    assert not dropped.provides("worth") and "worth" not in dropped.describe()
    for bad, fragment in (("worth_bases=1/2 worth_copies=4", "every base × copies ≤ 1"),
                          ("worth_copies=1", "integers ≥ 2"), ("worth_bases=0", "worth_bases in (0, 1)"),
                          ("worth_bases= ", "worth_widths needs worth_bases")):
        with pytest.raises(UnknownBudget, match=re.escape(fragment)):
            parse_budget_line(f"x: parent=small {bad}", dict(BUILTIN_BUDGETS))
