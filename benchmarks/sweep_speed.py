"""Sweep mode vs one model after another: wall-clock ratio for the degradation experiment.

Trains plain and residual nets of 20/32/44/56 layers (the 8 nets of He et al.'s Fig. 6) for
the same number of iterations, once as one lockstep sweep (one data pipeline, one CUDA stream
per model) and once sequentially, in the same run.

    python benchmarks/sweep_speed.py            # 8 nets, 50 iterations each
    python benchmarks/sweep_speed.py --quick    # CI-sized: 2 nets, 3 iterations
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import arguments, benchmark_data, sync, write_result  # noqa: E402
from reslab.trainer import config_from, fit, pick_device  # noqa: E402

NETS = [f"{family}{depth}" for family in ("plain", "resnet") for depth in (20, 32, 44, 56)]


def _fit_seconds(models, data, iterations, device, compile_) -> float:
    configs = [config_from("smoke", model=m, iterations=iterations, eval_every=iterations,
                           device=str(device), compile=compile_) for m in models]
    sync(device)
    start = time.perf_counter()
    fit(configs, list(models), [None] * len(models), data, resume=False, progress=False)
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = arguments(__doc__, NETS)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    if args.quick:
        args.models, args.iterations = ["plain20", "resnet20"], 3
    device = pick_device("auto")
    data = benchmark_data(2_048)
    _fit_seconds(args.models[:1], data, 2, device, args.compile)  # warm-up (cuDNN, compile)
    sweep = _fit_seconds(args.models, data, args.iterations, device, args.compile)
    sequential = sum(_fit_seconds([m], data, args.iterations, device, args.compile)
                     for m in args.models)
    print(f"{len(args.models)} nets x {args.iterations} iterations: sweep {sweep:.1f} s, "
          f"one after another {sequential:.1f} s, ratio {sequential / sweep:.2f}x")
    write_result("sweep_speed", {
        "models": args.models, "iterations": args.iterations, "dataset": data.name,
        "quick": args.quick, "compile": args.compile,
        "results": {"sweep_seconds": sweep, "sequential_seconds": sequential,
                    "speedup": sequential / sweep}}, args.out)


if __name__ == "__main__":
    main()
