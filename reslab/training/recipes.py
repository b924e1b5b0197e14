"""The training recipes of the papers the course compares against: He et al.'s, written once,
and the other papers' as named presets.

:data:`HE2016` is He et al.'s CIFAR-10 recipe (2016, Sec. 4.2), the one copy of its numbers:
:class:`~reslab.training.config.TrainConfig`'s defaults, the ``"he2016"`` preset
and :func:`deviations` all read it.
The other papers trained with their own recipes, so their numbers are comparable with a
learner's run only under the same recipe:

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

from dataclasses import dataclass
from typing import Any

from reslab.validate import check_choice

CIFAR_TRAIN_IMAGES = 50_000
CIFAR_TEST_IMAGES = 10_000


@dataclass(frozen=True)
class CifarRecipe:
    """A CIFAR training recipe: SGD with momentum, a step schedule and a warm-up rule."""

    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    iterations: int
    milestones: tuple[int, ...]     # iterations at which lr is multiplied by ``lr_decay``
    lr_decay: float
    warmup_lr: float                # lr while warming up ...
    warmup_until_error: float       # ... until the training error is below this
    warmup_depth: int               # nets this deep or deeper warm up

    def milestone_fractions(self) -> tuple[float, ...]:
        """The milestones as fractions of the run (32k and 48k of 64k: 0.5 and 0.75)."""
        return tuple(m / self.iterations for m in self.milestones)


# He et al. 2016, Sec. 4.2: "a weight decay of 0.0001 and momentum of 0.9", "a minibatch size of
# 128", "start with a learning rate of 0.1, divide it by 10 at 32k and 48k iterations, and
# terminate training at 64k iterations"; ResNet-110 starts at 0.01 until the training error is
# below 80% (about 400 iterations), then goes back to 0.1.
HE2016 = CifarRecipe(lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=128,
                     iterations=64_000, milestones=(32_000, 48_000), lr_decay=0.1,
                     warmup_lr=0.01, warmup_until_error=0.80, warmup_depth=110)

RECIPES: dict[str, dict[str, Any]] = {
    "he2016": {"iterations": HE2016.iterations, "batch_size": HE2016.batch_size,
               "milestones": HE2016.milestone_fractions()},
    "rir": {"epochs": 82, "batch_size": 500, "milestones": (42 / 82, 62 / 82)},
    "ror": {"epochs": 500, "batch_size": HE2016.batch_size,
            "milestones": (250 / 500, 375 / 500)},
}


def recipe(name: str, train_images: int = CIFAR_TRAIN_IMAGES) -> dict[str, Any]:
    """:class:`~reslab.training.config.TrainConfig` options of the recipe ``name`` for a training set
    of ``train_images`` (epochs become iterations of the recipe's batch size)."""
    check_choice("recipe", name, RECIPES)
    options = dict(RECIPES[name])
    epochs = options.pop("epochs", None)
    if epochs is not None:
        options["iterations"] = round(epochs * train_images / options["batch_size"])
    return {**options, "lr": HE2016.lr, "momentum": HE2016.momentum,
            "weight_decay": HE2016.weight_decay, "recipe": name}


def deviations(recipe: Any) -> list[str]:
    """How ``recipe`` (a :class:`~reslab.training.budget.Budget` or a
    :class:`~reslab.training.config.TrainConfig`) differs from He et al.'s CIFAR-10 recipe
    (:data:`HE2016`, Sec. 4.2) in data, length, batch and warm-up, one phrase each."""
    paper, out = HE2016, []
    if recipe.train_subset is not None:
        out.append(f"{recipe.train_subset:,} of the {CIFAR_TRAIN_IMAGES:,} training images")
    if recipe.test_subset is not None:
        out.append(f"evaluated on {recipe.test_subset:,} of the {CIFAR_TEST_IMAGES:,} test "
                   "images")
    if recipe.iterations != paper.iterations:
        out.append(f"{recipe.iterations:,} iterations instead of {paper.iterations:,} (lr drops "
                   "at the same fractions of the run)")
    if recipe.batch_size != paper.batch_size:
        out.append(f"batch {recipe.batch_size} instead of {paper.batch_size}")
    if recipe.linear_warmup:
        out.append(f"lr warmed up linearly from 0 over the first {recipe.linear_warmup} "
                   f"iterations (the paper: no warm-up below {paper.warmup_depth} layers)")
    return out
