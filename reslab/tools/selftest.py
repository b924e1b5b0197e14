"""``python -m reslab selftest``: is this machine's training path right, and how fast is it?

The first command to run on a new machine, and on any GPU the project is lent. Every check
prints one line -- ``PASS``, ``FAIL``, ``MEASURE`` (a number, no verdict) or ``SKIP (needs
CUDA)`` -- and the whole report is written as JSON naming the device and torch version
(``benchmarks/results/selftest-<device>.json`` in a checkout). The exit code is 1 if any check
failed.

On a CPU the checks are tiny (a 8-layer net of 4-8 channels, seconds in all): environment,
resume after a stop, activation checkpointing, sweep vs solo, seeds trained together, and the
operators a step issues. On CUDA the same run ResNet-20 sized, and the CUDA-only checks join:
whole-step graph vs eager, a graphed sweep on side streams vs solo runs, the graph's own
check against the eager step, a failed capture leaving no capture stream behind, a
deterministic run after earlier GPU work, bf16 vs fp32 loss curves over 200 steps, kernels
per step, steps/s of eager and graphed ResNet-20/56/110, a sweep on one stream vs side
streams, the peak memory of ResNet-1202 at batch 128 with and without activation
checkpointing, five seeds trained together vs one run, and compile (ResNet-20 only), with and
without checkpointing. How long that takes on a GPU has not been measured yet.

The time budget bounds the whole selftest: every check carries an estimate of its seconds on
a GPU, and one whose estimate does not fit in the time left is skipped, and says so. The report
is rewritten (and every line flushed) after each check, so a selftest that is killed keeps
what it had checked.
"""
from __future__ import annotations

import datetime
import gc
import json
import os
import platform
import re
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from reslab.training import distributed, fastpath
from reslab.data import ImageDataset, SHAPES10_CLASSES, make_shapes10
from reslab.training.determinism import cudnn_autotune, deterministic, fix_cublas_workspace
from reslab.paths import REPO_DIR
from reslab.training.precision import autocast_dtype
from reslab.training.config import TrainConfig, config_from
from reslab.training.device import pick_device
from reslab.training.loop import fit, join_streams, make_loader, side_streams, train_all
from reslab.training.run import Run


@dataclass
class Result:
    """One check's outcome: status, a one-line detail, and its numbers."""

    name: str
    status: str  # PASS, FAIL, MEASURE, SKIP (needs CUDA), SKIP (time budget)
    detail: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        return f"{self.status:<7} {self.name}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Context:
    """What the checks share: the device, their sizes, the data and the time budget."""

    device: torch.device
    deadline: float
    data: ImageDataset | None = None

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def config(self, **overrides: Any) -> TrainConfig:
        """ResNet-20 at batch 128 on CUDA; on a CPU an 8-layer net of 4-8 channels, batch 32."""
        size = ({"model": "resnet20", "batch_size": 128} if self.cuda else
                {"model": "resnet", "batch_size": 32,
                 "model_options": {"depth": 8, "widths": (4, 8, 8)}})
        base = {**size, "train_subset": None, "test_subset": None, "device": str(self.device),
                "iterations": 8, "eval_every": 4}
        return config_from("smoke", **{**base, **overrides})

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()


def shapes10(train: int, test: int) -> ImageDataset:
    """``train + test`` images of the embedded shapes10, generated for the checks."""
    x, y = make_shapes10(train + test, seed=0)
    return ImageDataset("shapes10", x[:train], y[:train], x[train:], y[train:],
                        SHAPES10_CLASSES, f"make_shapes10({train + test})")


# Helpers: build runs, train them, compare them -----------------------------------------------

