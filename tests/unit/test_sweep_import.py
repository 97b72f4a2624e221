"""Runs of another family read from a file by column mapping (sweep_import.py)."""

import json

import numpy as np
import pytest

from pytest_scaling import analysis as A
from pytest_scaling.errors import ImportFailed
from pytest_scaling.sweep_import import parse_mapping, read_sweep

COLUMNS = "N=params D=tokens loss=val_loss seed=seed"


def _law(n, d):
    return 1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28


def _write(path, rows, header="params,tokens,val_loss,seed"):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def _grid(noise=0.0, seeds=(0, 1), rng=0):
    g = np.random.default_rng(rng)
    return [(n, d, _law(n, d) * np.exp(g.normal(0, noise)) if noise else _law(n, d), s)
            for n in (1e6, 2e6, 4e6, 8e6, 16e6, 32e6) for d in (1e6 * 2 ** k for k in range(9)) for s in seeds]


def test_final_losses_become_runs_with_assembled_trajectories(tmp_path):
    sweep = read_sweep(_write(tmp_path / "s.csv", _grid()), COLUMNS)
    assert len(sweep.runs) == 108 and sweep.trajectories == "assembled from final losses"
    run = max(sweep.runs, key=lambda r: (r.params, r.examples))
    assert run.flops == pytest.approx(6 * 32e6 * 256e6)  # no C column: 6·N·D, and the import says so
    assert [c.examples for c in run.checkpoints] == [int(1e6 * 2 ** k) for k in range(9)]
    assert any("6·N·D" in note for note in sweep.notes)


def test_noise_free_law_gives_the_laws_gamma_and_frontier(tmp_path):
    """γ = β/(α+β) = 0.28/0.62 for C = 6ND; the profile estimators recover it within 0.03 on a noise-free law."""
    runs = read_sweep(_write(tmp_path / "s.csv", _grid(seeds=(0,))), "N=params D=tokens loss=val_loss").runs
    est = A.compute_optimal_exponent(runs, approach="isoflop", n_resamples=50, compare=False, window="auto")
    assert est.value == pytest.approx(0.28 / 0.62, abs=0.03)
    assert A.frontier_slope(runs, n_resamples=50, window="auto").value < 0


def test_one_row_per_checkpoint_and_a_checkpoints_column(tmp_path):
    rows = [(4e6, d, _law(4e6, d), 0, "a") for d in (1e6, 2e6, 4e6)] + [(8e6, d, _law(8e6, d), 0, "b")
                                                                        for d in (1e6, 4e6)]
    path = _write(tmp_path / "c.csv", rows, "params,tokens,val_loss,seed,run")
    sweep = read_sweep(path, COLUMNS + " run=run")
    assert sorted(len(r.checkpoints) for r in sweep.runs) == [2, 3] and sweep.trajectories == "checkpoints"
    lines = [json.dumps({"N": 4e6, "D": 4e6, "L": 3.0, "ck": [[1e6, 4.0], [2e6, 3.5]]})]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    run = read_sweep(path, "N=N D=D loss=L checkpoints=ck").runs[0]
    assert [c.examples for c in run.checkpoints] == [1_000_000, 2_000_000, 4_000_000]


def test_parquet_reads_like_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(_grid(), columns=["params", "tokens", "val_loss", "seed"])
    frame.to_parquet(tmp_path / "s.parquet")
    assert len(read_sweep(tmp_path / "s.parquet", COLUMNS).runs) == 108


@pytest.mark.parametrize("rows, columns, message", [
    ([(1e6, 1e6, 3.0, 0)], "N=params D=tokens", "lacks loss"),
    ([(1e6, 1e6, 3.0, 0)], "N=params D=tokens loss=val_loss W=x", "unknown field 'W'"),
    ([(1e6, 1e6, 3.0, 0)], "N=params D=toks loss=val_loss", "no column 'toks'"),
    ([(1e6, 1e6, 3.0, 0), ("abc", 1e6, 3.0, 0)], COLUMNS, "row 3, column 'params'"),
    ([(1e6, -5, 3.0, 0)], COLUMNS, "row 2, column 'tokens'"),
    ([(1e6, 1e6, 3.0, 0.5)], COLUMNS, "row 2, column 'seed'"),
    ([(1e6, 1e6, 3.0, 0), (1e6, 1e6, 3.1, 0)], COLUMNS, "rows 2 and 3 are the same run"),
])
def test_bad_files_name_the_row_and_the_column(tmp_path, rows, columns, message):
    with pytest.raises(ImportFailed, match=message):
        read_sweep(_write(tmp_path / "bad.csv", rows), columns)


def test_a_unit_mix_up_is_named(tmp_path):
    path = _write(tmp_path / "u.csv", [(1e6, 1e9, 3.0, 0, 1e8)], "params,tokens,val_loss,seed,flops")
    with pytest.raises(ImportFailed, match=r"row 2: compute C=1e\+08 .* smaller than the data D"):
        read_sweep(path, COLUMNS + " C=flops")
    path.write_text("params,tokens,val_loss,seed,flops\n1e6,1e3,3.0,0,1e8\n")
    with pytest.raises(ImportFailed, match="less than one FLOP per parameter"):
        read_sweep(path, COLUMNS + " C=flops")


def test_unknown_suffix_and_malformed_file(tmp_path):
    with pytest.raises(ImportFailed, match="format"):
        read_sweep(_write(tmp_path / "s.txt", _grid()), COLUMNS)
    (tmp_path / "m.jsonl").write_text("{not json\n")
    with pytest.raises(ImportFailed, match="cannot read"):
        read_sweep(tmp_path / "m.jsonl", COLUMNS)
    with pytest.raises(ImportFailed, match="no such file"):
        read_sweep(tmp_path / "none.csv", COLUMNS)


def test_diverged_rows_are_kept_as_diverged(tmp_path):
    rows = _grid()
    rows[0] = (*rows[0][:2], float("nan"), rows[0][3])
    runs = read_sweep(_write(tmp_path / "s.csv", rows), COLUMNS).runs
    assert sum(r.diverged for r in runs) == 1 and len(runs.usable()) == 107


def test_mapping_syntax():
    assert parse_mapping("N=a, D=b loss=c") == {"N": "a", "D": "b", "loss": "c"}
    with pytest.raises(ImportFailed, match="twice"):
        parse_mapping("N=a N=b D=b loss=c")
