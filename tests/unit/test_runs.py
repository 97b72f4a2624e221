import csv
import io
import math

import pytest

from pytest_scaling.runs import CSV_COLUMNS, Checkpoint, RunResult, RunSpec, RunTable

#: The spec fields every run had before training protocols existed.
OLD_FIELDS = {"width", "fraction", "seed", "dropout", "lr_mult", "lr_scale", "batch_size"}


def result(**spec_fields):
    spec = RunSpec(**{"width": 4, "fraction": 0.25, "seed": 0, **spec_fields})
    return RunResult(spec=spec, params=4266, flops_per_example=177184, examples=15000 * spec.epochs, val_loss=0.5,
                     val_acc=0.8, checkpoints=(Checkpoint(7488, 0.7, 0.7), Checkpoint(15000, 0.5, 0.8)),
                     slice_loss=0.51, slice_acc=0.79)


def test_new_fields_are_left_out_at_their_defaults():
    assert set(RunSpec(width=4, fraction=0.25, seed=0).as_dict()) == OLD_FIELDS
    cooled = RunSpec(width=4, fraction=0.25, seed=0, schedule="cooldown", epochs=2).as_dict()
    assert cooled["schedule"] == "cooldown" and cooled["epochs"] == 2
    assert RunSpec(**cooled) == RunSpec(width=4, fraction=0.25, seed=0, schedule="cooldown", epochs=2)


@pytest.mark.parametrize("fields", [{}, {"schedule": "cooldown"}, {"epochs": 4}])
def test_json_round_trip(fields):
    run = result(**fields)
    assert RunResult.from_json(run.to_json()) == run


def test_branches_and_continuations_share_their_trunks_chain_and_group():
    base = RunSpec(width=4, fraction=1.0, seed=1)
    for other in (RunSpec(width=4, fraction=1 / 4, seed=1, schedule="cooldown"),
                  RunSpec(width=4, fraction=1 / 16, seed=1, epochs=8)):
        assert other.chain_key == base.chain_key and other.group_key == base.group_key


def test_csv_round_trip_with_the_protocol_columns():
    table = RunTable([result(), result(schedule="cooldown"), result(epochs=2), result(seed=1, schedule="cooldown"),
                      result(fraction=1 / 4, base_fraction=1 / 16)])
    text = table.to_csv()
    assert text.splitlines()[0].endswith(",schedule,epochs,precision,stream,base_fraction")
    back = RunTable.from_csv(text)
    assert [r.spec for r in back] == [r.spec for r in table]
    assert len(back.where(schedule="cooldown")) == 2 and back.where(epochs=2)[0].examples == 30000
    assert set(back.column("schedule").tolist()) == {"constant", "cooldown"}


def test_an_older_csv_imports_as_constant_lr_one_epoch():
    """A runs.csv written before these columns (and before slice scores and precision) still imports."""
    table = RunTable([result(), result(seed=1)])
    old_columns = [c for c in CSV_COLUMNS if c not in ("schedule", "epochs", "slice_loss", "slice_acc", "precision")]
    lines = table.to_csv().splitlines()
    header = lines[0].split(",")
    keep = [header.index(c) for c in old_columns]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([[row[i] for i in keep] for row in rows])
    back = RunTable.from_csv(buf.getvalue())
    assert [r.spec for r in back] == [r.spec for r in table]
    assert all(r.spec.schedule == "constant" and r.spec.epochs == 1 and math.isnan(r.slice_loss) for r in back)
    assert all(r.spec.precision == "fp32" for r in back)


def test_precision_round_trips_through_the_csv_and_is_validated():
    table = RunTable([result(), result(precision="bf16")])
    back = RunTable.from_csv(table.to_csv())
    assert [r.spec for r in back] == [r.spec for r in table]
    assert back.where(precision="bf16")[0].spec.precision == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        RunSpec(width=4, fraction=0.25, seed=0, precision="fp16")


def test_precision_separates_chains_and_groups():
    """A bf16 trunk is not a prefix of an fp32 run, and a grouped model runs in one precision."""
    fp32, bf16 = RunSpec(width=4, fraction=0.25, seed=0), RunSpec(width=4, fraction=0.25, seed=0, precision="bf16")
    assert fp32.chain_key != bf16.chain_key and fp32.group_key != bf16.group_key
