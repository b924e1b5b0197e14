"""Shortcuts above the blocks: around whole stages, and from the stem to the end.

One mechanism serves two papers:

* **ResResNet** (Gelda et al. 2016): one shortcut per stage, from the stage's input to its
  output, then ReLU -- "residual of residual" networks.
* **RoR** (Zhang et al. 2017, Fig. 2-3): *middle-level* shortcuts around each stage and one
  *root-level* shortcut from the stem's output to the end of the last stage.

:class:`MultilevelNet` wraps the stages of a :class:`~reslab.models.network.StagedNet` and adds
those shortcuts; the blocks (the final level) are the same shared blocks as everywhere else.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reslab.models.network import StagedNet, check_input


class MultilevelNet(StagedNet):
    """``stem -> stages`` with stage-level and root-level shortcuts, then ``head``.

    For stage ``i`` with input ``h``: ``h' = act(stage_i(h) + middle_i(h))``, and for the last
    stage also ``+ root(s)`` where ``s`` is the stem's output. ``None`` shortcuts are left out.

    Args:
        middle: one shortcut module (or ``None``) per stage.
        root: the root-level shortcut, or ``None``.
        stage_activation: applied after each stage's sum (ReLU for post-activation nets, where
            the stage's last block then ends without its own ReLU in RoR; identity for
            pre-activation nets, whose head starts with BN-ReLU).
    """

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module], head: nn.Module,
                 middle: Sequence[nn.Module | None], root: nn.Module | None,
                 stage_activation: nn.Module, in_channels: int, input_size: int | None) -> None:
        super().__init__(stem, stages, head, in_channels, input_size)
        if len(middle) != len(stages):
            raise ValueError(f"one middle shortcut (or None) per stage: got {len(middle)} for "
                             f"{len(stages)} stages")
        self.middle = nn.ModuleList([m if m is not None else _Absent() for m in middle])
        self.root = root
        self.stage_activation = stage_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.input_size)
        s = h = self.stem(x)
        last = len(self.stages) - 1
        for i, (stage, middle) in enumerate(zip(self.stages, self.middle)):
            out = stage(h)
            if not isinstance(middle, _Absent):
                out = out + middle(h)
            if i == last and self.root is not None:
                out = out + self.root(s)
            h = self.stage_activation(out)
        return self.head(h)


class _Absent(nn.Module):
    """Placeholder for a missing middle shortcut (keeps stage indices aligned)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - never called
        raise RuntimeError("an absent shortcut is never applied")
