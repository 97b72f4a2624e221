import dataclasses
import math

import numpy as np
import pytest
import scipy.stats
import torch

import pytest_scaling.train as train
from pytest_scaling.models import GroupedCNN, init_member
from pytest_scaling.runs import RunSpec
from pytest_scaling.train import (TrainSettings, cooldown_start, eval_chunk_size, evaluate, lr_factors,
                                  member_learning_rates, train_group, train_unshared)


def spec(seed=0, width=3, fraction=0.5, **kw):
    return RunSpec(width=width, fraction=fraction, seed=seed, **kw)


def timeless(result):
    return dataclasses.replace(result, train_seconds=0)


def test_one_epoch_and_checkpoints(fake_dataset):
    (result,) = train_group([spec()], fake_dataset)
    assert result.examples == 320 and not result.diverged and math.isfinite(result.val_loss)
    seen = [c.examples for c in result.checkpoints]
    assert seen == sorted(seen) and seen[-1] == 320 and len(seen) >= 3
    assert result.flops == 3 * result.flops_per_example * 320
    assert (result.val_loss, result.val_acc) == (result.checkpoints[-1].val_loss, result.checkpoints[-1].val_acc)


def test_checkpoints_sit_at_half_octaves_of_the_run(fake_dataset):
    """Checkpoints at 2^(-j/2) of the run's data, rounded down to whole batches, at least one batch."""
    (result,) = train_group([spec(fraction=1.0)], fake_dataset)  # 640 images = 10 batches of 64
    # 10 · 2^(-j/2) = 7.07, 5, 3.54, 2.5, 1.77, 1.25 batches (0.88 is under one batch)
    assert [c.examples for c in result.checkpoints] == [64, 128, 192, 320, 448, 640]


def test_a_shorter_runs_slice_score_is_the_longer_runs_checkpoint(fake_dataset):
    """The end of run f/2, scored on the validation slice, is the checkpoint of run f at the same step:
    one trajectory is scored by one yardstick (what the iso-compute profiles read)."""
    long, half = spec(fraction=1.0, seed=2), spec(fraction=0.5, seed=2)
    results = {r.spec: r for r in train_group([long, half], fake_dataset)}
    at_half = {c.examples: c for c in results[long].checkpoints}[results[half].examples]
    assert (at_half.val_loss, at_half.val_acc) == (results[half].slice_loss, results[half].slice_acc)
    assert math.isfinite(results[long].slice_loss)


def test_a_shorter_run_is_exactly_the_start_of_its_chain(fake_dataset):
    """Trained alone or as part of a longer chain, a run gives the same numbers (dropout included)."""
    quarter = spec(fraction=0.25, seed=3, dropout=0.2)
    (alone,) = train_group([quarter], fake_dataset)
    in_chain = dict((r.spec, r) for r in train_group([spec(fraction=1.0, seed=3, dropout=0.2), quarter,
                                                       spec(fraction=0.5, seed=3, dropout=0.2)], fake_dataset))
    assert dataclasses.replace(in_chain[quarter], train_seconds=0) == dataclasses.replace(alone, train_seconds=0)
    assert in_chain[quarter].examples == 128 and in_chain[spec(fraction=1.0, seed=3, dropout=0.2)].examples == 640
    # The longer runs go on from there: different numbers, and later checkpoints of their own.
    assert in_chain[spec(fraction=0.5, seed=3, dropout=0.2)].val_loss != alone.val_loss


def test_chains_of_a_group_keep_their_own_runs(fake_dataset):
    """Two seeds' chains in one grouped model: each spec's result is its own, in the order asked."""
    asked = [spec(seed=1, fraction=0.5), spec(seed=2, fraction=1.0), spec(seed=1, fraction=1.0),
             spec(seed=2, fraction=0.5)]
    results = train_group(asked, fake_dataset)
    assert [r.spec for r in results] == asked
    assert [r.examples for r in results] == [320, 640, 640, 320]
    assert len({r.val_loss for r in results}) == 4


def test_same_spec_and_seed_give_identical_numbers(fake_dataset):
    a = train_group([spec(seed=1, dropout=0.2), spec(seed=2)], fake_dataset)
    b = train_group([spec(seed=1, dropout=0.2), spec(seed=2)], fake_dataset)
    assert [(r.val_loss, r.val_acc, r.checkpoints) for r in a] == [(r.val_loss, r.val_acc, r.checkpoints) for r in b]


def test_seeds_change_the_outcome(fake_dataset):
    a, b = train_group([spec(seed=1), spec(seed=2)], fake_dataset)
    assert a.val_loss != b.val_loss


