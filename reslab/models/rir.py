"""ResNet in ResNet (Targ, Almeida & Lyman 2016): generalized residual blocks and RiR.

A *generalized residual block* (Eq. 1) keeps two streams: a residual stream ``r`` with an
identity shortcut, and a transient stream ``t`` without one; four convolutions (r->r, t->r,
r->t, t->t) mix them, then BN + ReLU act per stream. Appendix 6.1 implements it as **one**
convolution over ``x = [r; t]`` whose kernel is the learnable kernel plus a partial identity
on the r->r block ("ResNet Init", Eq. 2). Here the identity is a fixed buffer added at every
forward pass, so ordinary weight decay on the learnable kernel is exactly the paper's
corrected decay (decay of kernel - identity).

The four architectures of the paper's Fig. 2 are one block class with two switches:

=============  ====================  ==================
               no outer shortcut     outer shortcut
=============  ====================  ==================
plain convs    CNN                   ResNet
generalized    ResNet Init           RiR
=============  ====================  ==================

Where a block changes shape, the outer shortcut is a 3x3 stride-2 convolution without BN (the
only reading that reproduces the paper's 0.49M / 10.3M parameters). Both streams have half of
the filters. Nets: the 32-layer net (stem 16, 3 stages x 5 blocks at 16/32/64, fc) and the
18-layer wide net (stem 96, 2/3/3 blocks at 96/192/384, 1x1 conv to the classes with bias,
global mean pool); ``layers_per_block`` gives the deeper blocks of Tables 5 and 6.

Hook: ``generalized_conv`` replaces :class:`GeneralizedResidualConv` in every generalized
layer by any class called as ``generalized_conv(in_channels, out_channels, stride)`` -- how a
reader's own convolution plugs in: ``build_model("resnet_init32", generalized_conv=MyConv)``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from reslab.models.blocks import ResidualBlock, StochasticDepth, conv3x3
from reslab.models.cifar import post_activation_stem
from reslab.models.network import StagedNet, classifier, make_stages, msra_init
from reslab.models.shortcuts import ProjectionShortcut
from reslab.validate import check_choice


class GeneralizedResidualConv(nn.Conv2d):
    """One 3x3 conv over ``[r; t]`` computing the four stream convolutions of Eq. 1 at once.

    The effective kernel is ``weight + identity``: ``weight`` is learnable (and decayed),
    ``identity`` a fixed buffer mapping residual channel j of the input to residual channel j
    of the output (for j below both streams' widths; zero for the transient stream) -- the
    partial identity of Eq. 2. The first half of the channels is ``r``, the second ``t``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, 3, stride, padding=1, bias=False)
        identity = torch.zeros_like(self.weight)
        shared = min(in_channels, out_channels) // 2
        identity[torch.arange(shared), torch.arange(shared), 1, 1] = 1.0
        self.register_buffer("identity", identity, persistent=False)

    @property
    def residual_channels(self) -> int:
        """Channels of the residual stream in the output (the first half)."""
        return self.out_channels // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight + self.identity, None, self.stride, self.padding)


class StreamLayer(nn.Sequential):
    """``sigma(conv(x))``: a conv, BN and ReLU; a generalized residual block when the conv is
    a :class:`GeneralizedResidualConv` (BN and ReLU act per channel, hence per stream)."""

    def __init__(self, conv: nn.Conv2d, relu: bool = True) -> None:
        layers = [conv, nn.BatchNorm2d(conv.out_channels)]
        super().__init__(*layers, *([nn.ReLU(inplace=True)] if relu else []))


