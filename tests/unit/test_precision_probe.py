"""``auto`` precision: bf16 only where a probe measures it faster, the probe cached per device model."""

import json
import math

import pytest
import torch

import pytest_scaling.precision as precision

import pytest_scaling.auto_precision as auto_precision
import pytest_scaling.precision_probe as probe
from pytest_scaling.device import device_model

CPU = torch.device("cpu")


class Timer:
    """A probe that returns fixed timings and counts its calls."""

    def __init__(self, fp32_seconds: float, bf16_seconds: float = 1.0):
        self.timings, self.calls = (fp32_seconds, bf16_seconds), 0

    def __call__(self, device):
        self.calls += 1
        return self.timings


def never(_device):
    raise AssertionError("probed")


@pytest.fixture
def native(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda _device: True)
    monkeypatch.setattr(probe, "_measured", {})


@pytest.mark.parametrize("fp32_seconds, expected, reason", [
    (1.31, "bf16", "auto: native, measured 1.31× faster"),
    (1.10, "bf16", "auto: native, measured 1.10× faster"),  # the margin itself is enough
    (1.05, "fp32", "auto: bf16 measured only 1.05× faster here (under 1.10×)"),
    (0.70, "fp32", "auto: bf16 measured 1.43× slower here"),
])
def test_auto_takes_bf16_only_where_measured_faster_by_the_margin(native, fp32_seconds, expected, reason):
    choice = auto_precision.choose_precision("auto", CPU, timer=Timer(fp32_seconds))
    assert (choice.precision, choice.reason) == (expected, reason)
    assert choice.label == f"{expected} ({reason})"
    assert math.isclose(choice.probe.speedup, fp32_seconds)


def test_without_bf16_hardware_auto_is_fp32_and_never_probes(monkeypatch, tmp_path):
    monkeypatch.setattr(precision, "native_bf16", lambda _device: False)
    choice = auto_precision.choose_precision("auto", CPU, probe_dir=tmp_path, timer=never)
    assert (choice.precision, choice.probe) == ("fp32", None)
    assert choice.reason == "auto: no bf16 hardware here; rounded bf16 is slower"
    assert not list(tmp_path.iterdir())


def test_a_named_precision_is_kept_unmeasured(native, tmp_path):
    for name in ("fp32", "bf16"):
        choice = auto_precision.choose_precision(f" {name.upper()} ", CPU, probe_dir=tmp_path, timer=never)
        assert (choice.precision, choice.reason, choice.label) == (name, "", name)
    assert not list(tmp_path.iterdir())


def test_the_probe_runs_once_per_device_and_its_result_is_on_disk(native, tmp_path):
    timer = Timer(0.03, 0.02)
    first = auto_precision.choose_precision("auto", CPU, probe_dir=tmp_path, timer=timer)
    again = auto_precision.choose_precision("auto", CPU, probe_dir=tmp_path, timer=Timer(0.01, 0.02))
    assert timer.calls == 1 and first == again and again.precision == "bf16"  # the second read the file
    [path] = tmp_path.glob("precision-probe-*.json")
    record = json.loads(path.read_text())
    assert record["fp32_seconds"] == 0.03 and record["bf16_seconds"] == 0.02 and record["speedup"] == 1.5
    assert record["torch"] == torch.__version__ and record["device"] == device_model(CPU)
    assert record["widths"] == list(probe.PROBE_WIDTHS) and record["probe_version"] == probe.PROBE_VERSION


@pytest.mark.parametrize("content", [
    "{not json", "", "[1, 2]", '{"device": "cpu"}', "binary",
    "negative", "other torch", "other device",
])
def test_a_corrupt_or_stale_cache_file_is_measured_again(native, tmp_path, content):
    auto_precision.choose_precision("auto", CPU, probe_dir=tmp_path, timer=Timer(2.0))
    [path] = tmp_path.glob("precision-probe-*.json")
    record = json.loads(path.read_text())
    if content == "negative":
        content = json.dumps({**record, "bf16_seconds": -1.0})
    elif content == "other torch":
        content = json.dumps({**record, "torch": "1.0"})
    elif content == "other device":  # a cache directory shared between machines: never another's result
        content = json.dumps({**record, "device": "cpu Some Other CPU"})
    if content == "binary":
        path.write_bytes(b"\xff\xfe\x00")
    else:
        path.write_text(content)
    timer = Timer(0.5)
    choice = auto_precision.choose_precision("auto", CPU, probe_dir=tmp_path, timer=timer)
    assert timer.calls == 1 and choice.precision == "fp32"
    assert json.loads(path.read_text())["fp32_seconds"] == 0.5  # rebuilt
    auto_precision.choose_precision("auto", CPU, probe_dir=tmp_path, timer=never)  # and read from now on


def test_each_device_model_has_its_own_file(native, tmp_path, monkeypatch):
    import pytest_scaling.device as device

    for model, fp32_seconds in (("cpu A (avx512_bf16)", 2.0), ("cpu B (amx_bf16)", 0.5)):
        monkeypatch.setattr(device, "device_model", lambda _device, model=model: model)
        assert auto_precision.resolve_precision("auto", CPU, probe_dir=tmp_path, timer=Timer(fp32_seconds)) == \
            ("bf16" if fp32_seconds > 1 else "fp32")
    assert len(list(tmp_path.glob("precision-probe-*.json"))) == 2
    monkeypatch.setattr(device, "device_model", lambda _device: "cpu A (avx512_bf16)")
    assert auto_precision.resolve_precision("auto", CPU, probe_dir=tmp_path, timer=never) == "bf16"


def test_a_failed_probe_or_an_unwritable_cache_does_not_fail_the_session(native, tmp_path):
    def broken(_device):
        raise RuntimeError("no bf16 kernel")

    choice = auto_precision.choose_precision("auto", CPU, probe_dir=tmp_path, timer=broken)
    assert choice.label == "fp32 (auto: bf16 probe failed (RuntimeError): fp32)"
    blocked = tmp_path / "a file"
    blocked.write_text("")  # the probe directory cannot be made under a file
    assert auto_precision.resolve_precision("auto", CPU, probe_dir=blocked / "probes", timer=Timer(2.0)) == "bf16"


def test_the_default_probe_is_measured_once_per_process(native, monkeypatch):
    timer = Timer(2.0)
    monkeypatch.setattr(probe, "time_probe", timer)
    assert [auto_precision.resolve_precision("auto", CPU) for _ in range(3)] == ["bf16"] * 3
    assert timer.calls == 1  # every auto in this process agrees, with or without a cache directory


def test_the_real_probe_times_the_training_step_in_both_precisions_as_a_worker():
    threads = torch.get_num_threads()
    best = probe.time_passes(CPU, widths=(2,), warmup=1, passes=2)  # bf16 here: native or rounded
    assert set(best) == {"fp32", "bf16"}
    assert all(0 < best[p][2] < 5 for p in best)
    assert torch.get_num_threads() == threads  # one thread while timing, as a grid worker; restored


def test_device_model_names_the_cpu_and_its_bf16_flags():
    import pytest_scaling.device as device

    name, flags = device._cpu_model_and_bf16_flags()
    assert name and bool(flags) == device.native_bf16(CPU)
    assert device_model(CPU) == f"cpu {name}" + (f" ({', '.join(flags)})" if flags else "")
