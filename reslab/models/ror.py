"""RoR: Residual Networks of Residual Networks (Zhang et al. 2017, Fig. 2 and 3).

RoR-m adds shortcut levels above the blocks: m=1 is the plain ResNet, m=2 adds the
*root-level* shortcut (a 1x1 conv from the stem's output, stride 4, to the end of the last
stage), m=3 also adds one *middle-level* shortcut per stage (1x1 convs: 16->16k, 16k->32k /2,
32k->64k /2). The blocks are the *final level*. Two bases:

* ``base="resnet"``: He et al.'s post-activation CIFAR ResNet (RoR-3-110, RoR-3-164). The last
  block of each stage has no ReLU of its own; the stage output is ReLU(last block + middle
  [+ root]). Depth counts the four extra 1x1 convs: (depth - 8) / 6 blocks per stage.
* ``base="preact"``: pre-activation blocks (Pre-RoR-3, RoR-3-WRN-d-k), no activation after
  the stage sums, BN-ReLU before the pool. For WRNs depth counts as WRN-d-k does,
  (d - 4) / 6 blocks per stage (``depth_counting="wrn"``).

Choices the paper leaves open, as options: whether the 1x1 RoR shortcuts carry BN
(``shortcut_bn``; the default, True for the post-activation base and False for pre-activation,
reproduces the parameter counts in SPEC.md), and how the final level crosses dimension
changes (``shortcut``: "B" projection, the default, or "A" zero-padding -- the paper compared
both). Pre-RoR-3-164 uses basic pre-activation blocks as the paper's Fig. 3 draws them, with
RoR's depth counting (26 blocks per stage). Stochastic depth drops final-level blocks only.

Two hooks let a reader's own code drive the net: ``level_shortcut(in_channels, out_channels,
stride)`` builds the middle- and root-level shortcuts (default: a 1x1 conv, with BN per
``shortcut_bn``), and ``survival_rule(num_blocks, p_L)`` gives the final-level blocks' survival
probabilities (default: the linear decay rule of Huang et al. 2016, Eq. 4).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from reslab.models.blocks import BasicBlock, PreActBlock, conv3x3
from reslab.models.cifar import post_activation_stem
from reslab.models.multilevel import MultilevelNet
from reslab.models.network import blocks_per_stage, classifier, make_stages, msra_init
from reslab.models.shortcuts import ProjectionShortcut
from reslab.validate import check_choice

BASES = ("resnet", "preact")
DEPTH_COUNTING = {"ror": (2, 8), "wrn": (2, 4)}  # layers per block, extra layers


class RoR(MultilevelNet):
    """RoR-m (Zhang et al. 2017) on a post-activation ResNet, a Pre-ResNet or a WRN.

    Args:
        depth: see ``depth_counting``; e.g. 110 or 164 ("ror"), 40 or 58 ("wrn").
        levels: m in {1, 2, 3}.
        base: "resnet" (post-activation) or "preact" (Pre-ResNet / WRN).
        widen_factor: k of WRN-d-k (1 for ResNets).
        shortcut: final-level shortcut option where shapes change ("A", "B" or "C").
        shortcut_bn: BN after each 1x1 RoR shortcut (None: True for "resnet", else False).
        depth_counting: "ror" ((depth-8)/6 blocks) or "wrn" ((depth-4)/6 blocks).
        stochastic_depth: ``p_L`` of the linear-decay rule (the paper uses 0.5), or None.
        level_shortcut: factory ``(in_channels, out_channels, stride) -> nn.Module`` for the
            middle- and root-level shortcuts (None: 1x1 conv projections, Fig. 2).
        survival_rule: ``(num_blocks, p_L) -> probabilities`` replacing the linear decay.
        zero_placement: where option A puts its zeros, "after" or "split" (see
            :class:`~reslab.models.shortcuts.ZeroPadShortcut`).
    """

    def __init__(self, depth: int = 110, levels: int = 3, base: str = "resnet",
                 widen_factor: int = 1, shortcut: str = "B", shortcut_bn: bool | None = None,
                 depth_counting: str = "ror", num_classes: int = 10, in_channels: int = 3,
                 input_size: int | None = 32, stochastic_depth: float | None = None,
                 level_shortcut: Callable[[int, int, int], nn.Module] | None = None,
                 survival_rule: Callable[[int, float], Sequence[float]] | None = None,
                 zero_placement: str = "after") -> None:
        check_choice("levels", levels, (1, 2, 3))
        check_choice("base", base, BASES)
        check_choice("depth_counting", depth_counting, DEPTH_COUNTING)
        per_block, extra = DEPTH_COUNTING[depth_counting]
        n = blocks_per_stage(depth, per_block, extra, f"RoR ({depth_counting} counting)")
        bn = base == "resnet" if shortcut_bn is None else shortcut_bn
        widths = [w * widen_factor for w in (16, 32, 64)]
        post = base == "resnet"
        stages, channels = make_stages(
            BasicBlock if post else PreActBlock, [n] * 3, widths, 16, (1, 2, 2),
            stochastic_depth, last_block_kwargs={"final_relu": False} if post else None,
            survival_rule=survival_rule, shortcut=shortcut, zero_placement=zero_placement)
        level = level_shortcut or (lambda cin, cout, stride: ProjectionShortcut(
            cin, cout, stride, batch_norm=bn))
        ins = [16, *widths[:-1]]
        middle = [level(cin, cout, 1 if i == 0 else 2) if levels == 3 else None
                  for i, (cin, cout) in enumerate(zip(ins, widths))]
        root = level(16, widths[-1], 4) if levels >= 2 else None
        stem = post_activation_stem(in_channels) if post else conv3x3(in_channels, 16)
        super().__init__(stem, stages, classifier(channels, num_classes, pre_activation=not post),
                         middle, root, nn.ReLU() if post else nn.Identity(), in_channels,
                         input_size)
        self.depth, self.levels = depth, levels
        msra_init(self)