def test_a_group_member_trains_like_the_run_alone(fake_dataset):
    """Without dropout a member sees the same init, data order and LR as alone: same numbers up to float error."""
    alone = [train_group([spec(seed=s, lr_mult=m)], fake_dataset)[0] for s, m in ((0, 1.0), (1, 2.0))]
    grouped = train_group([spec(seed=0, lr_mult=1.0), spec(seed=1, lr_mult=2.0)], fake_dataset)
    for a, g in zip(alone, grouped):
        assert g.val_loss == pytest.approx(a.val_loss, rel=1e-3)


def test_dropout_members_have_the_statistics_of_solo_runs(fake_dataset):
    """With dropout the masks differ, so compare loss distributions over seeds, not numbers."""
    seeds = range(8)
    solo = [train_group([spec(seed=s, dropout=0.2)], fake_dataset)[0].val_loss for s in seeds]
    grouped = [r.val_loss for chunk in (seeds[:4], seeds[4:])
               for r in train_group([spec(seed=s, dropout=0.2) for s in chunk], fake_dataset)]
    assert scipy.stats.ttest_rel(solo, grouped).pvalue > 0.01
    assert abs(np.mean(solo) - np.mean(grouped)) < 2 * np.std(solo)


def test_a_diverging_run_is_recorded_and_its_group_mates_survive(fake_dataset):
    healthy, exploded = train_group([spec(seed=0), spec(seed=0, lr_mult=1e7)], fake_dataset,
                                    TrainSettings(divergence_check_every=1))
    assert exploded.diverged and math.isnan(exploded.val_loss) and not exploded.ok
    assert not healthy.diverged and math.isfinite(healthy.val_loss)


def test_learning_rate_follows_fan_in_rule():
    lrs = member_learning_rates(spec(width=16, lr_scale=0.06, lr_mult=2.0), 16)
    assert lrs["conv1.weight"] == pytest.approx(0.12 / 3)
    assert lrs["conv2.weight"] == pytest.approx(0.12 / math.sqrt(9 * 16))
    assert lrs["head.bias"] == lrs["head.weight"] == pytest.approx(0.12 / math.sqrt(2 * 16 * 49))


def test_mixed_shapes_are_refused(fake_dataset):
    with pytest.raises(ValueError, match="one width"):
        train_group([spec(width=2), spec(width=3)], fake_dataset)
    with pytest.raises(ValueError, match="fraction family"):
        train_group([spec(fraction=0.5), spec(fraction=0.75)], fake_dataset)
    with pytest.raises(ValueError, match="precision"):
        train_group([spec(), spec(seed=1, precision="bf16")], fake_dataset)


def test_a_bf16_run_trains_close_to_but_not_as_the_fp32_run(fake_dataset):
    """bf16 changes the forward arithmetic only: the loss stays finite and near fp32's, but the
    numbers are not fp32's (so the run must not share its cache key). Weights and Adam stay fp32."""
    (fp32,) = train_group([spec(fraction=1.0)], fake_dataset)
    (bf16,) = train_group([spec(fraction=1.0, precision="bf16")], fake_dataset)
    assert not bf16.diverged and math.isfinite(bf16.val_loss) and math.isfinite(bf16.slice_loss)
    assert bf16.val_loss == pytest.approx(fp32.val_loss, rel=0.1)
    assert bf16.val_loss != fp32.val_loss
    assert [c.examples for c in bf16.checkpoints] == [c.examples for c in fp32.checkpoints]
    (again,) = train_group([spec(fraction=1.0, precision="bf16")], fake_dataset)
    assert timeless(again) == timeless(bf16)  # deterministic on CPU in bf16 too


@pytest.mark.parametrize("seed", [0, 2])
def test_rounded_bf16_trains_as_autocast_bf16_does(fake_dataset, monkeypatch, seed):
    """A whole run: rounded bf16 (no bf16 hardware) ends where autocast's bf16 ends, within a quarter of
    either's distance from fp32 (seeds where that distance is 3-5%; measured: a tenth or less)."""
    import pytest_scaling.precision as precision

    (fp32,) = train_group([spec(seed=seed, fraction=1.0)], fake_dataset)
    monkeypatch.setattr(precision, "native_bf16", lambda _device: False)
    (rounded,) = train_group([spec(seed=seed, fraction=1.0, precision="bf16")], fake_dataset)
    monkeypatch.setattr(precision, "native_bf16", lambda _device: True)
    (autocast,) = train_group([spec(seed=seed, fraction=1.0, precision="bf16")], fake_dataset)
    assert abs(rounded.val_loss - autocast.val_loss) < 0.25 * abs(fp32.val_loss - autocast.val_loss)


