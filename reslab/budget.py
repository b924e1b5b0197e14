"""Budgets: how much data and how many iterations an experiment gets, from one switch.

``RESLAB_BUDGET`` picks one of:

* ``smoke`` -- a few iterations on a few hundred images: checks that everything runs (CI).
* ``quick`` -- 400 iterations on 10,000 images: minutes on a laptop CPU; shows the degradation
  of plain nets (see shared/NOTES.md), not yet the gain of deeper ResNets.
* ``full``  -- the paper's schedule: 64,000 iterations of batch 128 on all 50,000 images
  (a GPU: about 164 epochs).

Schedules are relative to the budget (the lr drops at 50% and 75% of the iterations, as 32k and
48k of 64k), so a smaller budget keeps the paper's shape. Notebooks never hard-code sizes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

from reslab.models.options import check_choice

ENV_VAR = "RESLAB_BUDGET"
DEFAULT = "quick"


@dataclass(frozen=True)
class Budget:
    """Data and iterations for one experiment (``eval_every=None``: once per epoch)."""

    name: str
    train_subset: int | None
    test_subset: int | None
    iterations: int
    eval_every: int | None
    batch_size: int = 128

    def scaled(self, factor: float) -> Budget:
        """The same budget with ``factor`` times the iterations (at least one)."""
        return replace(self, iterations=max(1, round(self.iterations * factor)))


BUDGETS = {
    "smoke": Budget("smoke", train_subset=512, test_subset=256, iterations=8, eval_every=2),
    "quick": Budget("quick", train_subset=10_000, test_subset=2_000, iterations=400,
                    eval_every=40),
    "full": Budget("full", train_subset=None, test_subset=None, iterations=64_000,
                   eval_every=None),
}


def get_budget(name: str | Budget | None = None) -> Budget:
    """The budget called ``name``, or the one ``$RESLAB_BUDGET`` names (default "quick")."""
    if isinstance(name, Budget):
        return name
    name = name or os.environ.get(ENV_VAR, DEFAULT)
    check_choice("budget", name, BUDGETS)
    return BUDGETS[name]
