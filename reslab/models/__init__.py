"""Model families and the pieces they share. See :mod:`reslab.models.registry` for names."""
from reslab.models.blocks import (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck,
                                  StochasticDepth)
from reslab.models.cifar import CifarResNet
from reslab.models.imagenet import ImageNetResNet
from reslab.models.network import StagedNet, linear_survival, msra_init
from reslab.models.preact import PreActResNet
from reslab.models.registry import build_model, list_models, model_spec, register
from reslab.models.shortcuts import ProjectionShortcut, ZeroPadShortcut, make_shortcut

__all__ = [
    "BasicBlock", "Bottleneck", "PreActBlock", "PreActBottleneck", "StochasticDepth",
    "CifarResNet", "ImageNetResNet", "PreActResNet", "StagedNet", "linear_survival",
    "msra_init", "build_model", "list_models", "model_spec", "register",
    "ProjectionShortcut", "ZeroPadShortcut", "make_shortcut",
]
