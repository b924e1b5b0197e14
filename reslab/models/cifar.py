"""The CIFAR-10 plain and residual networks of He et al. 2016, Sec. 4.2.

A 3x3 conv with 16 filters, then 3 stages of ``n`` blocks on 32x32, 16x16 and 8x8 maps with
16, 32 and 64 filters (stride-2 convs downsample), global average pooling and a 10-way fc:
``6n + 2`` weighted layers. With bottleneck blocks (widths 16/32/64, outputs 64/128/256) a
stage block has 3 layers, so ``9n + 2``.

Parameter counts, option A, 10 classes (He et al. Table 6 rounds them):

====== ===== ============
depth    n   parameters
====== ===== ============
20       3       269,722
32       5       464,154
44       7       658,586
56       9       853,018
110     18     1,727,962
1202   200    19,421,274
====== ===== ============
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from reslab.models.blocks import BasicBlock, Bottleneck, conv3x3
from reslab.models.network import StagedNet, blocks_per_stage, classifier, make_stages, msra_init
from reslab.models.shortcuts import ZERO_PLACEMENTS
from reslab.validate import check_choice

BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def resolve_block(block: str | type[nn.Module]) -> tuple[type[nn.Module], str]:
    """A block name or class -> ``(class, "basic" | "bottleneck")``.

    A class (a student's own block) must take BasicBlock's constructor arguments
    ``(in_channels, out_channels, stride=1, shortcut="A")`` -- for a bottleneck the second is
    the width -- and say ``expansion = 4`` if it is a bottleneck (default 1: basic).
    """
    if isinstance(block, type) and issubclass(block, nn.Module):
        kind = "bottleneck" if getattr(block, "expansion", 1) == 4 else "basic"
        return block, kind
    check_choice("block", block, BLOCKS)
    return BLOCKS[block], block


def post_activation_stem(in_channels: int, out_channels: int = 16) -> nn.Sequential:
    """The first layer of He et al.'s CIFAR nets: 3x3 conv, BN, ReLU."""
    return nn.Sequential(conv3x3(in_channels, out_channels), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


def cifar_blocks_per_stage(depth: int, block: str = "basic", plain: bool = False) -> int:
    """``n`` for a CIFAR net of ``depth`` layers: 6n+2 (basic) or 9n+2 (bottleneck)."""
    check_choice("block", block, BLOCKS)
    what = f"CIFAR {'plain net' if plain else 'ResNet'} ({block} blocks)"
    return blocks_per_stage(depth, 2 if block == "basic" else 3, 2, what)


class CifarResNet(StagedNet):
    """He et al. 2016, Sec. 4.2: plain (``shortcut=None``) or residual CIFAR nets.

    Args:
        depth: ``6n + 2`` for basic blocks, ``9n + 2`` for bottlenecks.
        shortcut: "A" (the paper's choice on CIFAR), "B", "C", or ``None`` for a plain net.
        block: "basic", "bottleneck", or a block class with BasicBlock's constructor
            signature (see :func:`resolve_block`): a student's block plugs in here.
        num_classes, in_channels: classifier outputs and image channels (1 for Fashion-MNIST).
        widths: filters of the three stages (the bottleneck width for bottleneck blocks).
        input_size: the square image size ``forward`` accepts (``None``: any).
        stochastic_depth: ``p_L`` of the linear-decay rule, or ``None`` (off).
        zero_gamma: start every residual block as the identity by zeroing the scale of its
            last BN (Goyal et al. 2017's "zero-gamma"; the constructed solution of He et al.'s
            Sec. 3.1). Residual nets only.
        zero_placement: where option A puts its zero channels: "after" the input's (the
            kit's default) or "split" before and after (akamaster's reproduction, whose
            published weights need it); the paper leaves this open (see
            :class:`~reslab.models.shortcuts.ZeroPadShortcut`). Only option A reads it.
    """

    def __init__(self, depth: int = 20, shortcut: str | None = "A",
                 block: str | type[nn.Module] = "basic",
                 num_classes: int = 10, in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64), input_size: int | None = 32,
                 stochastic_depth: float | None = None, zero_gamma: bool = False,
                 zero_placement: str = "after") -> None:
        check_choice("zero_placement", zero_placement, ZERO_PLACEMENTS)
        if zero_gamma and shortcut is None:
            raise ValueError("zero_gamma needs shortcuts: a plain net with zeroed BN scales "
                             "outputs constants; use it with shortcut='A', 'B' or 'C'")
        block_cls, kind = resolve_block(block)
        n = cifar_blocks_per_stage(depth, kind, plain=shortcut is None)
        # a reader's own block class need not know the option while it keeps its default
        placement = {} if zero_placement == "after" else {"zero_placement": zero_placement}
        stages, channels = make_stages(block_cls, [n] * 3, widths, widths[0], (1, 2, 2),
                                       stochastic_depth, shortcut=shortcut, **placement)
        super().__init__(post_activation_stem(in_channels, widths[0]), stages,
                         classifier(channels, num_classes), in_channels, input_size)
        self.depth, self.zero_placement = depth, zero_placement
        msra_init(self)
        if zero_gamma:
            for stage in self.stages:
                for blk in stage:
                    nn.init.zeros_(blk.bn3.weight if hasattr(blk, "bn3") else blk.bn2.weight)
