import resource
import sys

import pytest
import torch

from pytest_scaling.device import keep_freed_host_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")
def test_freed_activation_sized_blocks_are_reused_not_faulted_in_again():
    assert keep_freed_host_memory()
    torch.ones(4 * 2**20).sum()  # 16 MiB, the size of a width-32 step's activations
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.ones(4 * 2**20).sum()
    # glibc's defaults fault in ~12,000 pages over these 20 rounds (measured); reused memory, none.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 1000
