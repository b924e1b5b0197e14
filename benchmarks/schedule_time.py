"""Wall-clock time of whole training schedules with ``fit()``, as a user would run them.

Everything is counted: building the nets, compilation or CUDA-graph capture, the 64,000 steps,
an evaluation on the 10,000 test images every epoch, checkpoints. The GPU targets (H100):

* ResNet-20, full schedule (He et al. Sec. 4.2): at most 60 s, 30 s as the aim;
* the 8 nets of Fig. 6 (plain and residual, 20/32/44/56 layers) as one sweep: at most 5 min.

    python benchmarks/schedule_time.py                  # ResNet-20, full schedule (a GPU)
    python benchmarks/schedule_time.py --which both     # and the 8-net sweep (20+ minutes)
    python benchmarks/schedule_time.py --quick          # CI-sized: 2 iterations

The JSON is rewritten at every evaluation with the steps done so far and their seconds
(``"complete": false``), so a run stopped by a time limit still tells its pace.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import benchmark_data, gpu_target, sync, write_result  # noqa: E402
from reslab.training.config import config_from
from reslab.training.device import pick_device  # noqa: E402
from reslab.training.loop import fit  # noqa: E402

FIG6 = [f"{family}{depth}" for family in ("plain", "resnet") for depth in (20, 32, 44, 56)]
SCHEDULES = {"resnet20": (["resnet20"], 60, 30), "sweep": (FIG6, 300, None)}


QUICK = {"iterations": 2, "eval_every": 2, "batch_size": 32}  # CI: that it runs, not how fast


def schedule_seconds(models: list[str], data, budget: str, device, compile_: bool,
                     progress: Callable[[dict], None] = lambda row: None) -> dict:
    """Train ``models`` as one sweep on ``budget`` from scratch; seconds and final errors.

    ``progress`` is called at every evaluation with the steps done and the seconds so far.
    """
    sizes = QUICK if budget == "smoke" else {}
    configs = [config_from(budget, model=m, device=str(device), compile=compile_,
                           train_subset=None, test_subset=None, **sizes) for m in models]
    with tempfile.TemporaryDirectory() as folder:
        sync(device)
        start = time.perf_counter()

        def on_eval(history) -> None:
            if history.label == models[-1]:  # once per evaluation of the whole sweep
                progress({"steps_done": history.last("step"),
                          "seconds_so_far": time.perf_counter() - start})

        histories = fit(configs, models, [Path(folder) / m for m in models], data,
                        resume=False, progress=False, on_eval=on_eval)
        sync(device)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "iterations": configs[0].iterations,
            "test_error": {m: h.last("eval_error") for m, h in zip(models, histories)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--which", choices=["resnet20", "sweep", "both"], default="resnet20")
    parser.add_argument("--compile", action="store_true", help="torch.compile every net")
    parser.add_argument("--quick", action="store_true", help="CI-sized: the smoke budget")
    parser.add_argument("--dataset", help="the images (default: the first that is here)")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/<name>-<device>)")
    args = parser.parse_args()
    device = pick_device("auto")
    budget = "smoke" if args.quick else "full"
    sizes = (512, 256) if args.quick else (None, None)
    data = benchmark_data(*sizes, dataset=args.dataset)
    names = list(SCHEDULES) if args.which == "both" else [args.which]
    rows: list[dict] = []

    def record(complete: bool, partial: dict | None = None) -> None:
        write_result("schedule_time", {"dataset": data.name, "quick": args.quick,
                                       "compile": args.compile, "complete": complete,
                                       "results": rows + ([partial] if partial else [])},
                     args.out, quiet=not complete)

    for name in names:
        models, target, aim = SCHEDULES[name]
        head = {"schedule": name, "models": models, "budget": budget}
        row = {**head, **schedule_seconds(models, data, budget, device, args.compile,
                                          lambda p: record(False, {**head, **p}))}
        row.update({"gpu_target_seconds": target, "gpu_aim_seconds": aim,
                    "meets_gpu_target": gpu_target(row["seconds"] <= target, device)})
        rows.append(row)
        print(f"{name}: {row['iterations']:,} iterations in {row['seconds']:,.1f} s "
              f"(GPU target {target} s)", flush=True)
    record(True)


if __name__ == "__main__":
    main()
