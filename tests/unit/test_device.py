import subprocess
import sys
import textwrap

import pytest

#: Run in a fresh process: inside a pytest session the heap's state depends on every test before,
#: and the first rounds of a fresh heap region fault in regardless of the setting.
_FAULTS_AFTER_WARM_UP = textwrap.dedent("""
    import resource, torch
    from pytest_scaling.device import keep_freed_host_memory
    assert keep_freed_host_memory()
    for _ in range(3):
        torch.ones(4 * 2**20).sum()  # 16 MiB, the size of a width-32 step's activations
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.ones(4 * 2**20).sum()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")
def test_freed_activation_sized_blocks_are_reused_not_faulted_in_again():
    out = subprocess.run([sys.executable, "-c", _FAULTS_AFTER_WARM_UP], capture_output=True, text=True, check=True)
    # Unmapped and mapped again, 20 rounds of 16 MiB fault in ~80,000 pages; reused memory none, but
    # the heap may still grow to a new high-water mark once or twice (4,096 pages each; measured 0–12,288
    # over repeated fresh processes), so the bound is a quarter of the unmapped count.
    assert int(out.stdout.strip()) < 20_000


def test_native_bf16_reads_the_hardware(monkeypatch):
    import torch

    import pytest_scaling.device as device

    assert device.native_bf16(torch.device("mps")) is False
    with open("/proc/cpuinfo") as f:  # the flags decide, not mkldnn's probe (which says yes to plain AVX-512)
        flags = set(f.read().split())
    assert device.native_bf16(torch.device("cpu")) is bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _device: (9, 0))
    assert device.native_bf16(torch.device("cuda", 0)) is True
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _device: (7, 5))
    assert device.native_bf16(torch.device("cuda", 0)) is False
