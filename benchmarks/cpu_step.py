"""Which CPU settings make the training step faster: precision, memory format, compile,
threads -- each against the fp32 baseline, interleaved in the same run.

The kit keeps what wins here: bf16 autocast where oneDNN has native bf16
(:mod:`reslab.training.precision`) and channels-last (:mod:`reslab.training.loop`). Each variant trains the
same model on the same batch; the variants take turns, ``--repeats`` times, and the median
step time of each is compared with the baseline's as a ratio.

    python benchmarks/cpu_step.py                    # resnet20 and resnet56, batch 128
    python benchmarks/cpu_step.py --quick            # CI-sized (no compile)
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import arguments, write_result  # noqa: E402
from reslab.models import build_model  # noqa: E402
from reslab.training.precision import native_bf16  # noqa: E402

VARIANTS = {  # name -> (bf16 autocast, channels-last, compile, threads: None = torch's)
    "fp32": (False, False, False, None),
    "fp32 channels-last": (False, True, False, None),
    "bf16": (True, False, False, None),
    "bf16 channels-last (the kit)": (True, True, False, None),
    "bf16 channels-last, compiled": (True, True, True, None),
    "bf16 channels-last, 1 thread": (True, True, False, 1),
}


def make_step(name: str, variant: tuple, batch: int):
    """A closure that runs one SGD step of ``name`` under ``variant``."""
    amp, channels_last, compile_, _ = variant
    torch.manual_seed(0)
    model = build_model(name)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    forward = torch.compile(model) if compile_ else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, foreach=True)
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        with torch.autocast("cpu", torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def time_steps(step, steps: int, threads: int | None) -> float:
    """Seconds per step of ``steps`` steps, with torch's thread count set for the call."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps
    finally:
        torch.set_num_threads(before)


def measure(name: str, batch: int, steps: int, repeats: int, compile_: bool = True) -> dict:
    """Median seconds per step of every variant, interleaved, and the ratio to fp32
    (bf16 variants only where the CPU has native bf16; ``compile_=False`` skips compiling)."""
    variants = {k: v for k, v in VARIANTS.items()
                if (native_bf16(torch.device("cpu")) or not v[0]) and (compile_ or not v[2])}
    steps_of = {k: make_step(name, v, batch) for k, v in variants.items()}
    first = {}  # the first two steps, compilation included: what "auto" must pay back
    for k, step in steps_of.items():  # warm-up (and compile) outside the clock
        first[k] = 2 * time_steps(step, 2, variants[k][3])
    times = {k: [] for k in variants}
    for _ in range(repeats):
        for k, step in steps_of.items():
            times[k].append(time_steps(step, steps, variants[k][3]))
    median = {k: statistics.median(v) for k, v in times.items()}
    return {k: {"seconds_per_step": round(s, 4), "images_per_s": round(batch / s, 1),
                "speedup_vs_fp32": round(median["fp32"] / s, 2),
                "first_two_steps_seconds": round(first[k], 2)} for k, s in median.items()}


def main() -> None:
    parser = arguments(__doc__, ["resnet20", "resnet56"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    steps, repeats, batch = ((1, 1, 16) if args.quick else
                             (args.steps, args.repeats, args.batch_size))
    results = {}
    for name in args.models:
        results[name] = measure(name, batch, steps, repeats, compile_=not args.quick)
        for k, r in results[name].items():
            print(f"{name:9s} {k:30s} {r['images_per_s']:7.1f} img/s  "
                  f"{r['speedup_vs_fp32']:.2f}x fp32")
    write_result("cpu_step", {"batch_size": batch, "steps": steps, "repeats": repeats,
                              "native_bf16": native_bf16(torch.device("cpu")),
                              "results": results}, args.out)


if __name__ == "__main__":
    main()
