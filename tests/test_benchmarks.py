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
