#!/usr/bin/env python3
"""The GPU run's preflight: in seconds, one line saying whether the call can do its work.

It checks that torch sees a CUDA device and computes on it, that the dataset is there and its
images decode, and that the packages the trainer imports are installed. It prints
``preflight: ok: ...`` and exits 0, or ``preflight: STOP: ...`` naming every problem and
exits 1, so that a call without a GPU or without its dataset (``.carry`` not sent along)
ends at once instead of after minutes. ``--allow-cpu`` lets a CPU pass: the CPU rehearsal.

    python3 scripts/gpu_preflight.py --dataset cifar10-jpeg
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
PACKAGES = ("numpy", "tqdm", "PIL")  # what the trainer and the JPEG decoder import


def first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:160]}"


def device(allow_cpu: bool) -> tuple[str, str | None]:
    """What computes (found) and what is wrong with it (None: nothing)."""
    import torch
    if not torch.cuda.is_available():
        found = f"CPU, torch {torch.__version__}"
        return (found + " (allowed: a rehearsal)", None) if allow_cpu else (
            found, f"no CUDA device (torch {torch.__version__} sees none)")
    name = torch.cuda.get_device_name(0)
    if (torch.ones(4, device="cuda") * 2).sum().item() != 8:
        return name, f"{name} computes 2 * 4 ones wrong"
    return f"{name}, torch {torch.__version__}", None


def dataset(name: str) -> tuple[str, str | None]:
    """Whether ``name`` is here: found, and a few of its images decoded (shapes10 is
    generated, always here)."""
    if name == "shapes10":
        return "shapes10 (embedded)", None
    import numpy as np

    from reslab.data.datasets import load_raw
    raw = load_raw(name, download=False)
    raw.train.decode(np.arange(8))
    return f"{name} ({len(raw.train)}+{len(raw.test)} images, 8 decoded)", None


def packages() -> tuple[str, str | None]:
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    problem = f"missing packages: {', '.join(missing)}" if missing else None
    return f"{', '.join(PACKAGES)} installed", problem


def guarded(check: Callable[..., tuple[str, str | None]], what: str,
            *args: object) -> tuple[str, str | None]:
    """``check(*args)``; an error it raises is its problem, named in one line."""
    try:
        return check(*args)
    except Exception as error:  # noqa: BLE001 - any failure is the one line's news
        return what, f"{what} ({first_line(error)})"


def preflight(dataset_name: str, allow_cpu: bool) -> tuple[bool, str]:
    """Whether the call can go on, and the one line that says so."""
    checks = [packages(), guarded(device, "no usable CUDA device", allow_cpu),
              guarded(dataset, f"no dataset {dataset_name}", dataset_name)]
    problems = [problem for _, problem in checks if problem]
    if problems:
        return False, "preflight: STOP: " + "; ".join(problems)
    return True, "preflight: ok: " + "; ".join(found for found, _ in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10-jpeg")
    parser.add_argument("--allow-cpu", action="store_true", help="a CPU passes (a rehearsal)")
    args = parser.parse_args(argv)
    ok, line = preflight(args.dataset, args.allow_cpu)
    print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
