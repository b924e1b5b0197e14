"""Measurements of any ``nn.Module``: parameters, multiply-adds, layer responses.

Results are plain numbers and dicts, so tests assert on them and :mod:`reslab.course.plots` draws them.
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


def response_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules whose outputs are the "responses" of He et al. 2016, Fig. 7, in order.

    Every 3x3 convolution of the residual functions (and the first layer); its response is the
    output of the BN right after it (post-activation nets: after BN, before ReLU or addition),
    or of the conv itself where no BN follows (a pre-activation block's last conv, before the
    addition). Convolutions inside projection shortcuts are not layers of the net's depth.
    """
    from reslab.models.shortcuts import ProjectionShortcut

    points = []
    for parent_name, parent in model.named_modules():
        if isinstance(parent, ProjectionShortcut):
            continue
        children = list(parent.named_children())
        for i, (name, child) in enumerate(children):
            if isinstance(child, nn.Conv2d) and child.kernel_size == (3, 3):
                follower = children[i + 1][1] if i + 1 < len(children) else None
                bn = isinstance(follower, nn.BatchNorm2d) and \
                    follower.num_features == child.out_channels
                target_name = children[i + 1][0] if bn else name
                full = f"{parent_name}.{target_name}" if parent_name else target_name
                points.append((full, follower if bn else child))
    return points


@torch.no_grad()
def layer_responses(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> list[dict]:
    """Standard deviation of every 3x3 layer's response on ``images`` (He et al. 2016, Fig. 7).

    ``images`` are normalised model inputs. The model runs in eval mode; each response's std is
    taken over all its elements (images, channels, positions). Returns one dict per layer, in
    order: ``{"index", "layer", "std"}``.
    """
    points = response_layers(model)
    sums = torch.zeros(len(points), 3, dtype=torch.float64)  # count, sum, sum of squares

    def hook(i):
        def record(module, inputs, output):
            out = output.detach().double()
            sums[i] += torch.stack([torch.tensor(out.numel(), dtype=torch.float64),
                                    out.sum().cpu(), (out * out).sum().cpu()])
        return record

    handles = [m.register_forward_hook(hook(i)) for i, (_, m) in enumerate(points)]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            model(images[start:start + batch_size])
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    n, s, sq = sums.unbind(1)
    std = (sq / n - (s / n) ** 2).clamp_min(0).sqrt()
    return [{"index": i + 1, "layer": name, "std": float(v)}
            for i, ((name, _), v) in enumerate(zip(points, std))]


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 500) -> float:
    """Fraction of ``images`` (normalised inputs) that ``model`` classifies correctly."""
    model.eval()
    correct = sum(int((model(images[i:i + batch_size]).argmax(1) ==
                       labels[i:i + batch_size]).sum()) for i in range(0, len(images), batch_size))
    return correct / len(images)


@torch.no_grad()
def stream_ablation(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[dict]:
    """Targ et al.'s Fig. 3: accuracy after zeroing one stream's learned connections in one
    generalized residual layer at a time (``model``: a trained ResNet Init net, e.g.
    ``resnet_init32``; any net with generalized layers works).

    See :func:`reslab.models.rir.ablated_stream` for what is zeroed (the learned kernel
    entries that read the stream; the fixed identity is kept). Returns one dict per (layer,
    stream): ``{"layer", "name", "stream", "accuracy"}``; the unablated accuracy is layer 0.
    """
    from reslab.models.rir import ablated_stream, stream_layers

    rows = [{"layer": 0, "name": "none", "stream": "none",
             "accuracy": accuracy(model, images, labels)}]
    for i, (name, layer) in enumerate(stream_layers(model), start=1):
        for stream in ("residual", "transient"):
            with ablated_stream(layer[0], stream):
                rows.append({"layer": i, "name": name, "stream": stream,
                             "accuracy": accuracy(model, images, labels)})
    return rows
