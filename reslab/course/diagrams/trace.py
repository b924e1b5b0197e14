"""Reading a model: a trace of one forward pass of a dummy batch.

Every module gets a forward pre-hook and a forward hook; one pass in eval mode without
gradients records which modules run, in which order, on which tensor shapes, and the ids of
the tensors they read and write (which tell whose output a shortcut reads). The drawings of
He et al. 2016, Figs. 2, 3 and 5 (and of the later papers) are read from this trace
(:mod:`~reslab.course.diagrams.views`), so any depth, width, block or shortcut option is drawn
as it was built. Operations called as functions, such as ``F.relu``, are not modules and are
not traced.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from reslab.course.diagrams.families import family


@dataclass
class Call:
    """One module call of the traced forward pass (shapes without the batch dimension).

    ``in_id`` and ``out_id`` are the Python ids of its input and output tensors: they tell
    which layer's output a shortcut reads.
    """

    order: int
    module: nn.Module
    in_shape: tuple[int, ...]
    in_id: int
    out_shape: tuple[int, ...] = ()
    out_id: int = -1


def _first(value):
    return value[0] if isinstance(value, (tuple, list)) and value else value


def _shape(value) -> tuple[int, ...]:
    value = _first(value)
    return tuple(value.shape[1:]) if isinstance(value, torch.Tensor) else ()


def is_leaf(module: nn.Module) -> bool:
    return next(module.children(), None) is None


class Trace:
    """Every module call of ``module(x)`` in call order, recorded with forward hooks.

    The module runs once in eval mode without gradients (BN statistics are not touched) and
    is put back in its previous mode.
    """

    def __init__(self, module: nn.Module, x: torch.Tensor) -> None:
        self.calls: list[Call] = []
        stack: list[Call] = []

        def before(mod: nn.Module, args) -> None:
            stack.append(Call(len(self.calls), mod, _shape(args), id(_first(args))))
            self.calls.append(stack[-1])

        def after(mod: nn.Module, args, out) -> None:
            call = stack.pop()
            call.out_shape, call.out_id = _shape(out), id(_first(out))

        handles = [h for m in module.modules() for h in (
            m.register_forward_pre_hook(before), m.register_forward_hook(after))]
        was_training = module.training
        try:
            module.eval()
            with torch.no_grad():
                module(x)
        finally:
            module.train(was_training)
            for handle in handles:
                handle.remove()
        self.by_id: dict[int, list[Call]] = {}
        for call in self.calls:
            self.by_id.setdefault(id(call.module), []).append(call)

    def of(self, module: nn.Module | None) -> Call | None:
        """The first call of ``module`` (``None`` if it never ran)."""
        calls = self.by_id.get(id(module)) if module is not None else None
        return calls[0] if calls else None

    def leaves(self, module: nn.Module) -> list[Call]:
        """Calls of the leaf modules inside ``module``, in call order."""
        found = [c for m in module.modules() if is_leaf(m) for c in self.by_id.get(id(m), [])]
        return sorted(found, key=lambda c: c.order)


def dummy_input(model: nn.Module, input_shape: Sequence[int] | None) -> torch.Tensor:
    """One all-zero image of the size the model was built for (if it accepts any: its
    family's, :class:`~reslab.course.diagrams.families.Family`)."""
    if input_shape is None:
        size = getattr(model, "input_size", None) or family(model).input_size
        input_shape = (getattr(model, "in_channels", 3), size, size)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.zeros(1, *input_shape, device=device, dtype=dtype)


def dummy_block_input(block: nn.Module) -> torch.Tensor:
    """An all-zero 8x8 input with the channels of the block's first conv or BN."""
    first = next(m for m in block.modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d))
    channels = first.in_channels if isinstance(first, nn.Conv2d) else first.num_features
    param = next(block.parameters())
    return torch.zeros(1, channels, 8, 8, device=param.device, dtype=param.dtype)
