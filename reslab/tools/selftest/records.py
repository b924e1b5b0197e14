"""What the selftest's checks share and what it writes: a check's :class:`Result` (one line
and its numbers), the :class:`Context` the checks run in (device, sizes, data, time budget),
a :class:`Check` with its GPU estimate, and the JSON report naming the device and torch version.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reslab.data import SHAPES10_CLASSES, ImageDataset, make_shapes10
from reslab.paths import REPO_DIR
from reslab.training.config import TrainConfig, config_from


@dataclass
class Result:
    """One check's outcome: status, a one-line detail, and its numbers."""

    name: str
    status: str  # PASS, FAIL, MEASURE, SKIP (needs CUDA), SKIP (time budget)
    detail: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        return f"{self.status:<7} {self.name}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Context:
    """What the checks share: the device, their sizes, the data and the time budget."""

    device: torch.device
    deadline: float
    data: ImageDataset | None = None

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def config(self, **overrides: Any) -> TrainConfig:
        """ResNet-20 at batch 128 on CUDA; on a CPU an 8-layer net of 4-8 channels, batch 32."""
        size = ({"model": "resnet20", "batch_size": 128} if self.cuda else
                {"model": "resnet", "batch_size": 32,
                 "model_options": {"depth": 8, "widths": (4, 8, 8)}})
        base = {**size, "train_subset": None, "test_subset": None, "device": str(self.device),
                "iterations": 8, "eval_every": 4}
        return config_from("smoke", **{**base, **overrides})

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()


@dataclass(frozen=True)
class Check:
    """A check, whether it needs CUDA, its estimated seconds on a GPU (the time budget skips a
    check whose estimate does not fit in the time left), and its group: ``core`` (the
    correctness a GPU run brings back first), ``speed`` (eager vs graphed steps/s) or
    ``more`` (the rest); a GPU run runs the groups as separate steps into one report."""

    name: str
    run: Callable[[Context], Result]
    needs_cuda: bool = False
    gpu_seconds: float = 5.0
    group: str = "more"


def shapes10(train: int, test: int) -> ImageDataset:
    """``train + test`` images of the embedded shapes10, generated for the checks."""
    x, y = make_shapes10(train + test, seed=0)
    return ImageDataset("shapes10", x[:train], y[:train], x[train:], y[train:],
                        SHAPES10_CLASSES, f"make_shapes10({train + test})")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else (
        f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")


def device_tag(device: torch.device) -> str:
    """A short name for file names: "cpu", "mps", or the GPU's model ("h100", "a100", "t4")."""
    if device.type != "cuda":
        return device.type
    name = torch.cuda.get_device_name(device)
    model = re.search(r"\b([A-Z]{1,2}\d{1,4})\b", name)
    return (model.group(1) if model else name.split()[-1]).lower().replace("/", "-")


def default_out(device: torch.device) -> Path:
    """``benchmarks/results/selftest-<device>.json`` (of a checkout; else of the cwd)."""
    root = REPO_DIR if (REPO_DIR / "benchmarks").is_dir() else Path.cwd()
    return root / "benchmarks" / "results" / f"selftest-{device_tag(device)}.json"


def write_report(results: Sequence[Result], device: torch.device, out: Path,
                 complete: bool = True) -> None:
    """The report as JSON (atomically: a reader never sees half a file); ``complete`` is
    False while checks are still to come."""
    argv = sys.argv[2:] if sys.argv[1:2] == ["selftest"] else []
    record = {"command": shlex.join(["python", "-m", "reslab", "selftest", *argv]),
              "date": datetime.date.today().isoformat(), "device": device_name(device),
              "torch": torch.__version__, "cuda": torch.version.cuda,
              "python": platform.python_version(), "complete": complete,
              "checks": [r.__dict__ for r in results]}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, out)


def read_report(path: Path, device: torch.device) -> list[Result]:
    """The results of an earlier report at ``path`` made on this device with this torch
    version (another group's checks, to be kept); none when there is no such report or it
    cannot be read."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    if record.get("device") != device_name(device) or record.get("torch") != torch.__version__:
        return []
    return [Result(**check) for check in record.get("checks", [])]