class RiRBlock(ResidualBlock):
    """``layers`` conv-BN(-ReLU) layers under one optional outer shortcut (RiR, Fig. 1).

    ``generalized``: the layers are generalized residual blocks (ResNet Init) instead of
    plain convs. ``outer_shortcut``: add the block's input before the last ReLU, as in a
    ResNet block (a 3x3 stride-2 conv projection where the shape changes).
    ``generalized_conv``: the class of the generalized convolutions (the hook above).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 layers: int = 2, generalized: bool = True, outer_shortcut: bool = True,
                 survival_prob: float = 1.0,
                 generalized_conv: Callable[[int, int, int], nn.Conv2d] | None = None) -> None:
        super().__init__()
        conv = (generalized_conv or GeneralizedResidualConv) if generalized else conv3x3
        chans = [in_channels] + [out_channels] * layers
        self.layers = nn.Sequential(*[
            StreamLayer(conv(chans[i], chans[i + 1], stride if i == 0 else 1),
                        relu=i < layers - 1 or not outer_shortcut) for i in range(layers)])
        same_shape = in_channels == out_channels and stride == 1
        self.shortcut = None if not outer_shortcut else nn.Identity() if same_shape else \
            ProjectionShortcut(in_channels, out_channels, stride, kernel_size=3, batch_norm=False)
        self.drop = StochasticDepth(survival_prob)
        self.relu = nn.ReLU(inplace=True) if outer_shortcut else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        if self.shortcut is not None:  # the outer shortcut of a ResNet block (RiR, Fig. 1)
            out = self.shortcut(x) + self.drop(out)
        return self.relu(out)


ARCHITECTURES = {  # name -> (generalized, outer_shortcut), the paper's Fig. 2
    "cnn": (False, False), "resnet": (False, True), "resnet_init": (True, False),
    "rir": (True, True)}


class RiRNet(StagedNet):
    """The RiR paper's CIFAR nets (Table 7) for any of the four architectures of Fig. 2.

    Args:
        architecture: "cnn", "resnet", "resnet_init" or "rir".
        blocks: blocks per stage, e.g. (5, 5, 5) for the 32-layer net, (2, 3, 3) wide.
        layers_per_block: layers inside one outer shortcut (Tables 5 and 6).
        widths: filters per stage (both streams together); the stem has ``widths[0]``.
        wide_head: the 18-layer wide net's 1x1 conv to the classes + global mean pool
            (instead of global pool + fc).
        generalized_conv: class of the generalized layers' conv (default
            :class:`GeneralizedResidualConv`, Eq. 2), called ``(in, out, stride)``.
    """

    def __init__(self, architecture: str = "rir", blocks: Sequence[int] = (5, 5, 5),
                 layers_per_block: int = 2, widths: Sequence[int] = (16, 32, 64),
                 wide_head: bool = False, num_classes: int = 10, in_channels: int = 3,
                 input_size: int | None = 32, stochastic_depth: float | None = None,
                 generalized_conv: Callable[[int, int, int], nn.Conv2d] | None = None) -> None:
        check_choice("architecture", architecture, ARCHITECTURES)
        generalized, outer = ARCHITECTURES[architecture]
        stages, channels = make_stages(RiRBlock, list(blocks), widths, widths[0],
                                       (1,) + (2,) * (len(blocks) - 1),
                                       stochastic_depth if outer else None,
                                       layers=layers_per_block, generalized=generalized,
                                       outer_shortcut=outer, generalized_conv=generalized_conv)
        head = (nn.Sequential(nn.Conv2d(channels, num_classes, 1), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten()) if wide_head else classifier(channels, num_classes))
        super().__init__(post_activation_stem(in_channels, widths[0]), stages, head,
                         in_channels, input_size)
        self.architecture = architecture
        self.depth = 2 + sum(blocks) * layers_per_block
        msra_init(self)


def four_conv_form(conv: GeneralizedResidualConv, x: torch.Tensor) -> torch.Tensor:
    """Eq. 1 computed the long way: four separate convolutions plus the r-stream shortcut.

    Equal to ``conv(x)`` (the one-conv form of Eq. 2); kept to show and test the equivalence.
    """
    ri, ro, s = conv.in_channels // 2, conv.out_channels // 2, conv.stride[0]
    r, t, w = x[:, :ri], x[:, ri:], conv.weight

    def c(inp: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        return F.conv2d(inp, kernel, stride=s, padding=1)

    shortcut = F.pad(r[:, :, ::s, ::s], (0, 0, 0, 0, 0, ro - ri))     # r_j -> r_j
    r_next = c(r, w[:ro, :ri]) + c(t, w[:ro, ri:]) + shortcut         # residual stream
    t_next = c(r, w[ro:, :ri]) + c(t, w[ro:, ri:])                    # transient stream
    return torch.cat([r_next, t_next], 1)


@contextmanager
def ablated_stream(conv: GeneralizedResidualConv, stream: str):
    """Zero the *learned* connections of one input ``stream`` of ``conv`` while inside.

    Targ et al.'s Fig. 3 zeroes "learned connections of each stream ... a single layer at a
    time" in a trained ResNet Init net. The paper is silent on the direction; here a stream's
    learned connections are its outgoing ones: the kernel entries that read the stream (to
    both streams). The identity (Eq. 2's fixed partial identity, r_j -> r_j) is not learned
    and stays, so an ablated residual stream still passes through its shortcut.
    """
    check_choice("stream", stream, ("residual", "transient"))
    r_in = conv.in_channels // 2
    channels = slice(0, r_in) if stream == "residual" else slice(r_in, None)
    saved = conv.weight.detach()[:, channels].clone()
    with torch.no_grad():
        conv.weight[:, channels] = 0
    try:
        yield conv
    finally:
        with torch.no_grad():
            conv.weight[:, channels] = saved


def stream_layers(model: nn.Module) -> list[tuple[str, StreamLayer]]:
    """Every generalized residual block of ``model`` (for the stream ablation of Fig. 3)."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, StreamLayer) and isinstance(m[0], GeneralizedResidualConv)]
