"""The selftest's CUDA-only measurements (``MEASURE``: a number, no verdict): steps/s of eager,
graphed and compiled ResNet-20/56/110, five seeds trained together vs one run, kernels and
graph launches per step, and the peak memory of ResNet-1202 at batch 128 with and without
activation checkpointing."""
from __future__ import annotations

import gc
import time
from collections.abc import Sequence

import torch

from reslab.tools.selftest.harness import build_runs, synchronize, train_steps
from reslab.tools.selftest.records import Context, Result
from reslab.training.config import TrainConfig
from reslab.training.determinism import cudnn_autotune


def steps_per_s(ctx: Context, config: TrainConfig, steps: int = 100) -> tuple[float, bool]:
    """Training steps per second after a warm-up (compilation and capture not counted), and
    whether the steps replayed a whole-step graph."""
    with cudnn_autotune(not config.deterministic, ctx.device):  # as fit() trains
        (run,), loader = build_runs([config], ctx.data)
        train_steps([run], loader, 5)
        synchronize(ctx.device)
        start = time.perf_counter()
        train_steps([run], loader, steps)
        synchronize(ctx.device)
    graphed = run.whole_step is not None and run.whole_step.graph is not None
    return steps / (time.perf_counter() - start), graphed


MEASURE_SECONDS = 10  # one steps/s measurement at most: build, warm up (capture), 100 steps


def _check_speed(ctx: Context, modes: dict[str, dict],
                 names: Sequence[str] = ("resnet20", "resnet56", "resnet110")) -> Result:
    """Steps/s of each net in each mode, while the time budget holds another measurement."""
    values: dict[str, float] = {}
    for name in names:
        for mode, overrides in modes.items():
            if ctx.time_left() < MEASURE_SECONDS:
                break
            config = ctx.config(model=name, model_options={}, iterations=64_000, **overrides)
            rate, graphed = steps_per_s(ctx, config)
            missing = " (no graph)" if mode == "graphed" and not graphed else ""
            values[f"{name} {mode}{missing}"] = rate
    detail = (", ".join(f"{k} {v:,.0f}" for k, v in values.items()) +
              f" steps/s at batch {ctx.config().batch_size}")
    return Result(f"steps/s {' and '.join(modes)}", "MEASURE", detail, values)


def check_speed_eager_graphed(ctx: Context) -> Result:
    return _check_speed(ctx, {"eager": {"cuda_graph": False}, "graphed": {"cuda_graph": True}})


def check_speed_compiled(ctx: Context) -> Result:
    return _check_speed(ctx, {"compiled": {"compile": True, "cuda_graph": False}},
                        names=("resnet20",))  # one compile: minutes are few on a lent GPU


def check_seeds_speed(ctx: Context) -> Result:
    """Five ResNet-20 seeds batched as one model vs one eager run: steps/s of each."""
    from reslab.training.seeds import seed_run
    configs = [ctx.config(seed=s, iterations=64_000) for s in range(5)]
    batch = seed_run(configs, ctx.data, ctx.device)
    train_steps([batch], None, 3)
    synchronize(ctx.device)
    start = time.perf_counter()
    train_steps([batch], None, 30)
    synchronize(ctx.device)
    together = 30 / (time.perf_counter() - start)
    alone, _ = steps_per_s(ctx, ctx.config(iterations=64_000, cuda_graph=False), steps=30)
    detail = (f"5 seeds together {together:,.1f} steps/s, one eager run {alone:,.1f} steps/s: "
              f"5 runs in {alone / together:.1f}x the time of one")
    return Result("steps/s seeds together", "MEASURE", detail,
                  {"seeds_together": together, "one_run_eager": alone})


def check_kernels(ctx: Context) -> Result:
    """CUDA kernels and graph launches per ResNet-20 step, eager and graphed."""
    from torch.profiler import ProfilerActivity, profile
    values = {}
    for mode, graphed in (("eager", False), ("graphed", True)):
        (run,), loader = build_runs([ctx.config(cuda_graph=graphed)], ctx.data)
        train_steps([run], loader, 5)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            train_steps([run], loader, 10)
            synchronize(ctx.device)
        events = prof.events()
        kernels = sum(e.device_type == torch.autograd.DeviceType.CUDA for e in events)
        launches = sum("GraphLaunch" in e.name for e in events)
        values[mode] = {"kernels": kernels / 10, "graph_launches": launches / 10}
    detail = ", ".join(f"{m}: {v['kernels']:.0f} kernels, {v['graph_launches']:.0f} graph "
                       "launches" for m, v in values.items()) + " per step"
    return Result("kernels per step", "MEASURE", detail, values)


def check_memory(ctx: Context) -> Result:
    """Peak CUDA memory of one ResNet-1202 training step at batch 128 (the trainer's step)."""
    values = {}
    for checkpointing in (False, True):
        gc.collect()  # runs of earlier checks (a run and its graph refer to each other)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(ctx.device)
        config = ctx.config(model="resnet1202", model_options={}, cuda_graph=False,
                            activation_checkpointing=checkpointing)
        (run,), loader = build_runs([config], ctx.data)
        train_steps([run], loader, 1)
        synchronize(ctx.device)
        values["checkpointing" if checkpointing else "plain"] = (
            torch.cuda.max_memory_allocated(ctx.device) / 2 ** 30)
        del run, loader
    detail = (f"{values['plain']:.2f} GiB, {values['checkpointing']:.2f} GiB with activation "
              "checkpointing (target: under 8 GB)")
    return Result("ResNet-1202 peak memory, batch 128", "MEASURE", detail, values)
