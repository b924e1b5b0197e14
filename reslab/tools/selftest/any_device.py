"""The selftest's checks for every device: tiny on a CPU (an 8-layer net of 4-8 channels),
ResNet-20 sized on CUDA. Environment, resume after a stop, activation checkpointing, sweep vs
solo, seeds trained together vs solo, and the operators a step issues."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from reslab.tools.selftest.harness import (OperatorCount, build_runs, largest_difference,
                                           no_tf32, train_steps, trained_weights, verdict,
                                           weights)
from reslab.tools.selftest.records import Context, Result, device_name
from reslab.training.loop import fit
from reslab.training.precision import autocast_dtype


def check_environment(ctx: Context) -> Result:
    """torch, the device and its precision, and a writable runs folder."""
    from reslab.paths import runs_dir
    dtype = autocast_dtype(ctx.device, None)
    values = {"python": platform.python_version(), "torch": torch.__version__,
              "device": device_name(ctx.device), "cuda": torch.version.cuda,
              "precision": str(dtype or torch.float32).replace("torch.", ""),
              "cpu_threads": torch.get_num_threads()}
    if ctx.cuda:
        values["compute_capability"] = list(torch.cuda.get_device_capability(ctx.device))
    folder = runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    writable = os.access(folder, os.W_OK)
    detail = (f"torch {values['torch']}, {values['device']}, autocast "
              f"{values['precision']}, runs in {folder}" + ("" if writable else " (NOT writable)"))
    return Result("environment", "PASS" if writable else "FAIL", detail, values)


class _Stop(Exception):
    """Stops a run after its first evaluation (as a killed process would, at a checkpoint)."""


def check_resume(ctx: Context) -> Result:
    """A run stopped after its first checkpoint and resumed ends with the same weights."""
    import tempfile
    config = ctx.config(iterations=12, eval_every=4, deterministic=True)
    with tempfile.TemporaryDirectory() as folder:
        clean = fit([config], ["clean"], [Path(folder) / "clean"], ctx.data, progress=False)[0]

        def stop(history):
            raise _Stop

        try:
            fit([config], ["stopped"], [Path(folder) / "stopped"], ctx.data, progress=False,
                on_eval=stop)
        except _Stop:
            pass
        resumed = fit([config], ["stopped"], [Path(folder) / "stopped"], ctx.data,
                      progress=False)[0]
    a, b = clean.column("train_loss"), resumed.column("train_loss")
    difference = largest_difference([torch.tensor(b)], [torch.tensor(a)])
    status, detail = verdict(difference, 1e-5, "stopped at step 4 of 12, resumed: losses")
    return Result("resume after a stop", status, detail, {"clean": a, "resumed": b})


def check_checkpointing(ctx: Context) -> Result:
    """Activation checkpointing changes memory, not results (BN statistics counted once)."""
    plain = trained_weights(ctx, cuda_graph=False)
    checkpointed = trained_weights(ctx, cuda_graph=False, activation_checkpointing=True)
    status, detail = verdict(largest_difference(checkpointed, plain),
                             1e-3 if ctx.cuda else 0.0, "weights and BN statistics, 6 steps")
    return Result("activation checkpointing", status, detail)


def check_sweep(ctx: Context) -> Result:
    """Two nets in a sweep train as each would alone (one batch stream, side streams on CUDA
    when no graphs are used)."""
    alone = trained_weights(ctx, cuda_graph=False)
    runs, loader = build_runs([ctx.config(cuda_graph=False)] * 2, ctx.data)
    train_steps(runs, loader, 6)
    difference = max(largest_difference(weights(r), alone) for r in runs)
    status, detail = verdict(difference, 1e-3 if ctx.cuda else 0.0, "2 nets vs solo, 6 steps")
    return Result("sweep vs solo", status, detail)


def check_seeds(ctx: Context) -> Result:
    """Seeds trained together: seed 1 of the batch follows the solo run with seed 1, in fp32
    without TF32 (a grouped convolution and a plain one sum in different orders)."""
    from reslab.training.seeds import seed_run
    configs = [ctx.config(seed=s, amp=False, channels_last=False) for s in (0, 1)]
    with no_tf32():
        batch = seed_run(configs, ctx.data, ctx.device)
        train_steps([batch], None, 4)
        solo = trained_weights(ctx, 4, seed=1, amp=False, channels_last=False,
                               cuda_graph=False)
    together = [t.float().cpu() for t in batch.net(1).state_dict().values()]
    status, detail = verdict(largest_difference(together, solo), 1e-2 if ctx.cuda else 1e-4,
                             "seed 1 of 2 vs its solo run, 4 steps, fp32")
    return Result("seeds together vs solo", status, detail)


def check_operators(ctx: Context) -> Result:
    """ATen operators the host issues per training step (what a CUDA graph replaces)."""
    values = {}
    for name in ("resnet20", "resnet56", "resnet110")[: 3 if ctx.cuda else 1]:
        config = ctx.config(model=name, model_options={}, batch_size=8, cuda_graph=False)
        (run,), loader = build_runs([config], ctx.data)
        train_steps([run], loader, 2)
        with OperatorCount() as counter:
            train_steps([run], loader, 3)
        values[name] = counter.count / 3
    detail = ", ".join(f"{k} {v:.0f}" for k, v in values.items()) + " operators per eager step"
    return Result("operators per step", "MEASURE", detail, values)
