"""Sweep mode vs one model after another: the 8 nets of He et al.'s Fig. 6, steps/s.

Times training steps only. Every net is built, and warmed up (cuDNN's choices, compilation
with ``--compile``, whole-step CUDA-graph capture) before any clock starts, so neither
``fit()``'s setup nor compile time is counted. Three ways in the same run, on the same nets:

* sweep: every net in lockstep on one batch stream, each on its own CUDA stream when no CUDA
  graphs are replayed (the trainer's default on CUDA replays whole-step graphs, and then uses
  no side streams);
* sweep without side streams, where the sweep has them: do the streams overlap the nets?
* one net after another.

From the sweep's rate it projects the training time of the full 64,000-iteration schedule of
all 8 nets (the GPU target is 5 minutes; evaluations are not included -- ``schedule_time.py``
measures the whole thing end to end).

    python benchmarks/sweep_speed.py            # 8 nets, 50 timed iterations each
    python benchmarks/sweep_speed.py --quick    # CI-sized: 2 nets, 3 iterations
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import (arguments, benchmark_data, gpu_target, timed,  # noqa: E402
                               write_result)
from reslab.training import distributed, fastpath  # noqa: E402
from reslab.training.config import config_from  # noqa: E402
from reslab.training.device import pick_device  # noqa: E402
from reslab.training.loop import side_streams, train_steps  # noqa: E402
from reslab.training.replicas import channels_last  # noqa: E402
from reslab.training.run import Run, make_loader  # noqa: E402

NETS = [f"{family}{depth}" for family in ("plain", "resnet") for depth in (20, 32, 44, 56)]
FULL_SCHEDULE, TARGET_SECONDS = 64_000, 300


def build(models: list[str], data, device: torch.device, compile_: bool):
    """The trainer's runs of ``models`` (whole-step graphs where they apply), and their
    loader."""
    configs = [config_from("smoke", model=m, train_subset=None, test_subset=None,
                           iterations=FULL_SCHEDULE, device=str(device), compile=compile_)
               for m in models]
    loader = make_loader(configs[0], data, device, distributed.Process(),
                         channels_last(configs[0]))
    runs = [Run(m, c, data, device, None, loader=loader, whole_step=fastpath.when_supported)
            for m, c in zip(models, configs)]
    return runs, loader


def steps(runs, loader, count: int, streams) -> None:
    """``count`` lockstep steps of ``runs`` (all at the same step), as ``fit`` takes them."""
    train_steps(runs, runs[0].step, runs[0].step + count, streams)


def measure(runs, loader, iterations: int, warmup: int, device: torch.device) -> dict:
    """Seconds for ``iterations`` steps: sweep, sweep without streams, one after another."""
    streams = side_streams(runs, device)
    steps(runs, loader, warmup, streams)  # every net: compiled, captured, tuned
    sweep = timed(lambda: steps(runs, loader, iterations, streams), device)
    no_streams = None if streams is None else timed(
        lambda: steps(runs, loader, iterations, None), device)
    sequential = sum(timed(lambda: steps([run], loader, iterations, None), device)
                     for run in runs)
    return {"sweep_seconds": sweep, "sweep_without_streams_seconds": no_streams,
            "sequential_seconds": sequential, "speedup": sequential / sweep,
            "streams_speedup": no_streams / sweep if no_streams else None,
            "side_streams": streams is not None,
            "final_steps": {run.label: run.step for run in runs}}


def main() -> None:
    parser = arguments(__doc__, NETS)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        args.models, args.iterations, args.warmup = ["plain20", "resnet20"], 3, 1
    device = pick_device("auto")
    data = benchmark_data(2_048, dataset=args.dataset)
    runs, loader = build(args.models, data, device, args.compile)
    result = measure(runs, loader, args.iterations, args.warmup, device)
    projected = FULL_SCHEDULE * result["sweep_seconds"] / args.iterations
    result.update(projected_full_schedule_seconds=projected,
                  gpu_target_seconds=TARGET_SECONDS,
                  meets_gpu_target=gpu_target(projected <= TARGET_SECONDS, device))
    streams = (f" ({result['streams_speedup']:.2f}x from side streams)"
               if result["side_streams"] else " (no side streams)")
    print(f"{len(runs)} nets x {args.iterations} iterations: sweep {result['sweep_seconds']:.2f}"
          f" s{streams}, one after another {result['sequential_seconds']:.2f} s, ratio "
          f"{result['speedup']:.2f}x; full schedule of all {len(runs)} projected at "
          f"{projected:,.0f} s of training")
    write_result("sweep_speed", {
        "models": args.models, "iterations": args.iterations, "warmup": args.warmup,
        "dataset": data.name, "quick": args.quick, "compile": args.compile,
        "timed": "training steps only, every net warmed up first", "results": result},
        args.out)


if __name__ == "__main__":
    main()
