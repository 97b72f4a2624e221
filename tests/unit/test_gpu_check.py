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
    assert "runs/s" in out.stdout and "GFLOP/s" in out.stdout and "frontier slope" in out.stdout
