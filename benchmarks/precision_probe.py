"""The training step's time in fp32 and bf16 per width: the evidence behind ``--scaling-precision=auto``.

Times the probe's workload (``pytest_scaling/precision_probe.py``: the grid's own training step, its
group size, one thread on CPU) at each width, the precisions alternating after a warm-up; prints ms
per step and fp32's time over bf16's (above 1: bf16 faster). bf16 is what training computes here:
autocast where the device has bf16 hardware, fp32 kernels on rounded operands elsewhere
(precision.py). ``--autocast`` adds torch.autocast even where it is emulated: the reason ``auto``
never takes bf16 without bf16 hardware. Last, the probe's own figure (one step at each of its
widths) and the choice ``auto`` makes on it with ``BF16_MARGIN``.

    python benchmarks/precision_probe.py [--widths 1,2,4,8,16,32] [--device cpu] [--passes 5] [--autocast]
"""

from __future__ import annotations

import argparse
import time

import torch

from pytest_scaling.device import default_group_size, device_model, native_bf16, resolve_device
from pytest_scaling.auto_precision import choose_precision
from pytest_scaling.precision_probe import BF16_MARGIN, PROBE_WIDTHS, time_passes, time_probe


def autocast_ms(device: torch.device, width: int, passes: int) -> float:
    """torch.autocast's bf16 step (emulated where the device has no bf16 hardware), best of ``passes``."""
    import pytest_scaling.precision as precision

    native = precision.native_bf16
    precision.native_bf16 = lambda _device: True  # forward_precision's autocast branch, hardware or not
    try:
        return time_passes(device, widths=(width,), precisions=("bf16",), warmup=1, passes=passes)["bf16"][width] * 1e3
    finally:
        precision.native_bf16 = native


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="1,2,4,8,16,32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--passes", type=int, default=5, help="timed steps per width and precision (best counts)")
    parser.add_argument("--autocast", action="store_true", help="also time torch.autocast where it is emulated")
    args = parser.parse_args()
    device = resolve_device(args.device)
    widths = [int(w) for w in args.widths.split(",")]
    arithmetic = "native (autocast)" if native_bf16(device) else "rounded (fp32 kernels; no bf16 hardware)"
    print(f"{device_model(device)} · torch {torch.__version__} · bf16 {arithmetic}")
    print(f"ms per training step, batch 64, group size per device"
          f"{', 1 thread' if device.type == 'cpu' else ''}; fp32/bf16 above 1: bf16 faster")
    header = f"{'width':>5} {'group':>5} {'fp32':>8} {'bf16':>8} {'fp32/bf16':>9}"
    print(header + (f" {'autocast':>9} {'fp32/autocast':>13}" if args.autocast else ""))
    totals = {"fp32": 0.0, "bf16": 0.0}
    for width in widths:
        best = time_passes(device, widths=(width,), passes=args.passes)
        fp32, bf16 = best["fp32"][width] * 1e3, best["bf16"][width] * 1e3
        totals["fp32"] += fp32
        totals["bf16"] += bf16
        line = f"{width:5d} {default_group_size(device, width):5d} {fp32:8.2f} {bf16:8.2f} {fp32 / bf16:9.2f}"
        if args.autocast:
            emulated = autocast_ms(device, width, max(1, args.passes // 2))
            line += f" {emulated:9.2f} {fp32 / emulated:13.2f}"
        print(line, flush=True)
    print(f"{'all':>5} {'':5} {totals['fp32']:8.2f} {totals['bf16']:8.2f} {totals['fp32'] / totals['bf16']:9.2f}"
          "   (one step at every width: the grid's mix, which trains each width on the same examples)")
    started = time.perf_counter()
    fp32_s, bf16_s = time_probe(device)
    took = time.perf_counter() - started
    speedup = fp32_s / bf16_s
    print(f"probe (widths {', '.join(map(str, PROBE_WIDTHS))}): fp32 {fp32_s * 1e3:.2f} ms, "
          f"bf16 {bf16_s * 1e3:.2f} ms, fp32/bf16 {speedup:.2f} (margin {BF16_MARGIN:.2f}); took {took:.2f} s")
    verdict = "bf16" if speedup >= BF16_MARGIN else "fp32"
    print(f"auto here: {choose_precision('auto', device).label}"
          + ("" if native_bf16(device) else f"; on this ratio with bf16 hardware it would pick {verdict}"))
    print(f"precision_probe_speedup: {speedup:.3f}")


if __name__ == "__main__":
    main()
