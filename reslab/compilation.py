"""``torch.compile`` for the trainer: which mode, how many nets per process, and CUDA graphs.

* Every net of the kit runs through the same ``StagedNet.forward``, and Dynamo keeps at most
  ``recompile_limit`` (8) compiled versions of one function: the ninth distinct architecture
  compiled in a process (a notebook that compiles a few nets gets there quickly) would
  silently run eagerly. :func:`compiled` raises that limit first.
* The modes "reduce-overhead" and "max-autotune" replay CUDA graphs from one memory pool per
  device; a sweep must then not launch its nets on separate side streams (their replays would
  be unordered against each other). :func:`uses_cuda_graphs` says which modes do.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

RECOMPILE_LIMIT = 64  # distinct nets (or input shapes) one process may compile


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
