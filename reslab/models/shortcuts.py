"""Shortcut connections: He et al. 2016, Sec. 3.3 ("Identity vs. Projection Shortcuts").

Every model family in reslab builds its shortcuts here, so options A, B and C mean the same
thing everywhere:

* **A** -- identity; where dimensions grow, subsample with the block's stride and pad the new
  channels with zeros (:class:`ZeroPadShortcut`, no parameters).
* **B** -- identity where shapes match, a projection ``W_s x`` (Eq. 2: 1x1 conv + BN) where they
  grow (:class:`ProjectionShortcut`).
* **C** -- a projection on every shortcut.

Where option A puts its zeros is a choice of its own (``zero_placement``, see
:class:`ZeroPadShortcut`): the paper leaves it open, and two popular codes differ.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reslab.validate import check_choice

SHORTCUT_OPTIONS = ("A", "B", "C")
ZERO_PLACEMENTS = ("after", "split")


class ZeroPadShortcut(nn.Module):
    """Option A: identity with zero-padded extra channels (He et al. 2016, Sec. 3.3, "(A)").

    Subsamples by ``stride`` (takes every ``stride``-th pixel, as a 1x1 stride-2 pooling
    would) and adds ``out_channels - in_channels`` all-zero channels. A named module, unlike
    the lambda in popular reproductions, so a whole model pickles with ``torch.save``.

    He et al. say only "the shortcut still performs identity mapping, with extra zero entries
    padded for increasing dimensions" (Sec. 3.3); *where* the zeros go is left open, and it
    matters: the next block's weights see the input's channels at different indices, so the
    same weights compute different functions under the two placements.

    * ``placement="after"`` (the kit's default): every new channel after the input's, as in
      Facebook's fb.resnet.torch (``models/resnet.lua``: ``nn.Concat(2)`` of ``nn.Identity()``
      and ``nn.MulConstant(0)``, i.e. ``[x, 0]``).
    * ``placement="split"``: ``extra // 2`` zero channels before the input's and the rest
      after, as in akamaster/pytorch_resnet_cifar10 (``resnet.py``: a ``LambdaLayer`` with
      ``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes//4, planes//4))``), whose published
      weights :func:`reslab.models.pretrained.load_pretrained` loads.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 placement: str = "after") -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"option A can only add channels (got {in_channels} -> {out_channels}); "
                "use a projection shortcut (option B or C) to reduce them"
            )
        check_choice("zero_placement", placement, ZERO_PLACEMENTS)
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.placement = placement

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        if not extra:
            return x
        before = extra // 2 if self.placement == "split" else 0
        return F.pad(x, (0, 0, 0, 0, before, extra - before))

    def extra_repr(self) -> str:
        where = "" if self.placement == "after" else f", placement={self.placement!r}"
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}{where}"


class ProjectionShortcut(nn.Sequential):
    """A projection shortcut ``W_s x`` (He et al. 2016, Eq. 2): conv, then optional BN.

    He et al. use a 1x1 conv + BN (options B and C). RiR's outer shortcut is a 3x3 conv without
    BN (Targ et al. 2016) and RoR's multilevel shortcuts are 1x1 convs with or without BN; both
    are this module with other arguments. Children are named ``0`` (conv) and ``1`` (BN) as in
    torchvision's ``downsample``, so torchvision checkpoints load unchanged.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        kernel_size: int = 1,
        batch_norm: bool = True,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                      padding=kernel_size // 2, bias=False)
        ]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        super().__init__(*layers)


def make_shortcut(option: str | None, in_channels: int, out_channels: int,
                  stride: int = 1, batch_norm: bool = True,
                  zero_placement: str = "after") -> nn.Module | None:
    """The shortcut of one block for ``option`` "A", "B" or "C"; ``None`` for a plain block.

    ``batch_norm`` says whether projections carry a BN (He et al.: yes; pre-activation nets: no);
    ``zero_placement`` where option A's zeros go ("after" or "split", see
    :class:`ZeroPadShortcut`).
    """
    check_choice("zero_placement", zero_placement, ZERO_PLACEMENTS)
    if option is None:
        return None
    check_choice("shortcut", option, SHORTCUT_OPTIONS)
    same_shape = in_channels == out_channels and stride == 1
    if option == "C" or (option == "B" and not same_shape):
        return ProjectionShortcut(in_channels, out_channels, stride, batch_norm=batch_norm)
    if same_shape:
        return nn.Identity()
    return ZeroPadShortcut(in_channels, out_channels, stride, zero_placement)
