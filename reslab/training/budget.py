"""Budgets: how much data and how many iterations an experiment gets, from one switch.

``RESLAB_BUDGET`` picks one of:

* ``smoke`` -- a few iterations on a few hundred images: checks that everything runs (CI).
* ``quick`` -- the short recipe, the default: 400 iterations on 10,000 images, evaluated on
  1,000 test images every 40 iterations, with a linear warm-up of the learning rate over the
  first 40 iterations. Minutes per net on a laptop CPU; each notebook's default experiment
  takes at most 10 minutes on 2 cores (README, "Course timings").
* ``medium`` -- the kit's longer CPU reference recipe: 2,000 iterations (about 5 epochs) on
  all 50,000 images, evaluated on 2,000 test images every 200 iterations, with the linear
  warm-up over the first 200. 82 minutes for 01's four nets at one thread, for the committed
  reference sets the notebooks draw behind a reader's curves (``scripts/reference_runs.py``).
* ``full``  -- the paper's recipe exactly (He et al. 2016, Sec. 4.2): 64,000 iterations of
  batch 128 on all 50,000 images (about 164 epochs: a GPU), no linear warm-up.

Schedules are relative to the budget (the lr drops at 50% and 75% of the iterations, as 32k and
48k of 64k), so a smaller budget keeps the paper's shape. Notebooks never hard-code sizes.

Why the short recipe warms up: at lr 0.1 from the first step, a 56-layer ResNet's loss jumps
well above chance and then sits at chance (ln 10): in the committed run of notebook 01's
experiment (``results/cpu-quick-instability/``, seed 0, cifar10-jpeg) its mean loss is 6.94
over the first 10 iterations, 2.66 over the next 10 and 2.31-2.34 from iteration 30 to 60. The
paper's full schedule has 64,000 iterations to recover, a 400-iteration budget has not. He et
al. describe a warm-up for their 110-layer net only (lr 0.01 until the training error is below
80%, Sec. 4.2); the short recipe's stand-in at every depth is a linear ramp over the first 40
iterations (notebook 01 shows what it does and does not cure).
:meth:`Budget.deviations` lists, in words, every way a budget differs from the paper.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from reslab.training.recipes import HE2016, deviations
from reslab.validate import check_choice

ENV_VAR = "RESLAB_BUDGET"
DEFAULT = "quick"


@dataclass(frozen=True)
class Budget:
    """Data, iterations and warm-up for one experiment (``eval_every=None``: once per epoch)."""

    name: str
    train_subset: int | None
    test_subset: int | None
    iterations: int
    eval_every: int | None
    batch_size: int = HE2016.batch_size
    linear_warmup: int = 0   # iterations of linear lr warm-up (the paper has none)

    def deviations(self) -> list[str]:
        """Each way this budget differs from the paper's CIFAR-10 recipe, as a phrase."""
        return deviations(self)


BUDGETS = {
    "smoke": Budget("smoke", train_subset=512, test_subset=256, iterations=8, eval_every=2),
    "quick": Budget("quick", train_subset=10_000, test_subset=1_000, iterations=400,
                    eval_every=40, linear_warmup=40),
    "medium": Budget("medium", train_subset=None, test_subset=2_000, iterations=2_000,
                     eval_every=200, linear_warmup=200),
    "full": Budget("full", train_subset=None, test_subset=None, iterations=HE2016.iterations,
                   eval_every=None),
}


def get_budget(name: str | Budget | None = None) -> Budget:
    """The budget called ``name``, or the one ``$RESLAB_BUDGET`` names (default "quick")."""
    if isinstance(name, Budget):
        return name
    if not name and os.environ.get(ENV_VAR):
        name = os.environ[ENV_VAR]
        if name not in BUDGETS:
            raise ValueError(f"{ENV_VAR}={name!r} is not a budget: set it to one of "
                             f"{', '.join(map(repr, BUDGETS))}, or unset it for {DEFAULT!r}")
    name = name or DEFAULT
    check_choice("budget", name, BUDGETS)
    return BUDGETS[name]