def build_runs(configs: Sequence[TrainConfig], data: ImageDataset) -> tuple[list[Run], Any]:
    """Runs as ``fit`` makes them (whole-step graphs attached where they apply), and their
    shared loader."""
    device = pick_device(configs[0].device)
    runs = [Run(f"{c.model}-{i}", c, data, device, None) for i, c in enumerate(configs)]
    loader = make_loader(configs[0], data, device, distributed.Process(), runs[0].channels_last)
    fastpath.attach(runs, loader)
    return runs, loader


def train_steps(runs: Sequence[Run], loader: Any, steps: int, period: int = 0,
                streams: list | None | str = "auto") -> list[list]:
    """Train ``steps`` steps; every ``period`` steps, each run's mean training loss so far.

    ``streams``: "auto" gives a sweep the trainer's side streams on CUDA; None, one stream.
    The default stream waits for every side stream before anything is read (and at the end),
    so weights read afterwards are the trained ones.
    """
    streams = side_streams(runs, runs[0].device) if streams == "auto" else streams
    curves: list[list[float]] = [[] for _ in runs]
    for s in range(runs[0].step, runs[0].step + steps):
        train_all(runs, s, loader, streams)
        if period and (s + 1) % period == 0:
            join_streams(streams, runs[0].device)
            for run, curve in zip(runs, curves):
                curve.append(run.period_loss())
                run.reset_metrics()
    join_streams(streams, runs[0].device)
    return curves


def weights(run: Run) -> list[torch.Tensor]:
    return [t.detach().float().cpu() for t in run.model.state_dict().values()]


