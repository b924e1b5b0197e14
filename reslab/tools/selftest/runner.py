"""``python -m reslab selftest``'s running order: :data:`CHECKS` (the correctness core, eager vs
graphed steps/s, then the rest, compiles last), each timed and skipped when it needs CUDA or
does not fit the time budget, one line printed per check and the report rewritten after each;
:data:`GROUPS` run one by one (a GPU run's steps) add up to one report."""
from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import torch

from reslab.tools.selftest.any_device import (check_checkpointing, check_environment,
                                              check_operators, check_resume, check_seeds,
                                              check_sweep)
from reslab.tools.selftest.cuda import (check_bf16, check_capture_failure, check_compile,
                                        check_compile_checkpointing,
                                        check_deterministic_after_gpu_work, check_graph,
                                        check_graph_self_check, check_graph_sweep)
from reslab.tools.selftest.cuda_measures import (check_kernels, check_memory, check_seeds_speed,
                                                 check_speed_compiled, check_speed_eager_graphed)
from reslab.tools.selftest.records import (Check, Context, Result, default_out, device_name,
                                           read_report, shapes10, write_report)
from reslab.training.determinism import fix_cublas_workspace
from reslab.training.device import pick_device

CHECKS = (  # the correctness core, eager vs graphed steps/s, then the rest, compiles last
    Check("environment", check_environment, gpu_seconds=2, group="core"),
    Check("resume after a stop", check_resume, gpu_seconds=10, group="core"),
    Check("seeds together vs solo", check_seeds, gpu_seconds=8, group="core"),
    Check("graphed vs eager", check_graph, needs_cuda=True, gpu_seconds=15, group="core"),
    Check("graph self-check", check_graph_self_check, needs_cuda=True, gpu_seconds=10,
          group="core"),
    Check("deterministic run after GPU work", check_deterministic_after_gpu_work,
          needs_cuda=True, gpu_seconds=40, group="core"),
    Check("steps/s eager and graphed", check_speed_eager_graphed, needs_cuda=True,
          gpu_seconds=40, group="speed"),
    Check("activation checkpointing", check_checkpointing),
    Check("sweep vs solo", check_sweep),
    Check("operators per step", check_operators, gpu_seconds=8),
    Check("sweep of graphs vs solo", check_graph_sweep, needs_cuda=True, gpu_seconds=20),
    Check("failed capture leaves no capture stream", check_capture_failure, needs_cuda=True,
          gpu_seconds=8),
    Check("bf16 vs fp32, 200 steps", check_bf16, needs_cuda=True, gpu_seconds=20),
    Check("kernels per step", check_kernels, needs_cuda=True, gpu_seconds=15),
    Check("ResNet-1202 peak memory, batch 128", check_memory, needs_cuda=True, gpu_seconds=15),
    Check("steps/s seeds together", check_seeds_speed, needs_cuda=True, gpu_seconds=15),
    Check("compile", check_compile, needs_cuda=True, gpu_seconds=60),
    Check("compile with checkpointing", check_compile_checkpointing, needs_cuda=True,
          gpu_seconds=70),
    Check("steps/s compiled", check_speed_compiled, needs_cuda=True, gpu_seconds=40),
)
GROUPS = ("core", "speed", "more")  # in the order of CHECKS


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


def run_selftest(device: str = "auto", out: str | Path | None = None,
                 budget_seconds: float = 300, checks: Sequence[Check] = CHECKS,
                 print_=print, groups: Sequence[str] | None = None) -> int:
    """Run ``checks`` (those of ``groups`` only, when named) within ``budget_seconds``, print
    one line each (flushed) and rewrite the JSON report after each; 1 if any failed, else 0.

    With ``groups``, the report keeps the other groups' results of an earlier report at
    ``out`` from this device and torch version (those of the groups run now are replaced),
    so that groups run one by one make one report, ``"complete"`` once every check has a
    result.
    """
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
    to_run = [c for c in checks if groups is None or c.group in groups]
    again = {c.name for c in to_run}
    done = {r.name: r for r in read_report(path, chosen)
            if r.name not in again} if groups is not None else {}
    results = []
    for check in to_run:
        results.append(run_check(check, ctx))
        say(results[-1].line())
        done[check.name] = results[-1]
        write_report([done[c.name] for c in checks if c.name in done], chosen, path,
                     complete=all(c.name in done for c in checks))
    failed = [r.name for r in results if r.status == "FAIL"]
    skipped = [r.name for r in results if r.status == "SKIP (needs CUDA)"]
    if skipped:
        say(f"needs CUDA (not checked here): {', '.join(skipped)}")
    say(f"{len(failed)} failed; report in {path}")
    return 1 if failed else 0
