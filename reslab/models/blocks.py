"""Residual blocks shared by every model family.

* :class:`BasicBlock` -- two 3x3 convs, post-activation (He et al. 2016, Fig. 2 / Fig. 5 left).
* :class:`Bottleneck` -- 1x1, 3x3, 1x1 with 4x expansion (He et al. 2016, Fig. 5 right).
* :class:`PreActBlock` / :class:`PreActBottleneck` -- BN-ReLU-conv order (He et al. 2016b,
  "Identity Mappings"; used by Pre-ResNet, Wide ResNet and Pre-RoR).
* :class:`StochasticDepth` -- drops a residual branch (Huang et al. 2016; used by RoR).

A block with ``shortcut=None`` is a *plain* block: the same layers and no addition.
"""
from __future__ import annotations

import torch
from torch import nn

from reslab.models.shortcuts import ProjectionShortcut, make_shortcut
from reslab.validate import check_choice, check_probability

LAYOUTS = ("paper", "torchvision")


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (BN follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution with no bias."""
    return nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)


class StochasticDepth(nn.Module):
    """Randomly drops a residual branch (Huang et al. 2016, "Deep Networks with Stochastic Depth").

    Training: the branch is kept with probability ``survival_prob``; a dropped branch is
    multiplied by exactly zero, so the block returns its shortcut. ``mode="batch"`` (the
    paper's) draws one decision per mini-batch, ``"row"`` one per sample. Evaluation: the
    branch is scaled by ``survival_prob`` (the paper's expectation rule).
    """

    def __init__(self, survival_prob: float = 1.0, mode: str = "batch") -> None:
        super().__init__()
        check_probability("survival_prob", survival_prob, open_low=True)
        check_choice("stochastic depth mode", mode, ("batch", "row"))
        self.survival_prob, self.mode = survival_prob, mode

    def forward(self, branch: torch.Tensor) -> torch.Tensor:
        if self.survival_prob == 1.0:
            return branch
        if not self.training:
            return branch * self.survival_prob
        shape = (1,) * branch.dim() if self.mode == "batch" else (branch.shape[0],) + (1,) * (
            branch.dim() - 1)
        keep = torch.empty(shape, device=branch.device, dtype=branch.dtype)
        return branch * keep.bernoulli_(self.survival_prob)

    def extra_repr(self) -> str:
        return f"survival_prob={self.survival_prob:.4f}, mode={self.mode!r}"


class ResidualBlock(nn.Module):
    """What every block has besides its layers: a shortcut (``None``: a plain block) and the
    stochastic-depth gate ``drop`` on its residual branch. Each block writes its own addition,
    ``shortcut(x) + drop(F(x))``, in its forward."""

    def init_shortcut(self, in_channels: int, out_channels: int, stride: int,
                      shortcut: str | None, survival_prob: float,
                      projection_bn: bool = True, zero_placement: str = "after") -> None:
        """Make ``self.shortcut`` (option A, B or C, or ``None``) and ``self.drop``."""
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride,
                                      batch_norm=projection_bn, zero_placement=zero_placement)
        if self.shortcut is None and survival_prob < 1:
            raise ValueError("stochastic depth needs a shortcut; a plain block cannot drop "
                             "its only path (use a residual model or survival_prob=1)")
        self.drop = StochasticDepth(survival_prob)


class BasicBlock(ResidualBlock):
    """Two 3x3 conv-BN layers; ``y = ReLU(F(x) + shortcut(x))`` (He et al. 2016, Eq. 1, Fig. 2).

    ``final_relu=False`` leaves out the last ReLU (RoR applies it after its extra shortcuts);
    ``zero_placement`` is where option A puts its zeros (see
    :class:`~reslab.models.shortcuts.ZeroPadShortcut`).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str | None = "A", survival_prob: float = 1.0,
                 final_relu: bool = True, zero_placement: str = "after") -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.final_relu = final_relu
        self.init_shortcut(in_channels, out_channels, stride, shortcut, survival_prob,
                        zero_placement=zero_placement)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:  # Eq. 1: y = F(x, {W_i}) + x; a plain block stops at F
            out = self.shortcut(x) + self.drop(out)
        return self.relu(out) if self.final_relu else out


class Bottleneck(ResidualBlock):
    """1x1 reduce, 3x3, 1x1 expand (x4), post-activation (He et al. 2016, Fig. 5 right).

    ``layout="paper"`` puts the stride on the first 1x1 conv, as the paper's Table 1 does;
    ``layout="torchvision"`` puts it on the 3x3 conv ("ResNet v1.5", more MACs, same params).
    ``width`` is the bottleneck width; the block outputs ``width * 4`` channels.
    """

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1,
                 shortcut: str | None = "B", survival_prob: float = 1.0,
                 final_relu: bool = True, layout: str = "paper",
                 zero_placement: str = "after") -> None:
        super().__init__()
        check_choice("layout", layout, LAYOUTS)
        out_channels = width * self.expansion
        stride_1x1, stride_3x3 = (stride, 1) if layout == "paper" else (1, stride)
        self.conv1 = conv1x1(in_channels, width, stride_1x1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride_3x3)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.final_relu = final_relu
        self.init_shortcut(in_channels, out_channels, stride, shortcut, survival_prob,
                        zero_placement=zero_placement)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut is not None:  # Eq. 1 (Eq. 2 where a projection W_s matches shapes)
            out = self.shortcut(x) + self.drop(out)
        return self.relu(out) if self.final_relu else out


class PreActBlock(ResidualBlock):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus shortcut, no activation after the addition.

    He et al. 2016b ("Identity Mappings in Deep Residual Networks", Fig. 1b); the block of
    Pre-ResNet and Wide ResNet (Zagoruyko & Komodakis 2016, with ``out_channels = 16k, 32k,
    64k``). Where the shape changes, the projection reads the pre-activated input, as in both
    papers' code; projections here have no BN (the WRN convention).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str | None = "B", survival_prob: float = 1.0,
                 zero_placement: str = "after") -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.relu = nn.ReLU(inplace=False)
        self.init_shortcut(in_channels, out_channels, stride, shortcut, survival_prob,
                        projection_bn=False, zero_placement=zero_placement)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        if self.shortcut is None:
            return out
        return self.shortcut(_shortcut_input(self, x, pre)) + self.drop(out)  # x_l + F(x_l)


class PreActBottleneck(ResidualBlock):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3 (stride), BN-ReLU-1x1 (x4).

    The block of Pre-ResNet-164 and -1001 (He et al. 2016b, Sec. 4); same shortcut convention
    as :class:`PreActBlock`.
    """

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1,
                 shortcut: str | None = "B", survival_prob: float = 1.0,
                 zero_placement: str = "after") -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv1x1(in_channels, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.relu = nn.ReLU(inplace=False)
        self.init_shortcut(in_channels, out_channels, stride, shortcut, survival_prob,
                        projection_bn=False, zero_placement=zero_placement)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        if self.shortcut is None:
            return out
        return self.shortcut(_shortcut_input(self, x, pre)) + self.drop(out)  # x_l + F(x_l)


def _shortcut_input(block: ResidualBlock, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    """Identity and zero-pad shortcuts carry the raw input; projections the pre-activated one."""
    return pre if isinstance(block.shortcut, ProjectionShortcut) else x
