"""Wall-clock time of whole training schedules with ``fit()``, as a user would run them.

Everything is counted: building the nets, compilation or CUDA-graph capture, the 64,000 steps,
an evaluation on the 10,000 test images every epoch, checkpoints. The GPU targets (H100):

* ResNet-20, full schedule (He et al. Sec. 4.2): at most 60 s, 30 s as the aim;
* the 8 nets of Fig. 6 (plain and residual, 20/32/44/56 layers) as one sweep: at most 5 min.

    python benchmarks/schedule_time.py                  # both, full schedule (a GPU)
    python benchmarks/schedule_time.py --which resnet20
    python benchmarks/schedule_time.py --quick          # CI-sized: 2 iterations
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import benchmark_data, gpu_target, sync, write_result  # noqa: E402
from reslab.trainer import config_from, fit, pick_device  # noqa: E402

FIG6 = [f"{family}{depth}" for family in ("plain", "resnet") for depth in (20, 32, 44, 56)]
SCHEDULES = {"resnet20": (["resnet20"], 60, 30), "sweep": (FIG6, 300, None)}


QUICK = {"iterations": 2, "eval_every": 2, "batch_size": 32}  # CI: that it runs, not how fast


def schedule_seconds(models: list[str], data, budget: str, device, compile_: bool) -> dict:
    """Train ``models`` as one sweep on ``budget`` from scratch; seconds and final errors."""
    sizes = QUICK if budget == "smoke" else {}
    configs = [config_from(budget, model=m, device=str(device), compile=compile_,
                           train_subset=None, test_subset=None, **sizes) for m in models]
    with tempfile.TemporaryDirectory() as folder:
        sync(device)
        start = time.perf_counter()
        histories = fit(configs, models, [Path(folder) / m for m in models], data,
                        resume=False, progress=False)
        sync(device)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "iterations": configs[0].iterations,
            "test_error": {m: h.last("eval_error") for m, h in zip(models, histories)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--which", choices=["resnet20", "sweep", "both"], default="both")
    parser.add_argument("--compile", action="store_true", help="torch.compile every net")
    parser.add_argument("--quick", action="store_true", help="CI-sized: the smoke budget")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/<name>-<device>)")
    args = parser.parse_args()
    device = pick_device("auto")
    budget = "smoke" if args.quick else "full"
    data = benchmark_data(512, 256) if args.quick else benchmark_data(None, None)
    names = list(SCHEDULES) if args.which == "both" else [args.which]
    rows = []
    for name in names:
        models, target, aim = SCHEDULES[name]
        row = {"schedule": name, "models": models, "budget": budget,
               **schedule_seconds(models, data, budget, device, args.compile),
               "gpu_target_seconds": target, "gpu_aim_seconds": aim}
        row["meets_gpu_target"] = gpu_target(row["seconds"] <= target, device)
        rows.append(row)
        print(f"{name}: {row['iterations']:,} iterations in {row['seconds']:,.1f} s "
              f"(GPU target {target} s)")
    write_result("schedule_time", {"dataset": data.name, "quick": args.quick,
                                   "compile": args.compile, "results": rows}, args.out)


if __name__ == "__main__":
    main()
