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


def test_sweep_speed_quick(tmp_path):
    record = _quick("sweep_speed", tmp_path)
    result = record["results"]
    assert result["sweep_seconds"] > 0 and result["sequential_seconds"] > 0
    assert result["speedup"] == pytest.approx(result["sequential_seconds"] /
                                              result["sweep_seconds"])


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