def largest_difference(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """The largest ``max|x - y| / max|y|`` over pairs of tensors (0: bitwise the same)."""
    return max(((x - y).abs().max() / y.abs().max().clamp(min=1e-6)).item()
               for x, y in zip(a, b))


def verdict(difference: float, tolerance: float, what: str) -> tuple[str, str]:
    """PASS when within ``tolerance``, saying whether bitwise; else FAIL with the number."""
    same = "bitwise the same" if difference == 0 else f"largest difference {difference:.1e}"
    status = "PASS" if difference <= tolerance else "FAIL"
    return status, f"{what}: {same} (tolerance {tolerance:.0e})"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class OperatorCount(TorchDispatchMode):
    """Counts the ATen operators the host issues (forward, backward and optimiser alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


# The checks ----------------------------------------------------------------------------------

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


def _trained_weights(ctx: Context, steps: int = 6, **overrides: Any) -> list[torch.Tensor]:
    (run,), loader = build_runs([ctx.config(**overrides)], ctx.data)
    train_steps([run], loader, steps)
    return weights(run)


def check_checkpointing(ctx: Context) -> Result:
    """Activation checkpointing changes memory, not results (BN statistics counted once)."""
    plain = _trained_weights(ctx, cuda_graph=False)
    checkpointed = _trained_weights(ctx, cuda_graph=False, activation_checkpointing=True)
    status, detail = verdict(largest_difference(checkpointed, plain),
                             1e-3 if ctx.cuda else 0.0, "weights and BN statistics, 6 steps")
    return Result("activation checkpointing", status, detail)


def check_sweep(ctx: Context) -> Result:
    """Two nets in a sweep train as each would alone (one batch stream, side streams on CUDA
    when no graphs are used)."""
    alone = _trained_weights(ctx, cuda_graph=False)
    runs, loader = build_runs([ctx.config(cuda_graph=False)] * 2, ctx.data)
    train_steps(runs, loader, 6)
    difference = max(largest_difference(weights(r), alone) for r in runs)
    status, detail = verdict(difference, 1e-3 if ctx.cuda else 0.0, "2 nets vs solo, 6 steps")
    return Result("sweep vs solo", status, detail)


def check_seeds(ctx: Context) -> Result:
    """Seeds trained together: seed 1 of the batch follows the solo run with seed 1."""
    from reslab.training.seeds import SeedBatch
    configs = [ctx.config(seed=s, amp=False, channels_last=False) for s in (0, 1)]
    batch = SeedBatch(configs, ctx.data, ctx.device)
    for _ in range(4):
        batch.train_step()
    solo = _trained_weights(ctx, 4, seed=1, amp=False, channels_last=False, cuda_graph=False)
    together = [t.float().cpu() for t in batch.model(1).state_dict().values()]
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


def check_graph(ctx: Context) -> Result:
    """The whole-step CUDA graph trains as the eager step does, with deterministic kernels,
    to within 1e-3: never bitwise, since the graph's learning rate is a float32 device tensor
    and eager SGD's a Python float (about 1e-8 relative a step)."""
    curves, finals = [], []
    for graphed in (True, False):
        config = ctx.config(cuda_graph=graphed, deterministic=True)
        with deterministic(True, ctx.device):
            (run,), loader = build_runs([config], ctx.data)
            if graphed and run.whole_step is None:
                return Result("graphed vs eager", "FAIL", "no whole-step graph was attached")
            curves.append(train_steps([run], loader, 100, period=20)[0])
        finals.append(weights(run))
        if graphed and run.whole_step.graph is None:
            return Result("graphed vs eager", "FAIL", "no graph replayed (see the notice above)")
    difference = largest_difference([torch.tensor(curves[0])], [torch.tensor(curves[1])])
    status, detail = verdict(difference, 1e-3, "100 steps, loss every 20, not bitwise by "
                             "design (float32 vs float64 lr)")
    values = {"graphed": curves[0], "eager": curves[1],
              "weights_difference": largest_difference(finals[0], finals[1])}
    return Result("graphed vs eager", status, detail, values)


def check_graph_sweep(ctx: Context) -> Result:
    """Two graphed nets of a sweep, replaying on their own side streams (each graph has a
    private pool), train as each would alone, and how much the side streams save."""
    alone = _trained_weights(ctx, cuda_graph=True)
    runs, loader = build_runs([ctx.config(cuda_graph=True)] * 2, ctx.data)
    train_steps(runs, loader, 6)
    if any(r.whole_step is None or r.whole_step.graph is None for r in runs):
        return Result("sweep of graphs vs solo", "FAIL", "a net of the sweep replayed no graph")
    difference = max(largest_difference(weights(r), alone) for r in runs)
    status, detail = verdict(difference, 1e-3, "2 graphed nets on side streams vs solo, 6 steps")
    rates = {}
    with cudnn_autotune(True, ctx.device):
        runs, loader = build_runs([ctx.config(cuda_graph=True, iterations=64_000)] * 4, ctx.data)
        train_steps(runs, loader, 5)
        for name, streams in (("one stream", None), ("side streams", "auto")):
            start = time.perf_counter()
            train_steps(runs, loader, 50, streams=streams)
            synchronize(ctx.device)
            rates[name] = 50 / (time.perf_counter() - start)
    detail += (f"; 4 graphed ResNet-20s: {rates['one stream']:,.0f} sweep steps/s on one "
               f"stream, {rates['side streams']:,.0f} on side streams")
    return Result("sweep of graphs vs solo", status, detail, {"steps_per_s": rates})


def check_graph_self_check(ctx: Context) -> Result:
    """The trainer's own check of its first graph on a device: a replay agrees with the eager
    step, and a replay with an injected error (the last bias nudged) is caught."""
    (run,), loader = build_runs([ctx.config(cuda_graph=True)], ctx.data)
    train_steps([run], loader, 2)
    step = run.whole_step
    if step is None or step.graph is None:
        return Result("graph self-check", "FAIL", "no graph replayed (see the notice above)")
    agrees = fastpath.disagreement(run, step.graph.replay, step.body)
    last = [p for p in run.model.parameters()][-1]

    def corrupted() -> None:
        step.graph.replay()
        with torch.no_grad():
            last.add_(0.5)

    caught = fastpath.disagreement(run, corrupted, step.body)
    ok = agrees is None and caught is not None and fastpath.AGREES.get(str(ctx.device))
    detail = (f"replay vs eager: {agrees or 'within tolerance'}; injected error: "
              f"{caught or 'NOT caught'}; the trainer's check on this device: "
              f"{fastpath.AGREES.get(str(ctx.device))}")
    return Result("graph self-check", "PASS" if ok else "FAIL", detail)


def check_capture_failure(ctx: Context) -> Result:
    """A capture whose ``capture_end`` raises leaves the default stream current, and the run
    trains eagerly on it."""
    real = torch.cuda.CUDAGraph

    class CaptureEndFails(real):
        def capture_end(self) -> None:
            super().capture_end()
            raise RuntimeError("injected capture_end failure")

    torch.cuda.CUDAGraph = CaptureEndFails
    try:
        (run,), loader = build_runs([ctx.config(cuda_graph=True)], ctx.data)
        train_steps([run], loader, 3)
    finally:
        torch.cuda.CUDAGraph = real
    current, default = (torch.cuda.current_stream(ctx.device),
                        torch.cuda.default_stream(ctx.device))
    ok = current == default and run.whole_step is not None and run.whole_step.eager
    detail = ("the default stream is current after the failed capture; trained eagerly" if ok
              else f"current stream {current} is not the default stream {default}")
    return Result("failed capture leaves no capture stream", "PASS" if ok else "FAIL", detail)


DETERMINISTIC_AFTER_GPU_WORK = """
import reslab, torch
from reslab.tools.selftest import shapes10
from reslab.training.config import config_from
from reslab.training.loop import fit
a = torch.randn(256, 256, device="cuda"); (a @ a).sum().item()   # a notebook's earlier cell
data = shapes10(512, 128)
config = config_from("smoke", model="resnet20", train_subset=None, test_subset=None,
                     iterations=6, eval_every=6, deterministic=True, device="cuda")
losses = [fit([config], ["d"], [None], data, progress=False)[0].last("train_loss")
          for _ in range(2)]
print("bitwise" if losses[0] == losses[1] else f"differ {losses}")
"""


def check_deterministic_after_gpu_work(ctx: Context) -> Result:
    """In a fresh process: GPU matrix work first (as a notebook's earlier cells), then two
    deterministic runs, which must not raise and must agree bitwise."""
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_DIR), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", DETERMINISTIC_AFTER_GPU_WORK], env=env,
                          capture_output=True, text=True, timeout=max(ctx.time_left(), 1))
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    ok = done.returncode == 0 and last == "bitwise"
    return Result("deterministic run after GPU work", "PASS" if ok else "FAIL", last[:200])


