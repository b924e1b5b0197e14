"""ResResNet: residual networks of residual blocks (Gelda et al. 2016, Sec. III.A, Fig. 7).

He et al.'s CIFAR ResNet plus one shortcut per stage, from the stage's input to its output,
followed by ReLU: three extra shortcuts whatever the depth. The report does not say how the
stage shortcut crosses the stride-2, channel-doubling boundary; ``stage_shortcut="A"`` (the
default) reads it as He et al.'s option A (subsample and zero-pad, no parameters), "B" uses a
1x1 projection + BN where the shape changes, "C" a projection on all three. Any other
``stage_shortcut`` is a module class (or factory) called as ``stage_shortcut(in_channels,
out_channels, stride)``: the hook through which a reader's own stage shortcut plugs in, e.g.
``build_model("resresnet20", stage_shortcut=MyShortcut)``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from reslab.models.blocks import BasicBlock
from reslab.models.cifar import cifar_blocks_per_stage, post_activation_stem
from reslab.models.multilevel import MultilevelNet
from reslab.models.network import classifier, make_stages, msra_init
from reslab.models.shortcuts import make_shortcut


class ResResNet(MultilevelNet):
    """Gelda et al. 2016: ``stage_out = ReLU(stage(x) + S(x))`` for each of the 3 stages.

    Args:
        depth: 6n+2, as for He et al.'s CIFAR ResNets (the blocks are unchanged).
        shortcut: the blocks' own shortcut option (A, as He et al. on CIFAR).
        stage_shortcut: how the stage-level shortcut matches shapes ("A", "B" or "C"), or a
            factory ``(in_channels, out_channels, stride) -> nn.Module`` for every stage.
        stochastic_depth: ``p_L`` of the linear-decay rule over the blocks, or ``None``.
        zero_placement: where option A (blocks and stage shortcuts) puts its zeros, "after"
            or "split" (see :class:`~reslab.models.shortcuts.ZeroPadShortcut`).
    """

    def __init__(self, depth: int = 20, shortcut: str = "A",
                 stage_shortcut: str | Callable[[int, int, int], nn.Module] = "A",
                 num_classes: int = 10, in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64), input_size: int | None = 32,
                 stochastic_depth: float | None = None, zero_placement: str = "after") -> None:
        n = cifar_blocks_per_stage(depth)
        stages, channels = make_stages(BasicBlock, [n] * 3, widths, widths[0], (1, 2, 2),
                                       stochastic_depth, shortcut=shortcut,
                                       zero_placement=zero_placement)
        ins = [widths[0], *widths[:-1]]
        middle = [stage_shortcut_module(stage_shortcut, cin, cout, 1 if i == 0 else 2,
                                        zero_placement)
                  for i, (cin, cout) in enumerate(zip(ins, widths))]
        super().__init__(post_activation_stem(in_channels, widths[0]), stages,
                         classifier(channels, num_classes), middle, None, nn.ReLU(),
                         in_channels, input_size)
        self.depth = depth
        msra_init(self)


def stage_shortcut_module(option: str | Callable[[int, int, int], nn.Module], in_channels: int,
                          out_channels: int, stride: int,
                          zero_placement: str = "after") -> nn.Module:
    """One stage-level shortcut: option "A"/"B"/"C" (He et al.'s Sec. 3.3 applied to a whole
    stage), or ``option(in_channels, out_channels, stride)`` for a reader's own module."""
    if isinstance(option, str):
        return make_shortcut(option, in_channels, out_channels, stride,
                             zero_placement=zero_placement)
    module = option(in_channels, out_channels, stride)
    if not isinstance(module, nn.Module):
        raise ValueError(f"stage_shortcut({in_channels}, {out_channels}, {stride}) must return "
                         f"an nn.Module; got {type(module).__name__}")
    return module
