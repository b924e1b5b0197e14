"""``torch.compile`` for the trainer: which mode, how many nets per process, and CUDA graphs.

* Every net of the kit runs through the same ``StagedNet.forward``, and Dynamo keeps at most
  ``recompile_limit`` (8) compiled versions of one function: the ninth distinct architecture
  compiled in a process (a notebook that compiles a few nets gets there quickly) would
  silently run eagerly. :func:`compiled` raises that limit first.
* The modes "reduce-overhead" and "max-autotune" replay CUDA graphs from one memory pool per
  device; a sweep must then not launch its nets on separate side streams (their replays would
  be unordered against each other). :func:`uses_cuda_graphs` says which modes do.
* ``compile="auto"`` follows a rule read off ``benchmarks/cpu_step.py`` (:func:`choose`):
  compile on a CPU with AMX, where compiling made ResNet-20's step faster (an Intel Xeon,
  2026-12-03: 785 vs 614 images/s, bf16 channels-last, 0.045 s saved per step of 128), and
  only for a run of at least :data:`AUTO_MIN_ITERATIONS` steps, so that the compile's one-off
  cost is paid back: the first two compiled steps took 30 s for ResNet-56 with a cold cache
  on the 2-core AMD EPYC (``benchmarks/results/cpu_step-cpu.json``), about 700 steps'
  savings. On that AMD CPU compiling gained 6% for ResNet-20 and lost 3% for ResNet-56, so
  "auto" does not compile there; nor on a CUDA GPU, where the whole-step CUDA graph
  (:mod:`reslab.training.fastpath`) takes the host out of the step without a compile.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

RECOMPILE_LIMIT = 64  # distinct nets (or input shapes) one process may compile
AUTO_MIN_ITERATIONS = 2_000  # "auto" compiles runs this long or longer (medium, full)


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU has Intel's AMX tiles for bf16 (Linux: ``amx_bf16`` in cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and "amx_bf16" in line.split() for line in f)
    except OSError:
        return False


def choose(setting: bool | str, device: torch.device, iterations: int) -> bool | str:
    """The compile setting a run uses: ``setting`` itself, or for "auto" the module's rule
    (True on a CPU with AMX for runs of at least ``AUTO_MIN_ITERATIONS``; else False)."""
    if setting != "auto":
        return setting
    return device.type == "cpu" and iterations >= AUTO_MIN_ITERATIONS and cpu_has_amx()


def raise_recompile_limit(limit: int = RECOMPILE_LIMIT) -> None:
    """Let Dynamo keep ``limit`` compiled versions of one function (never lowers it).

    torch >= 2.6 calls the setting ``recompile_limit``, older releases ``cache_size_limit``;
    the per-process total (``accumulated_recompile_limit``) is raised to match.
    """
    import torch._dynamo.config as config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(getattr(config, name), limit))
    for total in ("accumulated_recompile_limit", "accumulated_cache_size_limit"):
        if hasattr(config, total):
            setattr(config, total, max(getattr(config, total), 8 * limit))
            break


def compile_mode(setting: bool | str) -> str | None:
    """The ``torch.compile`` mode of a ``TrainConfig.compile`` value (True: the default)."""
    return setting if isinstance(setting, str) else None


def uses_cuda_graphs(setting: bool | str) -> bool:
    """Whether ``torch.compile`` with this setting replays CUDA graphs (on a CUDA device)."""
    mode = compile_mode(setting)
    if not setting or mode is None or mode == "default":
        return False
    from torch._inductor import list_mode_options
    return bool(list_mode_options(mode).get("triton.cudagraphs", False))


def compiled(fn: Callable[..., Any], setting: bool | str = True,
             backend: str | Callable[..., Any] = "inductor") -> Callable[..., Any]:
    """``torch.compile(fn)`` in the mode ``setting`` names, after raising the recompile limit."""
    raise_recompile_limit()
    mode = compile_mode(setting)
    if backend != "inductor":
        return torch.compile(fn, backend=backend)
    return torch.compile(fn, mode=mode)
