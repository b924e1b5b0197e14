"""The training recipes of the papers the course compares against, as named presets.

He et al.'s CIFAR recipe (Sec. 4.2) is :class:`~reslab.training.config.TrainConfig`'s default. The
other papers trained with their own recipes, so their numbers are comparable with a learner's
run only under the same recipe:

* ``"rir"`` -- Targ et al. 2016, Sec. 4: SGD momentum 0.9, batch 500, L2 1e-4, 82 epochs, lr
  x0.1 after epochs 42 and 62, MSR init. The initial lr came from a grid search and is not
  stated; He et al.'s 0.1 is used.
* ``"ror"`` -- Zhang et al. 2017: 500 epochs of batch 128, lr 0.1 divided by 10 after epochs
  250 and 375, weight decay 1e-4 (SPEC.md, from the paper's experimental settings).
* ``"he2016"`` -- 64,000 iterations of batch 128 (about 164 epochs), lr 0.1 divided by 10 at
  32k and 48k.

>>> reslab.train("rir32", budget="full", **recipe("rir"))
"""
from __future__ import annotations

from typing import Any

from reslab.validate import check_choice

CIFAR_TRAIN_IMAGES = 50_000

RECIPES: dict[str, dict[str, Any]] = {
    "he2016": {"iterations": 64_000, "batch_size": 128, "milestones": (0.5, 0.75)},
    "rir": {"epochs": 82, "batch_size": 500, "milestones": (42 / 82, 62 / 82)},
    "ror": {"epochs": 500, "batch_size": 128, "milestones": (250 / 500, 375 / 500)},
}


def recipe(name: str, train_images: int = CIFAR_TRAIN_IMAGES) -> dict[str, Any]:
    """:class:`~reslab.training.config.TrainConfig` options of the recipe ``name`` for a training set
    of ``train_images`` (epochs become iterations of the recipe's batch size)."""
    check_choice("recipe", name, RECIPES)
    options = dict(RECIPES[name])
    epochs = options.pop("epochs", None)
    if epochs is not None:
        options["iterations"] = round(epochs * train_images / options["batch_size"])
    return {**options, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "recipe": name}
