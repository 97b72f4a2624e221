import dataclasses
import math

import numpy as np
import pytest
import scipy.stats
import torch

from pytest_scaling.models import GroupedCNN, init_member
from pytest_scaling.runs import RunSpec
from pytest_scaling.train import TrainSettings, eval_chunk_size, evaluate, member_learning_rates, train_group


def spec(seed=0, width=3, fraction=0.5, **kw):
    return RunSpec(width=width, fraction=fraction, seed=seed, **kw)


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
