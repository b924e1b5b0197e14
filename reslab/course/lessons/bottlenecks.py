"""Notebook 03 (``03_bottlenecks``): deeper bottleneck architectures, He et al. 2016.

The experiment trains ResNet-20 (basic blocks) beside a 29-layer net of bottleneck blocks.
Its finding is Sec. 4.1 ("Deeper Bottleneck Architectures") with Table 3: the deeper
bottleneck ResNet-50 (22.85 top-1 error) beats ResNet-34 B (24.52) on ImageNet.
"""
from __future__ import annotations

from reslab.course.lessons.experiment import Result, sweep_nets
from reslab.course.lessons.finding import Finding, lower

NOTEBOOK = "03"
BOTTLENECK = {"resnet20": {}, "resnet29:bottleneck": {"block": "bottleneck"}}


def experiment(budget, seed=0, dataset="auto", out=None, progress=True,
               on_eval=None) -> Result:
    """03: ResNet-20 (basic blocks) beside a 29-layer net of bottleneck blocks."""
    return Result(NOTEBOOK, sweep_nets(list(BOTTLENECK), budget, seed, dataset, out, progress,
                                       BOTTLENECK, on_eval))


def findings(result: Result) -> list[Finding]:
    """The deeper bottleneck net against the shallower basic-block net."""
    return [lower(NOTEBOOK, "the kit's own question: does a 29-layer bottleneck net beat "
                  "ResNet-20 on CIFAR?", "not a finding of the paper: He et al. use "
                  "bottlenecks on ImageNet only (Sec. 4.1, Table 3: ResNet-50 22.85 vs "
                  "ResNet-34 B 24.52 top-1 error, ImageNet)", result.histories,
                  "resnet29:bottleneck", "resnet20")]


AGAINST = {  # claim -> why the kit's runs can answer no
    "the kit's own question: does a 29-layer bottleneck net beat ResNet-20 on CIFAR?":
        "no paper claims it: He et al. ran no CIFAR bottleneck nets. The kit's CIFAR "
        "bottleneck net has 3x3 convs on a quarter of its channels (16/32/64 of 64/128/256), "
        "and the kit has not trained it on the full schedule",
}
