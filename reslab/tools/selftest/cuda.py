"""The selftest's CUDA-only correctness checks: whole-step graph vs eager, a sweep of graphs on
side streams vs solo runs, the graph's own check against the eager step, a failed capture
leaving no capture stream behind, a deterministic run after earlier GPU work, bf16 vs fp32 loss
curves over 200 steps (judged against another fp32 seed), and compile (with and without
activation checkpointing) vs eager in fp32 without TF32."""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence

import torch

from reslab.paths import REPO_DIR
from reslab.tools.selftest.harness import (build_runs, largest_difference, no_tf32,
                                           synchronize, train_steps, trained_weights, verdict,
                                           weights)
from reslab.tools.selftest.records import Context, Result
from reslab.training import fastpath
from reslab.training.determinism import cudnn_autotune, deterministic
from reslab.training.run import Run


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
    alone = trained_weights(ctx, cuda_graph=True)
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


def curves_agree(low: Sequence[float], fp32: Sequence[float],
                 fp32_other_seed: Sequence[float]) -> tuple[str, str]:
    """Whether a 16-bit loss curve (a mean every 20 steps) follows fp32's as closely as
    rounding noise allows: PASS or FAIL, and the numbers.

    At lr 0.1 without warm-up any perturbation grows until two runs differ as two seeds do,
    so each tolerance is twice the gap between fp32 and fp32 with another seed, and at least
    10% of the late loss (its last 3 means) and 0.25 for one mean. A curve that is not finite,
    or whose late loss is not below its first mean, fails whatever the gaps.
    """
    def late(curve: Sequence[float]) -> float:
        return sum(curve[-3:]) / 3

    def gaps(curve: Sequence[float]) -> tuple[float, float]:
        return (abs(late(curve) - late(fp32)) / max(late(fp32), 1e-6),
                max(abs(a - b) for a, b in zip(curve, fp32)))

    (seed_late, seed_worst), (gap_late, gap_worst) = gaps(fp32_other_seed), gaps(low)
    late_tolerance, worst_tolerance = max(0.10, 2 * seed_late), max(0.25, 2 * seed_worst)
    learns = all(math.isfinite(x) for x in low) and late(low) < low[0]
    ok = learns and gap_late <= late_tolerance and gap_worst <= worst_tolerance
    detail = (f"late mean loss differs by {gap_late:.1%} (tolerance {late_tolerance:.1%}; "
              f"another fp32 seed: {seed_late:.1%}); largest gap of a 20-step mean "
              f"{gap_worst:.3f} (tolerance {worst_tolerance:.3f})"
              + ("" if learns else "; the 16-bit loss did not fall"))
    return ("PASS" if ok else "FAIL"), detail


def check_bf16(ctx: Context) -> Result:
    """The device's 16-bit autocast (bf16; fp16 and a gradient scaler on a V100 or T4)
    follows fp32's loss curve over 200 steps at He et al.'s lr 0.1, within the gap that
    another fp32 seed shows (:func:`curves_agree`); fp32 without TF32."""
    curves, formats = [], []
    with no_tf32():
        for amp, seed in ((True, 0), (False, 0), (False, 1)):
            (run,), loader = build_runs([ctx.config(amp=amp, seed=seed, iterations=200)],
                                        ctx.data)
            curves.append(train_steps([run], loader, 200, period=20)[0])
            formats.append(str(run.amp_dtype or torch.float32).replace("torch.", ""))
    status, detail = curves_agree(*curves)
    return Result("bf16 vs fp32, 200 steps", status, f"{formats[0]}: {detail}",
                  {formats[0]: curves[0], "float32": curves[1], "float32 seed 1": curves[2]})


def _compiled_curves(ctx: Context, checkpointing: bool) -> tuple[list, list, Run]:
    """Eager and compiled fp32 loss curves (TF32 off: fp32 is compared)."""
    curves = []
    for compile_ in (False, True):
        config = ctx.config(compile=compile_, cuda_graph=False, amp=False,
                            activation_checkpointing=checkpointing)
        with no_tf32():
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
