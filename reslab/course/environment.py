"""What this machine offers the course: torch, device, budget, datasets, folders."""
from __future__ import annotations

import os
import platform

import torch

from reslab.data import available_datasets
from reslab.paths import data_dir, runs_dir
from reslab.training.budget import ENV_VAR, get_budget


def report() -> dict[str, object]:
    """The environment as plain data (see :func:`print_report`)."""
    if torch.cuda.is_available():
        device = f"CUDA: {torch.cuda.get_device_name(0)}"
    else:
        device = f"CPU only ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    return {"python": platform.python_version(), "torch": torch.__version__, "device": device,
            "budget": get_budget().name, "budget_from": ENV_VAR,
            "data_dir": str(data_dir()), "runs_dir": str(runs_dir()),
            "datasets": available_datasets(download=False)}


def print_report() -> None:
    """Print :func:`report` as a short, readable summary."""
    r = report()
    print(f"python {r['python']}, torch {r['torch']}")
    print(f"device : {r['device']}")
    print(f"budget : {r['budget']}  (set {r['budget_from']}=smoke|quick|full to change it)")
    print(f"data   : {r['data_dir']}")
    print(f"runs   : {r['runs_dir']}  (checkpoints and history.json of every run)")
    print("datasets:")
    for name, where in r["datasets"].items():
        print(f"  {name:14s} {where}")