def check_bf16(ctx: Context) -> Result:
    """The device's 16-bit autocast (bf16; fp16 and a gradient scaler on a V100 or T4)
    follows fp32's loss curve over 200 steps at He et al.'s lr 0.1."""
    curves, formats = [], []
    for amp in (True, False):
        (run,), loader = build_runs([ctx.config(amp=amp, iterations=200)], ctx.data)
        curves.append(train_steps([run], loader, 200, period=20)[0])
        formats.append(str(run.amp_dtype or torch.float32).replace("torch.", ""))
    low, fp32 = curves
    late = abs(sum(low[-3:]) - sum(fp32[-3:])) / sum(fp32[-3:])
    worst = max(abs(a - b) for a, b in zip(low, fp32))
    status = "PASS" if late < 0.10 and worst < 0.25 else "FAIL"
    detail = (f"{formats[0]}: mean loss over the last 60 steps differs by {late:.1%} "
              f"(tolerance 10%); largest gap of a 20-step mean {worst:.3f} (tolerance 0.25)")
    return Result("bf16 vs fp32, 200 steps", status, detail,
                  {formats[0]: low, "float32": fp32})


def _compiled_curves(ctx: Context, checkpointing: bool) -> tuple[list, list, Run]:
    curves = []
    for compile_ in (False, True):
        config = ctx.config(compile=compile_, cuda_graph=False, amp=False,
                            activation_checkpointing=checkpointing)
        (run,), loader = build_runs([config], ctx.data)
        curves.append(train_steps([run], loader, 40, period=10)[0])
    return curves[0], curves[1], run


