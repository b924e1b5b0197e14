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

from reslab.models.blocks import ResidualBlock


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


def checkpointed_forward(block: nn.Module, forward, *args, **kwargs):
    """``forward(*args)`` of ``block`` keeping only its input for the backward pass (when
    training with gradients): the block is recomputed there, with its BN statistics frozen."""
    if not (block.training and torch.is_grad_enabled()):
        return forward(*args, **kwargs)
    if torch.compiler.is_compiling():
        # Dynamo takes no context_fn but selective-checkpointing policies, and needs none
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)
    return checkpoint(forward, *args, use_reentrant=False,
                      context_fn=partial(recompute_contexts, block), **kwargs)


def recompute_contexts(block: nn.Module) -> tuple[AbstractContextManager,
                                                  AbstractContextManager]:
    """``checkpoint``'s ``context_fn`` in eager mode: the forward pass as usual, the
    recomputation with ``block``'s BN statistics frozen (so they are counted once)."""
    return nullcontext(), frozen_bn_statistics(block)


def set_activation_checkpointing(model: nn.Module, enabled: bool = True) -> int:
    """Turn checkpointing on (or off) for every residual block of ``model``; returns how many.

    Applied from outside the blocks: each block's ``forward`` is wrapped by
    :func:`checkpointed_forward` on the instance (its class and state-dict keys stay as they
    are); turning it off removes the wrapper.
    """
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    for block in blocks:
        block.__dict__.pop("forward", None)  # the class's own forward
        if enabled:
            block.forward = partial(checkpointed_forward, block, block.forward)
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
