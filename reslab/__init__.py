"""reslab: a course and reproduction kit for deep residual networks.

The public API that notebooks and the CLI use::

    import reslab
    model = reslab.build_model("resnet56")           # every name: reslab.list_models()
    reslab.count_params(model), reslab.count_macs(model, (1, 3, 32, 32))
    history = reslab.train("resnet20", dataset="cifar10-jpeg", budget="quick")
    histories = reslab.train_seeds("resnet20", seeds=[0, 1, 2, 3, 4])   # 5 runs as one model

Importing reslab sets ``CUBLAS_WORKSPACE_CONFIG`` (when unset and CUDA has not started yet):
cuBLAS reads it once, at its first use in the process, and a deterministic run needs it
(see :mod:`reslab.training.determinism`). A notebook may then train deterministically after any GPU
work of its earlier cells.
"""
from reslab.training.determinism import fix_cublas_workspace

fix_cublas_workspace(warn=lambda message: None)  # before any cuBLAS work (review defect 14)

from reslab.models.analysis import count_macs, count_params
from reslab.training.budget import Budget, get_budget
from reslab.data import load_dataset
from reslab.training.history import History
from reslab.models import (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck,
                           ProjectionShortcut, StochasticDepth, ZeroPadShortcut, build_model,
                           list_models, make_shortcut, msra_init)

from reslab.training.seeds import train_seeds
from reslab.training.config import TrainConfig
from reslab.training.loop import load_trained, sweep, train

__version__ = "0.1.0"

__all__ = [
    "build_model", "list_models", "count_params", "count_macs", "train", "sweep", "train_seeds",
    "load_trained", "load_dataset",
    "TrainConfig", "History", "Budget", "get_budget", "BasicBlock", "Bottleneck",
    "PreActBlock", "PreActBottleneck", "StochasticDepth", "ZeroPadShortcut",
    "ProjectionShortcut", "make_shortcut", "msra_init",
]
