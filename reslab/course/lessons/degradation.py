"""Notebook 01 (``01_degradation``): the degradation problem, He et al. 2016.

The experiment trains plain-20, plain-56, ResNet-20 and ResNet-56 in lockstep. Its findings
are Fig. 1 and Fig. 6 (left: deeper plain nets train worse; middle: ResNets do not, and gain
with depth) and Sec. 4.2 with footnote 5 (only ResNet-110 needs a warm-up; at lr 0.1 it "starts
converging (<90% error)" after several epochs). :func:`instability` is the notebook's warm-up
demo: ResNet-56's first steps at lr 0.1, without and with each cure.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reslab.course.lessons.experiment import Result, sweep_nets
from reslab.course.lessons.finding import Finding, chance_share, lower

NOTEBOOK = "01"
DEGRADATION = ["plain20", "plain56", "resnet20", "resnet56"]


def experiment(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None,
               models: list[str] | None = None, model_options: dict | None = None,
               **options: Any) -> Result:
    """01: plain and residual nets of 20 and 56 layers, trained in lockstep (``models``,
    ``model_options`` and training ``options`` such as ``lr`` change the experiment)."""
    return Result(NOTEBOOK, sweep_nets(models or DEGRADATION, budget, seed, dataset, out,
                                       progress, model_options, on_eval, **options))


START_CONVERGING = ("He et al. 2016, Sec. 4.2 and footnote 5 (CIFAR-10): a warm-up is "
                    "described for ResNet-110 only; "
                    "at lr 0.1 it \"starts converging (<90% error) after several epochs\"")


def findings(result: Result) -> list[Finding]:
    """He et al.'s Fig. 1 and Fig. 6 comparisons, and whether the ResNets leave chance at once."""
    h, fig6 = result.histories, "He et al. 2016, Fig. 6"   # Fig. 1 shows plain nets only
    both = f"{fig6} (left and middle, CIFAR-10)"
    out = [lower(NOTEBOOK, "plain-56 trains worse than plain-20 (degradation)",
                 "He et al. 2016, Fig. 1 and Fig. 6 (left, CIFAR-10)", h, "plain20", "plain56",
                 "train_error"),
           lower(NOTEBOOK, "ResNet-56 trains better than plain-56", both, h, "resnet56",
                 "plain56", "train_error"),
           lower(NOTEBOOK, "ResNet-20 trains better than plain-20", both, h, "resnet20",
                 "plain20", "train_error"),
           lower(NOTEBOOK, "ResNet-56 trains better than ResNet-20", f"{fig6} (middle, CIFAR-10)", h,
                 "resnet56", "resnet20", "train_error")]
    for net in ("resnet20", "resnet56"):
        share = chance_share(h[net])
        out.append(Finding(NOTEBOOK, f"{net} starts converging at once (below chance at every "
                           "evaluation)", START_CONVERGING,
                           f"share of {net}'s evaluations at or above chance (loss >= "
                           "ln 10 - 0.05 or error >= 90%)", round(share, 2), share == 0))
    return out


AGAINST = {  # claim -> why a short run can come out against the paper
    "ResNet-56 trains better than ResNet-20":
        "budget: Fig. 6 compares the nets after 64,000 iterations; a short run stops while the "
        "deeper ResNet is still behind. The fully trained nets (a public reproduction) order "
        "by depth as the paper does",
    "resnet20 starts converging at once (below chance at every evaluation)":
        "budget: the short recipe ramps the lr up from 0, and its first evaluation comes at "
        "the end of that ramp, where a net that has not yet left chance counts against the row",
    "resnet56 starts converging at once (below chance at every evaluation)":
        "budget: the short recipe ramps the lr up from 0, and its first evaluation comes at "
        "the end of that ramp, where a net that has not yet left chance counts against the row",
}

CURES = {  # label -> TrainConfig options: ResNet-56 at a constant lr 0.1, or with a cure
    "lr 0.1, no warm-up": {},
    "linear warm-up (the short recipe)": {"linear_warmup": True},
    "He et al.'s rule: lr 0.01 until error < 80%": {"warmup": "on"},
    "zero-gamma init, no warm-up": {},
}


def instability(budget, seed=0, dataset="auto", iterations: int | None = None,
                zero_gamma: Callable | None = None, progress=True,
                amp: bool | str | None = None) -> Result:
    """01: ResNet-56's first steps at lr 0.1 (no schedule), without and with each cure.

    ``iterations``: 60 (the budget's own on ``smoke``); the linear warm-up lasts its first
    two thirds (40 of 60, as in the quick recipe) and He et al.'s rule reads 10-iteration
    windows. ``zero_gamma`` is a function that makes a built model's blocks start as
    identities (the reader's answer to 01's Exercise 1); by default the model option
    ``zero_gamma=True``. Evaluated every 10 iterations on 500 test images. ``amp``: the
    precision (``False``: fp32; ``None``: the device's default, bf16 where it is native).
    """
    from reslab.training.budget import get_budget
    from reslab.training.config import config_from
    from reslab.training.loop import default_folder, fit, prepare_data
    from reslab.training.replicas import build_net

    b = get_budget(budget)
    iterations = iterations or (b.iterations if b.name == "smoke" else 60)
    configs, models = [], []
    for label, options in CURES.items():
        zero = label.startswith("zero-gamma")
        model_options = {"zero_gamma": True} if zero and zero_gamma is None else {}
        ramp = round(iterations * 2 / 3) if options.get("linear_warmup") else 0
        configs.append(config_from(b, model="resnet56", dataset=dataset, seed=seed,
                                   iterations=iterations, eval_every=min(10, iterations),
                                   test_subset=500, milestones=(), warmup_window=10,
                                   model_options=model_options, amp=amp,
                                   **{**options, "linear_warmup": ramp}))
        models.append(None)
    data = prepare_data(configs[0])
    if zero_gamma is not None:
        models[-1] = zero_gamma(build_net(configs[-1], data))
    labels = list(CURES)
    folders = [default_folder(c, f"resnet56-cure{i}") for i, c in enumerate(configs)]
    resume = zero_gamma is None  # a reader's own init function is trained afresh
    histories = fit(configs, labels, folders, data, resume, progress, models=models)
    return Result(NOTEBOOK, dict(zip(labels, histories)))