def _check_compiled(ctx: Context, checkpointing: bool) -> Result:
    name = "compile with checkpointing" if checkpointing else "compile"
    eager, compiled, run = _compiled_curves(ctx, checkpointing)
    difference = largest_difference([torch.tensor(compiled)], [torch.tensor(eager)])
    status, detail = verdict(difference, 2e-2, "40 fp32 steps vs eager, loss every 10")
    tracked = {int(m.num_batches_tracked) for m in run.model.modules()
               if isinstance(m, torch.nn.BatchNorm2d)}
    if tracked != {40}:
        status, detail = "FAIL", f"BN counted {sorted(tracked)} batches in 40 steps"
    return Result(name, status, detail, {"eager": eager, "compiled": compiled})


def check_compile(ctx: Context) -> Result:
    return _check_compiled(ctx, checkpointing=False)


def check_compile_checkpointing(ctx: Context) -> Result:
    return _check_compiled(ctx, checkpointing=True)


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


def _check_speed(ctx: Context, modes: dict[str, dict],
                 names: Sequence[str] = ("resnet20", "resnet56", "resnet110")) -> Result:
    values: dict[str, float] = {}
    for name in names:
        for mode, overrides in modes.items():
            if ctx.time_left() < 30:
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
    from reslab.training.seeds import SeedBatch
    configs = [ctx.config(seed=s, iterations=64_000) for s in range(5)]
    batch = SeedBatch(configs, ctx.data, ctx.device)
    for _ in range(3):
        batch.train_step()
    synchronize(ctx.device)
    start = time.perf_counter()
    for _ in range(30):
        batch.train_step()
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


@dataclass(frozen=True)
class Check:
    """A check, whether it needs CUDA, and its estimated seconds on a GPU (the time budget
    skips a check whose estimate does not fit in the time left)."""

    name: str
    run: Callable[[Context], Result]
    needs_cuda: bool = False
    gpu_seconds: float = 5.0


CHECKS = (  # correctness first, then measurements, compiles last (they cost the most)
    Check("environment", check_environment, gpu_seconds=2),
    Check("resume after a stop", check_resume, gpu_seconds=10),
    Check("activation checkpointing", check_checkpointing),
    Check("sweep vs solo", check_sweep),
    Check("seeds together vs solo", check_seeds, gpu_seconds=8),
    Check("operators per step", check_operators, gpu_seconds=8),
    Check("graphed vs eager", check_graph, needs_cuda=True, gpu_seconds=15),
    Check("sweep of graphs vs solo", check_graph_sweep, needs_cuda=True, gpu_seconds=20),
    Check("graph self-check", check_graph_self_check, needs_cuda=True, gpu_seconds=10),
    Check("failed capture leaves no capture stream", check_capture_failure, needs_cuda=True,
          gpu_seconds=8),
    Check("deterministic run after GPU work", check_deterministic_after_gpu_work,
          needs_cuda=True, gpu_seconds=40),
    Check("bf16 vs fp32, 200 steps", check_bf16, needs_cuda=True, gpu_seconds=15),
    Check("kernels per step", check_kernels, needs_cuda=True, gpu_seconds=15),
    Check("steps/s eager and graphed", check_speed_eager_graphed, needs_cuda=True,
          gpu_seconds=40),
    Check("ResNet-1202 peak memory, batch 128", check_memory, needs_cuda=True, gpu_seconds=15),
    Check("steps/s seeds together", check_seeds_speed, needs_cuda=True, gpu_seconds=15),
    Check("compile", check_compile, needs_cuda=True, gpu_seconds=60),
    Check("compile with checkpointing", check_compile_checkpointing, needs_cuda=True,
          gpu_seconds=70),
    Check("steps/s compiled", check_speed_compiled, needs_cuda=True, gpu_seconds=40),
)


