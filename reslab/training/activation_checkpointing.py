"""Activation checkpointing for residual nets: keep each block's input, recompute the rest.

Training ResNet-1202 at batch 128 stores about 3 activations per layer for the backward pass
(the popular reproduction needs 16 GB). With checkpointing, only the input of every block is
kept; the block's layers run again during the backward pass (about one extra forward pass).

Recomputing a block would normally update its BN running statistics a second time. In eager
mode the recomputation here runs with those statistics frozen; under ``torch.compile``,
AOTAutograd applies a forward's buffer updates once and its recomputation in the backward graph
updates nothing. Either way a checkpointed net trains to exactly the weights *and* running
statistics of an ordinary one.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextmanager
def frozen_bn_statistics(module: nn.Module) -> Iterator[None]:
    """BN layers in ``module`` normalise as usual but leave their running statistics alone."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None
              else None) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch statistics: unchanged
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


class Checkpointable(nn.Module):
    """Mixin for blocks: when ``checkpointing`` is on (and training with gradients), a call
    stores only the block's input and recomputes the block in the backward pass."""

    checkpointing: bool = False

    def __call__(self, *args, **kwargs):
        if not (self.checkpointing and self.training and torch.is_grad_enabled()):
            return super().__call__(*args, **kwargs)
        if torch.compiler.is_compiling():
            # Dynamo takes no context_fn but selective-checkpointing policies, and needs none
            return checkpoint(super().__call__, *args, use_reentrant=False, **kwargs)
        return checkpoint(super().__call__, *args, use_reentrant=False,
                          context_fn=partial(recompute_contexts, self), **kwargs)


def recompute_contexts(block: nn.Module) -> tuple[AbstractContextManager,
                                                  AbstractContextManager]:
    """``checkpoint``'s ``context_fn`` in eager mode: the forward pass as usual, the
    recomputation with ``block``'s BN statistics frozen (so they are counted once)."""
    return nullcontext(), frozen_bn_statistics(block)


def set_activation_checkpointing(model: nn.Module, enabled: bool = True) -> int:
    """Turn checkpointing on (or off) for every block of ``model``; returns how many."""
    blocks = [m for m in model.modules() if isinstance(m, Checkpointable)]
    for block in blocks:
        block.checkpointing = enabled
    return len(blocks)


def saved_activation_bytes(model: nn.Module, batch: torch.Tensor) -> int:
    """Bytes of tensors autograd keeps for the backward pass of ``model(batch)`` (a device-
    independent measure of activation memory; parameters are not counted)."""
    params = {p.data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        if t.data_ptr() not in params:
            seen[t.data_ptr()] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(batch).sum().backward()
    return sum(seen.values())
