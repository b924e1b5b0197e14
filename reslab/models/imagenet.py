"""The ImageNet plain and residual networks of He et al. 2016, Table 1.

7x7/2 conv 64, 3x3/2 max pool, four stages at 64/128/256/512 filters, average pool, fc 1000.
Basic blocks for 18/34 layers, bottlenecks (4x expansion) for 50/101/152. Module names follow
torchvision (``conv1``, ``layer1`` ... ``fc``; shortcuts also load from ``downsample``), so
torchvision checkpoints load with ``strict=True`` when ``layout="torchvision"``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reslab.models.blocks import BasicBlock, Bottleneck
from reslab.models.network import check_input, make_stages, msra_init

STAGE_BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
                152: [3, 8, 36, 3]}


def read_torchvision_names(state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """``load_state_dict`` pre-hook: read torchvision's ``layerN.M.downsample.*`` keys as this
    net's ``layerN.M.shortcut.*`` (the same modules under the paper's name).

    A module-level function (not a closure) so that whole models still pickle.
    """
    for key in [k for k in state_dict if k.startswith(prefix) and ".downsample." in k]:
        state_dict[key.replace(".downsample.", ".shortcut.")] = state_dict.pop(key)


class ImageNetResNet(nn.Module):
    """He et al. 2016, Table 1 (plain nets with ``shortcut=None``).

    Args:
        depth: 18, 34, 50, 101 or 152.
        shortcut: "A", "B" (the paper's choice for 50/101/152, and torchvision's), "C" or
            ``None`` (plain).
        layout: "paper" strides a bottleneck's first 1x1 conv (Table 1's 3.8 GFLOPs for
            ResNet-50); "torchvision" strides its 3x3 conv (4.1 GMACs). Basic blocks: no effect.
        input_size: the square image size ``forward`` accepts (``None``: any size >= 32).
    """

    def __init__(self, depth: int = 50, shortcut: str | None = "B", layout: str = "paper",
                 num_classes: int = 1000, in_channels: int = 3,
                 input_size: int | None = 224,
                 stochastic_depth: float | None = None) -> None:
        super().__init__()
        block = BasicBlock if depth < 50 else Bottleneck
        kwargs = {"layout": layout} if block is Bottleneck else {}
        self.in_channels, self.input_size, self.depth = in_channels, input_size, depth
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, channels = make_stages(block, STAGE_BLOCKS[depth], (64, 128, 256, 512), 64,
                                       (1, 2, 2, 2), stochastic_depth, shortcut=shortcut,
                                       **kwargs)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        msra_init(self)
        self._register_load_state_dict_pre_hook(read_torchvision_names)

    @property
    def stages(self) -> Sequence[nn.Module]:
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.input_size)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