# Running them ----------------------------------------------------------------------------------

def run_check(check: Check, ctx: Context) -> Result:
    """One check, timed; an exception is a FAIL that names it."""
    if check.needs_cuda and not ctx.cuda:
        return Result(check.name, "SKIP (needs CUDA)")
    if ctx.time_left() <= 0 or (ctx.cuda and ctx.time_left() < check.gpu_seconds):
        return Result(check.name, "SKIP (time budget)")
    start = time.perf_counter()
    try:
        result = check.run(ctx)
    except Exception as error:  # noqa: BLE001 - a crash is a failed check, not the end
        last = traceback.extract_tb(error.__traceback__)[-1]
        result = Result(check.name, "FAIL", f"{type(error).__name__}: {error} "
                        f"({Path(last.filename).name}:{last.lineno})".replace("\n", " "))
    result.seconds = time.perf_counter() - start
    return result


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else (
        f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")


def device_tag(device: torch.device) -> str:
    """A short name for file names: "cpu", "mps", or the GPU's model ("h100", "a100", "t4")."""
    if device.type != "cuda":
        return device.type
    name = torch.cuda.get_device_name(device)
    model = re.search(r"\b([A-Z]{1,2}\d{1,4})\b", name)
    return (model.group(1) if model else name.split()[-1]).lower().replace("/", "-")


def default_out(device: torch.device) -> Path:
    """``benchmarks/results/selftest-<device>.json`` (of a checkout; else of the cwd)."""
    root = REPO_DIR if (REPO_DIR / "benchmarks").is_dir() else Path.cwd()
    return root / "benchmarks" / "results" / f"selftest-{device_tag(device)}.json"


def write_report(results: Sequence[Result], device: torch.device, out: Path,
                 complete: bool = True) -> None:
    """The report as JSON (atomically: a reader never sees half a file); ``complete`` is
    False while checks are still to come."""
    argv = sys.argv[2:] if sys.argv[1:2] == ["selftest"] else []
    record = {"command": shlex.join(["python", "-m", "reslab", "selftest", *argv]),
              "date": datetime.date.today().isoformat(), "device": device_name(device),
              "torch": torch.__version__, "cuda": torch.version.cuda,
              "python": platform.python_version(), "complete": complete,
              "checks": [r.__dict__ for r in results]}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, out)


def run_selftest(device: str = "auto", out: str | Path | None = None,
                 budget_seconds: float = 300, checks: Sequence[Check] = CHECKS,
                 print_=print) -> int:
    """Run ``checks`` within ``budget_seconds``, print one line each (flushed) and rewrite the
    JSON report after each; 1 if any failed, else 0."""
    chosen = pick_device(device)
    if chosen.type == "cuda":
        fix_cublas_workspace()  # before any matrix product: some checks are deterministic
    ctx = Context(chosen, time.perf_counter() + budget_seconds)
    ctx.data = shapes10(5_120, 1_000) if ctx.cuda else shapes10(256, 64)

    def say(line: str) -> None:  # flushed: a killed selftest keeps the lines it printed
        print_(line)
        sys.stdout.flush()

    say(f"reslab selftest on {device_name(chosen)}, torch {torch.__version__}")
    path = Path(out) if out else default_out(chosen)
    results = []
    for check in checks:
        results.append(run_check(check, ctx))
        say(results[-1].line())
        write_report(results, chosen, path, complete=len(results) == len(checks))
    failed = [r.name for r in results if r.status == "FAIL"]
    skipped = [r.name for r in results if r.status == "SKIP (needs CUDA)"]
    if skipped:
        say(f"needs CUDA (not checked here): {', '.join(skipped)}")
    say(f"{len(failed)} failed; report in {path}")
    return 1 if failed else 0
