"""The skeleton every family shares: stem -> stages of blocks -> head, plus He initialisation.

Families differ only in which block a stage repeats and in what surrounds the stages; they all
build their stages with :func:`make_stage` and check their input with :func:`check_input`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


def check_input(x: torch.Tensor, in_channels: int, input_size: int | None) -> None:
    """Raise a ``ValueError`` that says what the model expects when ``x`` does not fit it."""
    size = f"{input_size}x{input_size}" if input_size else "HxW"
    expected = f"(N, {in_channels}, {input_size or 'H'}, {input_size or 'W'})"
    if x.dim() != 4:
        raise ValueError(f"the model expects a batch of {in_channels}-channel {size} images, "
                         f"shape {expected}; got shape {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(f"the model expects {in_channels}-channel images, shape {expected}; "
                         f"got {x.shape[1]} channels (shape {tuple(x.shape)}); build it with "
                         f"in_channels={x.shape[1]} for this data")
    if input_size and tuple(x.shape[2:]) != (input_size, input_size):
        raise ValueError(f"the model expects {size} images, shape {expected}; got "
                         f"{x.shape[2]}x{x.shape[3]}; pad or resize the images, or build it "
                         f"with input_size={x.shape[2]} (input_size=None accepts any size)")


def linear_survival(num_blocks: int, p_last: float | None) -> list[float]:
    """Stochastic depth's linear decay rule (Huang et al. 2016, Eq. 4).

    Block ``l`` of ``L`` (1-based) survives with ``1 - (l / L) * (1 - p_L)``; ``p_last=None``
    switches stochastic depth off (every block survives).
    """
    if p_last is None:
        return [1.0] * num_blocks
    if not 0 < p_last <= 1:
        raise ValueError(f"stochastic_depth is p_L, the last block's survival probability, "
                         f"in (0, 1] (the papers use 0.5); got {p_last!r}")
    return [1 - (i / num_blocks) * (1 - p_last) for i in range(1, num_blocks + 1)]


def make_stage(block: type[nn.Module], in_channels: int, width: int, num_blocks: int,
               stride: int, survival: Sequence[float] | None = None,
               last_block_kwargs: dict | None = None, **block_kwargs) -> nn.Sequential:
    """``num_blocks`` blocks; the first takes ``stride`` and the change of width.

    ``survival`` gives each block's stochastic-depth survival probability;
    ``last_block_kwargs`` overrides arguments of the stage's last block (RoR removes its ReLU).
    """
    survival = survival or [1.0] * num_blocks
    blocks = []
    channels = in_channels
    for i in range(num_blocks):
        kwargs = dict(block_kwargs)
        if survival[i] < 1:
            kwargs["survival_prob"] = survival[i]
        if i == num_blocks - 1 and last_block_kwargs:
            kwargs.update(last_block_kwargs)
        blocks.append(block(channels, width, stride if i == 0 else 1, **kwargs))
        channels = width * getattr(block, "expansion", 1)
    return nn.Sequential(*blocks)


def make_stages(block: type[nn.Module], blocks_per_stage: Sequence[int], widths: Sequence[int],
                in_channels: int, strides: Sequence[int], p_last: float | None = None,
                last_block_kwargs: dict | None = None,
                survival_rule: Callable[[int, float], Sequence[float]] | None = None,
                **block_kwargs) -> tuple[list, int]:
    """All stages of a net and the channels they end with.

    Stochastic depth (``p_last``) numbers the blocks through the whole net, as Huang et al. do;
    ``survival_rule(num_blocks, p_last)`` replaces the linear decay rule (Huang et al., Eq. 4)
    when given and ``p_last`` is not None.
    """
    rule = survival_rule if survival_rule is not None and p_last is not None else linear_survival
    survival = [float(p) for p in rule(sum(blocks_per_stage), p_last)]
    if len(survival) != sum(blocks_per_stage):
        raise ValueError(f"the survival rule gave {len(survival)} probabilities for "
                         f"{sum(blocks_per_stage)} blocks; it must give one per block")
    stages, channels, first = [], in_channels, 0
    for n, width, stride in zip(blocks_per_stage, widths, strides):
        stages.append(make_stage(block, channels, width, n, stride, survival[first:first + n],
                                 last_block_kwargs, **block_kwargs))
        channels, first = width * getattr(block, "expansion", 1), first + n
    return stages, channels


def blocks_per_stage(depth: int, layers_per_block: int, extra_layers: int, what: str,
                     stages: int = 3) -> int:
    """Blocks per stage of a ``depth``-layer net, or a ``ValueError`` naming the rule.

    A net of ``stages`` stages of ``n`` blocks has ``stages * layers_per_block * n +
    extra_layers`` layers (CIFAR ResNet: 6n+2; bottleneck: 9n+2).
    """
    step = stages * layers_per_block
    rule = f"{step}n+{extra_layers}"
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise ValueError(f"{what} depth must be a whole number of the form {rule} (got {depth!r})")
    n, rest = divmod(depth - extra_layers, step)
    if rest == 0 and n >= 1:
        return n
    smallest = step + extra_layers
    below = extra_layers + step * n if n >= 1 else None
    above = max(extra_layers + step * (n + 1), smallest)
    nearest = f"{below} and {above}" if below else f"{above}"
    raise ValueError(f"{what} depth must be {rule} ({stages} stages of n blocks of "
                     f"{layers_per_block} layers, plus {extra_layers}); {depth} is not. "
                     f"Nearest valid depths: {nearest}")


def msra_init(model: nn.Module) -> nn.Module:
    """He et al. 2015 ("MSRA") initialisation, as He et al. 2016 (Sec. 3.4) use.

    Conv weights ~ N(0, 2 / n) with ``n = k * k * out_channels`` (the fan-out form that the
    authors' Torch code and torchvision use); BN scale 1 and shift 0; Linear layers keep
    PyTorch's default (the paper does not specify the classifier's initialisation).
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


class StagedNet(nn.Module):
    """``head(stage_k(... stage_1(stem(x))))``: the CIFAR-style skeleton of every family.

    ``in_channels`` and ``input_size`` describe the input the model accepts; ``forward``
    checks them and says what it expects when a batch does not fit.
    """

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module], head: nn.Module,
                 in_channels: int, input_size: int | None) -> None:
        super().__init__()
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.head = head
        self.in_channels, self.input_size = in_channels, input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.input_size)
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


def classifier(in_features: int, num_classes: int, pre_activation: bool = False) -> nn.Sequential:
    """Global average pool and a fully connected layer; BN-ReLU first for pre-activation nets."""
    layers: list[nn.Module] = []
    if pre_activation:
        layers += [nn.BatchNorm2d(in_features), nn.ReLU(inplace=True)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_features, num_classes)]
    return nn.Sequential(*layers)
