"""What a diagram needs to know about each model family, in one table.

The drawings read layers, shortcuts and shapes from a traced forward pass
(:mod:`~reslab.course.diagrams.trace`); only four things depend on which family a model
belongs to, and they are all here:

* the size of the dummy image when the model accepts any size (ImageNet nets: 224, He et al.
  2016, Sec. 3.4; CIFAR-style nets: 32, Sec. 4.2);
* whether shortcuts run above the blocks (``model.middle`` and ``model.root``): ResResNet's
  stage shortcuts (Gelda et al. 2016, Sec. III.A) and RoR's levels (Zhang et al. 2017, Fig. 1);
* what a shortcut round one stage is called: "middle" in RoR, "stage" in ResResNet;
* the caption naming the figure of the paper the diagram follows.

:func:`family` looks a model's class up along its MRO, so a subclass (a student's RoR) is
drawn as its parent; any other model is drawn as one of He et al. 2016's.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from reslab.models.imagenet import ImageNetResNet
from reslab.models.multilevel import MultilevelNet
from reslab.models.preact import PreActResNet
from reslab.models.rir import RiRNet
from reslab.models.ror import RoR

# The four nets of Targ et al. 2016, Fig. 2, by ``RiRNet.architecture``.
RIR_NAMES = {"cnn": "CNN", "resnet": "ResNet", "resnet_init": "ResNet Init", "rir": "RiR"}


def _he2016(model: nn.Module) -> str:
    """He et al. 2016's nets (and any other staged net): the paper the registry names."""
    from reslab.models.registry import model_spec
    try:
        paper = model_spec(getattr(model, "reslab_name", "")).paper
    except ValueError:
        paper = "He et al. 2016"
    plain = all(getattr(b, "shortcut", None) is None for s in model.stages for b in s)
    return f"{paper}: stages and tensor shapes{', a plain net (no shortcuts)' if plain else ''}"


def _preact(model: PreActResNet) -> str:
    return ("Wide ResNet (Zagoruyko & Komodakis 2016)" if model.widen_factor > 1 else
            "Pre-ResNet (He et al. 2016b, Identity Mappings)")


def _rir(model: RiRNet) -> str:
    return (f"{RIR_NAMES[model.architecture]}: residual and transient streams "
            "(Targ et al. 2016, Figs. 1-2)")


def _resresnet(model: MultilevelNet) -> str:
    return "ResResNet: a shortcut round every stage (Gelda et al. 2016, Sec. III.A)"


def _ror(model: RoR) -> str:
    levels = {3: "root-, middle- and final-level", 2: "root- and final-level",
              1: "final-level"}[model.levels]
    return f"RoR-{model.levels}: {levels} shortcuts (Zhang et al. 2017, Fig. 1)"


@dataclass(frozen=True)
class Family:
    """How the diagrams treat one model family."""

    caption: Callable[[nn.Module], str]  # what the figure shows, citing the paper's figure
    input_size: int = 32  # the dummy image's side when the model's ``input_size`` is None
    levels: bool = False  # shortcuts above the blocks: ``model.middle`` and ``model.root``
    stage_level: str = "stage"  # the name of the shortcut round each stage


FAMILIES: dict[type[nn.Module], Family] = {
    ImageNetResNet: Family(_he2016, input_size=224),
    PreActResNet: Family(_preact),
    RiRNet: Family(_rir),
    MultilevelNet: Family(_resresnet, levels=True),
    RoR: Family(_ror, levels=True, stage_level="middle"),
}
HE2016 = Family(_he2016)


def family(model: nn.Module) -> Family:
    """The entry of ``FAMILIES`` for the nearest class of ``model`` (else He et al. 2016's)."""
    return next((FAMILIES[c] for c in type(model).__mro__ if c in FAMILIES), HE2016)


def caption(model: nn.Module) -> str:
    """What the diagram of ``model`` shows, and from which paper's figure."""
    return family(model).caption(model)
