"""Pre-activation ResNets and Wide ResNets for CIFAR.

* Pre-ResNet (He et al. 2016b, "Identity Mappings"): bottleneck pre-activation blocks at
  16/32/64 (outputs 64/128/256), ``9n + 2`` layers: Pre-ResNet-164 has 1,703,258 parameters.
* Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016): basic pre-activation blocks at 16k/32k/64k,
  ``6n + 4`` layers (the count includes the projection shortcuts): WRN-28-10 has 36,479,194.

Both: a bare 3x3 conv 16 stem, projections as bare 1x1 convs, BN-ReLU before the pool.
"""
from __future__ import annotations

from reslab.models.blocks import PreActBlock, PreActBottleneck, conv3x3
from reslab.models.network import StagedNet, blocks_per_stage, classifier, make_stages, msra_init
from reslab.validate import check_choice

BLOCKS = {"basic": PreActBlock, "bottleneck": PreActBottleneck}


def preact_layout(depth: int, widen_factor: int, block: str) -> tuple[int, tuple[int, ...]]:
    """Blocks per stage and stage widths of a Pre-ResNet (bottleneck) or WRN (basic)."""
    check_choice("block", block, BLOCKS)
    if block == "bottleneck":
        n = blocks_per_stage(depth, 3, 2, "Pre-ResNet (bottleneck)")
    else:
        n = blocks_per_stage(depth, 2, 4, "Wide ResNet")
    return n, tuple(w * widen_factor for w in (16, 32, 64))


class PreActResNet(StagedNet):
    """Pre-ResNet (``block="bottleneck"``) or Wide ResNet WRN-depth-widen_factor ("basic").

    Args:
        depth: 9n+2 for bottleneck Pre-ResNets (164, 1001), 6n+4 for WRNs (28, 40, 58).
        widen_factor: k of WRN-d-k (1 for Pre-ResNet).
        shortcut: "B" (projection where shapes change, the papers' choice), "A" or "C".
        stochastic_depth: ``p_L`` of the linear-decay rule, or ``None`` (off).
        zero_placement: where option A puts its zeros, "after" or "split" (see
            :class:`~reslab.models.shortcuts.ZeroPadShortcut`).
    """

    def __init__(self, depth: int = 164, widen_factor: int = 1, block: str = "bottleneck",
                 shortcut: str = "B", num_classes: int = 10, in_channels: int = 3,
                 input_size: int | None = 32, stochastic_depth: float | None = None,
                 zero_placement: str = "after") -> None:
        n, widths = preact_layout(depth, widen_factor, block)
        stages, channels = make_stages(BLOCKS[block], [n] * 3, widths, 16, (1, 2, 2),
                                       stochastic_depth, shortcut=shortcut,
                                       zero_placement=zero_placement)
        super().__init__(conv3x3(in_channels, 16), stages,
                         classifier(channels, num_classes, pre_activation=True),
                         in_channels, input_size)
        self.depth, self.widen_factor = depth, widen_factor
        msra_init(self)