def test_fp32_runs_outside_autocast(fake_dataset, monkeypatch):
    """fp32 keeps today's arithmetic to the bit because no autocast context is entered at all; bf16 is
    autocast on bf16 hardware and rounding elsewhere (precision.py)."""
    import pytest_scaling.precision as precision

    entered = []
    real = torch.autocast

    def spy(*args, **kwargs):
        entered.append(kwargs.get("dtype"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "autocast", spy)
    train_group([spec(fraction=0.25)], fake_dataset)
    assert entered == []
    monkeypatch.setattr(precision, "native_bf16", lambda _device: False)
    train_group([spec(fraction=0.25, precision="bf16")], fake_dataset)
    assert entered == []
    monkeypatch.setattr(precision, "native_bf16", lambda _device: True)
    train_group([spec(width=2, fraction=1 / 16, precision="bf16")], fake_dataset)
    assert entered and set(entered) == {torch.bfloat16}


@pytest.mark.parametrize("chunk_images", [7, 50])  # 7 does not divide the 50-image slice
def test_slice_scores_are_the_same_alone_and_within_the_full_split(fake_dataset, chunk_images):
    model = GroupedCNN(8, [init_member(8, 0), init_member(8, 1)], torch.zeros(2), torch.device("cpu"))
    per_image = 4 * 2 * 28 * 28 * (9 + 2 * 8)
    settings = TrainSettings(intermediate_val_size=50, eval_chunk_bytes=chunk_images * per_image)
    assert eval_chunk_size(model, settings, torch.device("cpu")) == chunk_images
    assert fake_dataset.val_x.shape[0] > 50
    alone = evaluate(model, fake_dataset, settings, full=False)
    full = evaluate(model, fake_dataset, settings, full=True)
    assert torch.equal(alone.slice_loss, full.slice_loss) and torch.equal(alone.slice_acc, full.slice_acc)
    assert not torch.equal(full.full_loss, full.slice_loss)


def test_eval_chunks_are_larger_on_accelerators():
    model = GroupedCNN(32, [init_member(32, s) for s in range(32)], torch.zeros(32), torch.device("cpu"))
    settings = TrainSettings()
    on_cpu = eval_chunk_size(model, settings, torch.device("cpu"))
    assert eval_chunk_size(model, settings, torch.device("cuda")) > on_cpu >= 1  # only the device's type is read


# --- training protocols: cooldown branches and repeated epochs ------------------------------------------

#: One chain of the 640-image fake set (10 steps at fraction 1): constant and cooldown runs at every
#: fraction, epochs 1-4 on one fraction, and a cooldown of 2 epochs (which branches off the epoch line).
PROTOCOL_CHAIN = [spec(seed=3, dropout=0.2, fraction=f, schedule=sched) for f in (1.0, 0.5, 0.25)
                  for sched in ("constant", "cooldown")] + \
                 [spec(seed=3, dropout=0.2, fraction=0.5, epochs=e) for e in (2, 3, 4)] + \
                 [spec(seed=3, dropout=0.2, fraction=0.5, epochs=2, schedule="cooldown")]


def test_every_run_read_off_a_shared_chain_is_the_run_trained_alone(fake_dataset):
    """Branches (cooldown tails, epoch lines, a cooldown off an epoch line) are exact: each run of the
    chain equals the same run trained from its own initialisation through its whole schedule, with no
    trunk, snapshot or branch (``train_unshared``), and trained as the only run of its group; dropout too."""
    shared = dict((r.spec, r) for r in train_group(PROTOCOL_CHAIN, fake_dataset))
    for run in PROTOCOL_CHAIN:
        (alone,) = train_unshared([run], fake_dataset)
        assert timeless(shared[run]) == timeless(alone), run
        if run.schedule != "constant" or run.epochs > 1:  # the branch with no sibling branches around it
            assert timeless(train_group([run], fake_dataset)[0]) == timeless(alone), run
        assert shared[run].examples == 64 * run.epochs * {1.0: 10, 0.5: 5, 0.25: 2}[run.fraction]


def test_a_cooldown_run_leaves_the_constant_run_only_in_its_last_fifth(fake_dataset):
    constant, cooldown = train_group([spec(fraction=1.0), spec(fraction=1.0, schedule="cooldown")], fake_dataset)
    branch = cooldown_start(10)
    assert branch == 8
    # Same checkpoints up to the branch point (steps 1, 2, 3, 5, 7), a different end.
    assert constant.checkpoints[:-1] == cooldown.checkpoints[:-1]
    assert all(c.examples <= branch * 64 for c in cooldown.checkpoints[:-1])
    assert cooldown.val_loss != constant.val_loss and cooldown.examples == constant.examples == 640


def test_the_cooldown_schedule_is_a_linear_decay_to_zero_over_the_last_fifth():
    factors = lr_factors(spec(schedule="cooldown"), 100)
    assert factors[:80] == [1.0] * 80
    tail = np.array(factors[80:])
    assert len(tail) == 20 and np.all(np.diff(tail) < 0) and 0 < tail[-1] < 0.05
    assert np.allclose(np.diff(tail), -1 / 20) and tail.mean() == pytest.approx(0.5)
    assert lr_factors(spec(), 100) == [1.0] * 100
    assert lr_factors(spec(schedule="cooldown"), 2) == [1.0, 1.0]  # too short for a tail: the constant run


def test_the_lr_factors_are_what_sets_a_cooldown_apart(fake_dataset, monkeypatch):
    """With its tail's factors at 1, a cooldown run is the constant run to the bit: the schedule is the
    only difference, and the branch (snapshot, restore, Adam's step count) loses nothing."""
    constant = timeless(train_group([spec(fraction=1.0)], fake_dataset)[0])
    monkeypatch.setattr(train, "lr_factors", lambda run, steps: [1.0] * steps)
    (flat,) = train_group([spec(fraction=1.0, schedule="cooldown")], fake_dataset)
    assert dataclasses.replace(timeless(flat), spec=constant.spec) == constant


def test_more_epochs_continue_fewer(fake_dataset):
    """The run of E epochs passes through the end of the run of E/2: its checkpoint there is that run's
    end, on the validation slice; epochs 2+ see only the run's own fraction, so E=2 on 1/2 is not f=1."""
    half = {e: train_unshared([spec(fraction=0.5, epochs=e, seed=1)], fake_dataset)[0] for e in (1, 2, 4)}
    for e in (1, 2):
        at = {c.examples: c for c in half[2 * e].checkpoints}[half[e].examples]
        assert (at.val_loss, at.val_acc) == (half[e].slice_loss, half[e].slice_acc)
    (full,) = train_group([spec(fraction=1.0, seed=1)], fake_dataset)
    assert full.examples == half[2].examples and full.val_loss != half[2].val_loss
    assert half[4].flops == 4 * half[1].flops


def test_epoch_orders(fake_dataset):
    data = fake_dataset
    assert torch.equal(data.epoch_order(0.5, 3, 64, 1), data.training_order(0.5, 3, 64))
    first, second, third = (data.epoch_order(0.5, 3, 64, e) for e in (1, 2, 3))
    assert torch.equal(second.sort().values, first.sort().values)  # the same subset, reshuffled
    assert not torch.equal(second, first) and not torch.equal(third, second)
    assert not torch.equal(data.epoch_order(0.5, 4, 64, 2), second)  # seeds differ
    assert torch.equal(data.epoch_order(0.5, 3, 64, 2), second)  # deterministic
    assert torch.equal(data.run_order(0.5, 3, 64, 3), torch.cat([first, second, third]))


def test_grouped_branches_agree_with_single_ones_up_to_float_error(fake_dataset):
    """Accelerators group a chain's branches (each member with its own start step for Adam's bias
    correction, length and LR factor); without dropout that changes only float rounding."""
    runs = [dataclasses.replace(r, dropout=0.0) for r in PROTOCOL_CHAIN]
    single = train_group(runs, fake_dataset)
    grouped = train_group(runs, fake_dataset, branch_group_size=8)
    for a, b in zip(single, grouped):
        assert b.val_loss == pytest.approx(a.val_loss, rel=1e-4)
        assert [c.examples for c in a.checkpoints] == [c.examples for c in b.checkpoints]


def test_a_branch_of_a_diverged_trunk_is_diverged(fake_dataset):
    runs = [spec(fraction=1.0, lr_mult=1e7, schedule=s, epochs=e) for s, e in (("constant", 1), ("cooldown", 1),
                                                                               ("constant", 2))]
    results = train_group(runs, fake_dataset, TrainSettings(divergence_check_every=1))
    assert all(r.diverged and math.isnan(r.val_loss) for r in results)


def test_protocols_must_be_known():
    with pytest.raises(ValueError, match="unknown schedule"):
        spec(schedule="cosine")
    with pytest.raises(ValueError, match="epochs"):
        spec(epochs=0)
