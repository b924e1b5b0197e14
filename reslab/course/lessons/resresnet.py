"""Notebook 05 (``05_resresnet``): residual of residual networks, Gelda et al. 2016.

The experiment trains ResNet and ResResNet (a further shortcut around every stage) at 20 and
56 layers. Its findings are Gelda et al.'s Sec. III.A with the table of Fig. 9 (accuracy):
ResResNet is no better than ResNet (90.05 vs 91.53 at 20 layers, 86.03 vs 92.30 at 56).
"""
from __future__ import annotations

from reslab.course.lessons.experiment import Result, sweep_nets
from reslab.course.lessons.finding import Finding, lower

NOTEBOOK = "05"
RESRES = ["resnet20", "resresnet20", "resnet56", "resresnet56"]


def experiment(budget, seed=0, dataset="auto", out=None, progress=True,
               on_eval=None) -> Result:
    """05: ResNet vs ResResNet (a shortcut around every stage) at 20 and 56 layers."""
    return Result(NOTEBOOK, sweep_nets(RESRES, budget, seed, dataset, out, progress,
                                       on_eval=on_eval))


def findings(result: Result) -> list[Finding]:
    """ResResNet against ResNet at each depth."""
    h, g = result.histories, "Gelda et al. 2016, Fig. 9 (CIFAR-10 accuracy"
    return [lower(NOTEBOOK, "ResResNet-20 is no better than ResNet-20",
                  f"{g}: 90.05 vs 91.53)", h, "resnet20", "resresnet20"),
            lower(NOTEBOOK, "ResResNet-56 is no better than ResNet-56",
                  f"{g}: 86.03 vs 92.30)", h, "resnet56", "resresnet56")]
