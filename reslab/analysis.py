"""Measurements of any ``nn.Module``: parameters, multiply-adds, layer responses.

Results are plain numbers and dicts, so tests assert on them and :mod:`reslab.plots` draws them.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (BN's gamma and beta included, buffers excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward pass on an input of ``input_shape`` (e.g. (1, 3, 32, 32)).

    Counted by ``torch.utils.flop_counter`` (convolutions and matrix products; FLOPs / 2), the
    convention of He et al.'s "FLOPs" in Table 1. The model runs once in eval mode.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(torch.zeros(tuple(input_shape), device=device))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def model_summary(name: str, **options) -> dict:
    """Parameters and multiply-adds of the model ``name`` on one image of its native size."""
    from reslab.models import build_model, model_spec

    model = build_model(name, **options)
    size = model.input_size or 32
    shape = (1, model.in_channels, size, size)
    return {"name": name, "family": model_spec(name).family, "params": count_params(model),
            "macs": count_macs(model, shape), "input": "x".join(map(str, shape[1:]))}


def format_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A Markdown table of ``rows`` (dicts); integers get thousands separators."""
    def cell(value) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
