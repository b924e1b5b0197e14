"""Finite or nothing: noticing NaN and infinity in training without slowing the step loop.

:class:`FiniteWatch` keeps, on the device, the first step whose loss was not finite: two tiny
kernels per step and no host synchronisation; the host reads it once per evaluation.
:func:`first_nonfinite` checks every parameter and buffer (BatchNorm running statistics
included) before a checkpoint is written, with a single read of the device.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.distributed as dist

NEVER = 2 ** 62  # "no bad step yet"


class FiniteWatch:
    """The first step whose training loss was NaN or infinite, tracked on the device."""

    def __init__(self, device: torch.device) -> None:
        self._first_bad = torch.full((), NEVER, dtype=torch.long, device=device)

    @property
    def tensor(self) -> torch.Tensor:
        """The device tensor holding the first bad step (``NEVER`` while there is none)."""
        return self._first_bad

    def observe(self, loss: torch.Tensor, step: int) -> None:
        """Note ``step`` if ``loss`` is not finite (asynchronous: nothing is read back)."""
        here = torch.where(torch.isfinite(loss.detach()).all(), NEVER, step)
        torch.minimum(self._first_bad, here, out=self._first_bad)

    def first_bad_step(self) -> int | None:
        """The first bad step seen by any process, or None (reads the device once)."""
        value = self._first_bad.clone()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(value, op=dist.ReduceOp.MIN)
        value = int(value)
        return None if value >= NEVER else value


def named_tensors(tree: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in nested dicts, lists and tuples, with a dotted name."""
    if isinstance(tree, torch.Tensor):
        yield prefix, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from named_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from named_tensors(value, f"{prefix}.{i}" if prefix else str(i))


def first_nonfinite(tensors: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first floating-point tensor holding NaN or inf, or None.

    All checks are queued first and read back together: one synchronisation per device.
    """
    named = [(n, t) for n, t in tensors if t.is_floating_point() or t.is_complex()]
    if not named:
        return None
    flags = [torch.isfinite(t).all() for _, t in named]
    ok = torch.stack([f.to(flags[0].device) for f in flags]).tolist()
    return next((n for (n, _), good in zip(named, ok) if not good), None)


def first_nonfinite_state(model: torch.nn.Module,
                          optimizer: torch.optim.Optimizer | None = None) -> str | None:
    """The first parameter, buffer or optimiser tensor of a run that is not finite, or None.

    Under ``torchrun`` every process learns whether any process found one (BatchNorm
    statistics differ between processes), so all of them stop together.
    """
    tensors = list(named_tensors(model.state_dict(), "model"))
    if optimizer is not None:
        tensors += named_tensors(optimizer.state_dict()["state"], "optimizer")
    name = first_nonfinite(tensors)
    if dist.is_available() and dist.is_initialized():
        anywhere = torch.tensor(float(name is not None), device=tensors[0][1].device)
        dist.all_reduce(anywhere, op=dist.ReduceOp.MAX)
        if anywhere.item() and name is None:
            name = "a tensor of another process"
    return name
