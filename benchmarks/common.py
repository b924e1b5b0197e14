"""Shared helpers of the benchmark scripts: data, timing, the machine, and the JSON record."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ("cifar10-jpeg", "cifar10", "shapes10")  # the default order of benchmark_data


def arguments(doc: str, models: list[str]) -> argparse.ArgumentParser:
    """The options every benchmark shares: --models, --compile, --quick (CI-sized), --out."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=models)
    parser.add_argument("--compile", action="store_true", help="torch.compile the kit's model")
    parser.add_argument("--quick", action="store_true", help="CI-sized: a few steps")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/<name>-<device>)")
    parser.add_argument("--dataset", help="the images to train on (default: the first of "
                        f"{', '.join(DATASETS)} that is here); named, it must be here")
    return parser


def machine() -> dict:
    """What ran the benchmark: device name, torch version, CPU, threads."""
    from reslab.training.compilation import cpu_has_amx
    info = {"torch": torch.__version__, "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(), "cpu_model": cpu_model(),
            "cpu_amx": cpu_has_amx(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    else:
        info["device"] = f"CPU ({os.cpu_count()} cores)"
    return info


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC 9B14", "Intel(R) Xeon(R) Platinum 8481C"), where Linux
    says it."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor() or platform.machine()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gpu_target(met: bool, device: torch.device) -> bool | None:
    """Whether a GPU target was met; ``None`` when this is not a GPU (the targets are for one)."""
    return bool(met) if device.type == "cuda" else None


def timed(fn, device: torch.device) -> float:
    """Seconds taken by ``fn()``, with the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def benchmark_data(train_images: int | None, test_images: int | None = 100,
                   dataset: str | None = None):
    """The benchmark's images (``None``: all of a split).

    ``dataset`` named: exactly that one, or the loader's one-line error. Not named: the first
    of :data:`DATASETS` that is here, with a line saying so when it is not the first, so that
    a figure measured on the embedded shapes10 is never mistaken for one on CIFAR-10.
    """
    from reslab.data import load_dataset
    if dataset is not None:
        return load_dataset(dataset, train_subset=train_images, test_subset=test_images,
                            download=False)
    missing = []
    for name in DATASETS:
        try:
            data = load_dataset(name, train_subset=train_images, test_subset=test_images,
                                download=False)
        except Exception as error:  # noqa: BLE001 - try the next source
            missing.append(f"{name} ({str(error).splitlines()[0][:80]})")
            continue
        if missing:
            print(f"benchmark data: {name}; not here: {'; '.join(missing)}", flush=True)
        return data
    raise RuntimeError(f"no dataset available: {'; '.join(missing)}")


def write_result(name: str, record: dict, out: str | Path | None, quiet: bool = False) -> Path:
    """Write ``record`` with the machine and the exact command to ``out`` (default results/),
    atomically (a reader never sees half a file)."""
    record = {"benchmark": name, "command": "python " + shlex.join(sys.argv),
              "date": datetime.date.today().isoformat(), "machine": machine(), **record}
    path = Path(out) if out else RESULTS / f"{name}-{_device_tag()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, path)
    if not quiet:
        print(f"wrote {path}", flush=True)
    return path


def _device_tag() -> str:
    from reslab.tools.selftest import device_tag  # noqa: PLC0415 - the selftest's file names
    return device_tag(torch.device("cuda", 0) if torch.cuda.is_available() else
                      torch.device("cpu"))
