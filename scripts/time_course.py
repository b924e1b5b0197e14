#!/usr/bin/env python
"""Time the whole course: execute every notebook in order, as a reader would, and write
``results/course-timing-<budget>-<device>/timing.json`` and ``TIMING.md``.

    python scripts/time_course.py --budget quick

Each notebook runs top to bottom in a fresh kernel (nbclient), with its solutions in place
(the course as a reader who has done the exercises runs it), on ``RESLAB_BUDGET=<budget>`` and
a fresh runs folder, so nothing is reused from earlier sessions; later notebooks reuse runs
that earlier notebooks of the same pass trained, as they do for a reader. The JSON names the
machine, torch and its thread count, the load average before and after (a timing is only
worth something on an otherwise idle machine), each notebook's wall time, the time of the
cell that runs its default experiment (``experiments.run(...)``), and every cell over 5 s.
The executed notebooks are not kept.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
import torch  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from reslab.course.timing import markdown  # noqa: E402
from reslab.paths import timing_dir  # noqa: E402
from reslab.training.budget import BUDGETS  # noqa: E402


def _cpu_model() -> str:
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _seconds(cell) -> float:
    """A cell's execution time from nbclient's timing metadata."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _errors(cell) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}"[:200] for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


def time_notebook(path: Path) -> dict:
    """Execute one notebook in a fresh kernel; its wall time, cells over 5 s, and errors."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    experiment = [_seconds(c) for _, c in code if "experiments.run(" in c.source]
    return {"seconds": round(wall, 1),
            "default_experiment_seconds": round(sum(experiment), 1) if experiment else None,
            "cells_over_5s": [{"cell": i, "seconds": round(_seconds(c), 1),
                               "source": c.source.splitlines()[0][:100]}
                              for i, c in code if _seconds(c) > 5],
            "errors": [e for _, c in code for e in _errors(c)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="quick", choices=list(BUDGETS))
    parser.add_argument("--notebooks", nargs="+", help="stems or numbers (default: all)")
    args = parser.parse_args()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    os.environ["RESLAB_BUDGET"] = args.budget
    os.environ["RESLAB_RUNS"] = str(ROOT / "runs" / f"course-timing-{stamp}")
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if any(p.stem.startswith(n) for n in args.notebooks)]
        if not paths:
            parser.error(f"no notebook matches {' '.join(args.notebooks)}: give numbers such "
                         "as 01 02, or stems such as 01_degradation")
    info = {"command": "python " + shlex.join(sys.argv), "budget": args.budget,
            "device": f"CPU ({_cpu_model()}, {os.cpu_count()} cores)", "threads": torch.get_num_threads(),
            "torch": torch.__version__, "platform": platform.platform(),
            "date": datetime.now().isoformat(timespec="seconds"),
            "load_before": [round(x, 2) for x in os.getloadavg()], "notebooks": {}}
    for path in paths:
        info["notebooks"][path.stem[:2]] = t = time_notebook(path)
        print(f"{path.name}: {t['seconds'] / 60:.1f} min (default experiment "
              f"{t['default_experiment_seconds']} s), errors: {t['errors'] or 'none'}",
              flush=True)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    runs = Path(os.environ["RESLAB_RUNS"]).glob("*/history.json")
    info["datasets"] = sorted({json.loads(p.read_text())["meta"]["dataset"] for p in runs})
    info["total_seconds"] = round(sum(t["seconds"] for t in info["notebooks"].values()), 1)
    device = "gpu" if torch.cuda.is_available() else "cpu"
    out = timing_dir(args.budget, device)
    out.mkdir(parents=True, exist_ok=True)
    (out / "timing.json").write_text(json.dumps(info, indent=1) + "\n")
    (out / "TIMING.md").write_text(markdown(info))
    print(f"course: {info['total_seconds'] / 60:.1f} min; wrote {out}")


if __name__ == "__main__":
    main()
