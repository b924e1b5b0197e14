"""Deterministic algorithms for one run, safely on CUDA, and only for that run.

``torch.use_deterministic_algorithms(True)`` is a process-wide switch. On CUDA it also needs
cuBLAS's workspace fixed (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, PyTorch's "Reproducibility"
notes), or the first matrix product raises; the variable is read when the cuBLAS handle is
made, so it must be set before the process first uses cuBLAS: ``import reslab`` sets it
(when unset) for that reason, and :func:`deterministic` sets it when it is still missing,
switches the algorithms for the duration of a ``with`` block and then puts back whatever
was there before (a notebook's later cells are not affected).

One layer of every net has no deterministic CUDA backward pass: ``AdaptiveAvgPool2d`` (torch
raises in deterministic mode). Its use here, global average pooling, is a plain mean over the
feature map; :func:`deterministic_pooling` swaps it for one.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

CUBLAS_WORKSPACE = ":4096:8"


def fix_cublas_workspace(warn=print) -> None:
    """Set ``CUBLAS_WORKSPACE_CONFIG`` unless the environment already has it.

    If CUDA is already initialised, cuBLAS may have read the variable already: say so once.
    """
    if os.environ.get("CUBLAS_WORKSPACE_CONFIG"):
        return
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    if torch.cuda.is_initialized():
        warn(f"reslab: set CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE} after CUDA started; "
             "if a deterministic run raises at its first matrix product, set it before "
             "starting Python")


@contextmanager
def deterministic(enabled: bool, device: torch.device) -> Iterator[None]:
    """Deterministic algorithms inside the block when ``enabled``; the previous mode after."""
    if not enabled:
        yield
        return
    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled())
    if device.type == "cuda":
        fix_cublas_workspace()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


@contextmanager
def cudnn_autotune(enabled: bool, device: torch.device) -> Iterator[None]:
    """``torch.backends.cudnn.benchmark`` on for a CUDA run inside the block (the previous
    setting after it).

    cuDNN then times its convolution algorithms for each new shape and keeps the fastest. The
    whole-step graph's warm-up steps (:mod:`reslab.training.fastpath`) run before its capture, so the
    choice is made there, as PyTorch's CUDA-graph notes intend. Off for deterministic runs,
    whose algorithms must not depend on timing.
    """
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = bool(enabled)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


class GlobalAveragePool(nn.Module):
    """``AdaptiveAvgPool2d(1)`` as ``x.mean((2, 3))``: the same numbers (up to the order of
    the sum), and a backward pass that is deterministic on CUDA."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)


def deterministic_pooling(model: nn.Module) -> int:
    """Replace every ``AdaptiveAvgPool2d`` to 1x1 in ``model`` by :class:`GlobalAveragePool`
    (no parameters: the state dict is unchanged); returns how many were replaced."""
    replaced = 0
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.AdaptiveAvgPool2d) and child.output_size in (1, (1, 1)):
                setattr(parent, name, GlobalAveragePool())
                replaced += 1
    return replaced
