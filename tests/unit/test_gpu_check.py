import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the check itself (below)")
def test_gpu_check_says_there_is_nothing_to_check_without_cuda():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("no CUDA device is present (torch.cuda.is_available() is False): "
                                  "nothing to check on this machine")


@pytest.mark.cuda
def test_gpu_check_trains_and_compares_on_cuda():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "runs/s" in out.stdout and "GFLOP/s" in out.stdout and "frontier_slope: cuda" in out.stdout


def test_gpu_check_compares_a_device_with_cpu_fp32_end_to_end(fake_data_dir, capsys):
    """The whole check, with the CPU standing in for CUDA: identical runs must agree (exit 0), and the
    output carries the figures the README quotes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    code = gpu_check.main(["--device", "cpu", "--precision", "fp32", "--budget", "micro", "--dataset", "mnist",
                           "--data-dir", str(fake_data_dir), "--define",
                           "micro: parent=tiny widths=1,2,4,8 fractions=1/16,1/8,1/4,1/2 seeds=0,1 dropouts=0 "
                           "sweep_widths=2,4,16 sweep_mults=1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("runs/s") == 2 and "GFLOP/s" in out
    assert "frontier_slope: cuda" in out and "compute_optimal_exponent: cuda" in out and "FAILED" not in out
