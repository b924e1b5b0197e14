"""Each benchmark's quick mode runs and writes its JSON (so the scripts cannot rot).

These check behaviour only -- that the numbers exist and are positive -- never timings.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _quick(script: str, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / f"{script}.json"
    result = subprocess.run([sys.executable, f"benchmarks/{script}.py", "--quick", "--out",
                             str(out), *extra], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["machine"]["torch"] and record["command"].startswith("python ")
    return record


def test_trainer_throughput_quick(tmp_path):
    record = _quick("trainer_throughput", tmp_path)
    row = record["results"][0]
    assert row["model"] == "resnet20" and row["batch_size"] == 128
    assert row["kit_images_per_s"] > 0 and row["baseline_images_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["kit_images_per_s"] / row["baseline_images_per_s"])


def test_sweep_speed_quick_warms_up_every_net_before_timing_steps(tmp_path):
    record = _quick("sweep_speed", tmp_path)
    result = record["results"]
    assert result["sweep_seconds"] > 0 and result["sequential_seconds"] > 0
    assert result["speedup"] == pytest.approx(result["sequential_seconds"] /
                                              result["sweep_seconds"])
    # every net: the warm-up, then the timed steps of each way it was measured
    ways = 3 if result["side_streams"] else 2
    assert set(result["final_steps"].values()) == {record["warmup"] +
                                                   ways * record["iterations"]}
    assert set(result["final_steps"]) == set(record["models"])
    assert result["projected_full_schedule_seconds"] > 0


def test_schedule_time_quick(tmp_path):
    """Both schedules when asked (the default is ResNet-20 alone: the sweep takes 20 minutes
    or more even on a GPU); the last write is the complete record."""
    record = _quick("schedule_time", tmp_path, "--which", "both")
    assert record["complete"] is True
    names = [row["schedule"] for row in record["results"]]
    assert names == ["resnet20", "sweep"]
    for row in record["results"]:
        assert row["seconds"] > 0 and row["iterations"] == 2
        assert set(row["test_error"]) == set(row["models"])
        assert row["meets_gpu_target"] is None  # the targets are for a GPU


def test_each_card_gets_its_own_nominal_peak(monkeypatch):
    """The H100 SXM's peak was applied to every card whose name contained "H100"."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.mac_throughput import nominal_peak
    tera = 1e12 / 2  # TFLOPS -> multiply-adds per second
    assert nominal_peak("NVIDIA H100 80GB HBM3") == 989.4 * tera  # SXM5
    assert nominal_peak("NVIDIA H100 PCIe") == 756 * tera
    assert nominal_peak("NVIDIA H100 NVL") == 835 * tera
    assert nominal_peak("NVIDIA H200") == 989.4 * tera
    assert nominal_peak("NVIDIA A100-SXM4-80GB") == nominal_peak("NVIDIA A100-PCIE-40GB")
    assert nominal_peak("Tesla T4") == 65 * tera and nominal_peak("NVIDIA L4") == 121 * tera
    assert nominal_peak("NVIDIA H100") is None  # form factor unknown: no guess
    assert nominal_peak("NVIDIA GeForce RTX 3060") is None


def test_memory_quick_shows_checkpointing_saves_activations(tmp_path):
    record = _quick("memory", tmp_path)
    plain, checkpointed = record["results"]
    assert not plain["activation_checkpointing"] and checkpointed["activation_checkpointing"]
    assert checkpointed["saved_for_backward_MB"] < 0.5 * plain["saved_for_backward_MB"]


def test_mac_throughput_quick(tmp_path):
    record = _quick("mac_throughput", tmp_path)
    row = record["results"][0]
    assert record["matmul_peak_macs_per_s"] > 0
    import reslab
    forward = reslab.count_macs(reslab.build_model("resnet20"), (1, 3, 32, 32))
    assert row["training_macs_per_image"] == 3 * forward
    assert 0 < row["fraction_of_matmul_peak"]


def test_cpu_step_quick_compares_every_variant_with_fp32(tmp_path):
    record = _quick("cpu_step", tmp_path, "--models", "resnet20")
    rows = record["results"]["resnet20"]
    assert rows["fp32"]["speedup_vs_fp32"] == 1.0 and "fp32 channels-last" in rows
    assert all(r["seconds_per_step"] > 0 for r in rows.values())
    assert ("bf16 channels-last (the kit)" in rows) == record["native_bf16"]
