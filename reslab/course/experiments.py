"""Each notebook's default experiment, as one function: what the notebook trains and measures.

A notebook cell calls ``experiments.run("01")``; ``python -m reslab findings`` calls the same
functions for several seeds and reads the papers' findings off the results
(:mod:`reslab.course.findings`). Nets that two notebooks share (ResNet-20 in 00, 01, 02, 04, 05) have
the same config, so a later notebook reuses the earlier run instead of training it again.

Default experiments on the ``quick`` budget (the short recipe of :mod:`reslab.training.budget`):

====  ===============================================================  ==================
 nb    trains                                                           measures
====  ===============================================================  ==================
 01    plain-20, plain-56, ResNet-20, ResNet-56 (He et al. Fig. 6)      training error
 02    ResNet-20 with options A, B, C and plain-20 (cf. Table 3)        test error
 03    ResNet-20 and a 29-layer bottleneck net (Sec. 4.1)               test error
 04    01's four nets (reused)                                          Fig. 7 response std
 05    ResNet and ResResNet at 20 and 56 layers (Gelda et al. Fig. 9)   test error
 06    CNN, ResNet, ResNet Init, RiR, 32 layers (Targ et al. Table 3)   test error, Fig. 3
 07    RoR-m (m = 1, 2, 3) and RoR-3 + SD, 32 layers (Zhang et al.)     test error, gap
 08    ResNet-32 grown bottom-up, top-down, and trained at once         test error
====  ===============================================================  ==================
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reslab.training.budget import Budget
from reslab.training.history import History
from reslab.training.loop import sweep


@dataclass
class Result:
    """What one experiment produced: its runs, and measurements taken from trained models."""

    notebook: str
    histories: dict[str, History]
    measurements: dict[str, Any] = field(default_factory=dict)


def _sweep(models: list[str], budget, seed, dataset, out, progress, model_options=None,
           on_eval=None, **options) -> dict[str, History]:
    return sweep(models, dataset=dataset, budget=budget, out=out, seed=seed, progress=progress,
                 model_options=model_options, on_eval=on_eval, **options)


DEGRADATION = ["plain20", "plain56", "resnet20", "resnet56"]
SHORTCUTS = {"resnet20": {}, "resnet20:B": {"shortcut": "B"}, "resnet20:C": {"shortcut": "C"},
             "plain20": {}}
BOTTLENECK = {"resnet20": {}, "resnet29:bottleneck": {"block": "bottleneck"}}
RESRES = ["resnet20", "resresnet20", "resnet56", "resresnet56"]
RIR = ["cnn32", "rir_resnet32", "resnet_init32", "rir32"]
ROR = {"ror:m1": {"levels": 1}, "ror:m2": {"levels": 2}, "ror:m3": {"levels": 3},
       "ror:m3+SD": {"levels": 3, "stochastic_depth": 0.5}}
ROR_DEPTH = 32


def degradation(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None,
                models: list[str] | None = None, model_options: dict | None = None,
                **options: Any) -> Result:
    """01: plain and residual nets of 20 and 56 layers, trained in lockstep (``models``,
    ``model_options`` and training ``options`` such as ``lr`` change the experiment)."""
    return Result("01", _sweep(models or DEGRADATION, budget, seed, dataset, out, progress,
                               model_options, on_eval, **options))


def shortcuts(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None) -> Result:
    """02: ResNet-20 with option A (the default), B and C, beside plain-20."""
    return Result("02", _sweep(list(SHORTCUTS), budget, seed, dataset, out, progress,
                               SHORTCUTS, on_eval))


def bottlenecks(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None) -> Result:
    """03: ResNet-20 (basic blocks) beside a 29-layer net of bottleneck blocks."""
    return Result("03", _sweep(list(BOTTLENECK), budget, seed, dataset, out, progress,
                               BOTTLENECK, on_eval))


def responses(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None,
              models: list[str] | None = None) -> Result:
    """04: He et al.'s Fig. 7 -- the std of every 3x3 layer's response in 01's trained nets."""
    from reslab.models.analysis import layer_responses
    from reslab.training.loop import load_trained

    histories = _sweep(models or DEGRADATION, budget, seed, dataset, out, progress,
                       on_eval=on_eval)
    images, _ = eval_images(next(iter(histories.values())))
    measured = {k: layer_responses(load_trained(h), images) for k, h in histories.items()}
    return Result("04", histories, {"responses": measured})


def resresnet(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None) -> Result:
    """05: ResNet vs ResResNet (a shortcut around every stage) at 20 and 56 layers."""
    return Result("05", _sweep(RESRES, budget, seed, dataset, out, progress, on_eval=on_eval))


def rir(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None) -> Result:
    """06: Targ et al.'s four 32-layer nets, and the stream ablation of the ResNet Init net."""
    from reslab.models.analysis import stream_ablation
    from reslab.training.loop import load_trained

    histories = _sweep(RIR, budget, seed, dataset, out, progress, on_eval=on_eval)
    images, labels = eval_images(histories["resnet_init32"])
    ablation = stream_ablation(load_trained(histories["resnet_init32"]), images, labels)
    return Result("06", histories, {"ablation": ablation})


def ror(budget, seed=0, dataset="auto", out=None, progress=True, on_eval=None) -> Result:
    """07: RoR with 1, 2 and 3 shortcut levels, and RoR-3 with stochastic depth (p_L = 0.5)."""
    options = {k: {"depth": ROR_DEPTH, **v} for k, v in ROR.items()}
    return Result("07", _sweep(list(ROR), budget, seed, dataset, out, progress, options,
                               on_eval))


def successive(budget, seed=0, dataset="auto", out=None, progress=True,
               on_eval=None) -> Result:
    """08: ResNet-32 grown stage by stage, bottom-up and top-down, and trained at once."""
    from reslab.training.successive import train_successively

    phases = {}
    for order in ("bottom-up", "top-down"):
        folder = Path(out) / f"resnet32-{order}" if out else None
        phases[order] = train_successively("resnet32", order, dataset=dataset, budget=budget,
                                           out=folder, progress=progress, seed=seed)
    at_once = _sweep(["resnet32"], budget, seed, dataset, out, progress, on_eval=on_eval)
    histories = {f"{order}:{label}": h for order, runs in phases.items()
                 for label, h in runs.items()}
    return Result("08", {**histories, **at_once}, {"phases": phases})


CURES = {  # label -> TrainConfig options: ResNet-56 at a constant lr 0.1, or with a cure
    "lr 0.1, no warm-up": {},
    "linear warm-up (the short recipe)": {"linear_warmup": True},
    "He et al.'s rule: lr 0.01 until error < 80%": {"warmup": "on"},
    "zero-gamma init, no warm-up": {},
}


def instability(budget, seed=0, dataset="auto", iterations: int | None = None,
                zero_gamma: Callable | None = None, progress=True) -> Result:
    """01: ResNet-56's first steps at lr 0.1 (no schedule), without and with each cure.

    ``iterations``: 60 (the budget's own on ``smoke``); the linear warm-up lasts its first
    two thirds (40 of 60, as in the quick recipe) and He et al.'s rule reads 10-iteration
    windows. ``zero_gamma`` is a function that makes a built model's blocks start as
    identities (the reader's answer to 01's Exercise 1); by default the model option
    ``zero_gamma=True``. Evaluated every 10 iterations on 500 test images.
    """
    import torch

    from reslab.training.budget import get_budget
    from reslab.models import build_model
    from reslab.training.config import config_from
    from reslab.training.loop import default_folder, fit, prepare_data

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
                                   model_options=model_options,
                                   **{**options, "linear_warmup": ramp}))
        models.append(None)
    data = prepare_data(configs[0])
    if zero_gamma is not None:
        torch.manual_seed(seed)
        models[-1] = zero_gamma(build_model("resnet56", num_classes=data.num_classes,
                                            in_channels=data.in_channels))
    labels = list(CURES)
    folders = [default_folder(c, f"resnet56-cure{i}") for i, c in enumerate(configs)]
    resume = zero_gamma is None  # a reader's own init function is trained afresh
    histories = fit(configs, labels, folders, data, resume, progress, models=models)
    return Result("01", dict(zip(labels, histories)))


EXPERIMENTS: dict[str, Callable[..., Result]] = {
    "01": degradation, "02": shortcuts, "03": bottlenecks, "04": responses, "05": resresnet,
    "06": rir, "07": ror, "08": successive}


def run(notebook: str, budget: Budget | str | None = None, seed: int = 0,
        dataset: str = "auto", out: str | Path | None = None, progress: bool = True,
        **kwargs: Any) -> Result:
    """Run notebook ``notebook``'s default experiment ("01" ... "08")."""
    if notebook not in EXPERIMENTS:
        raise ValueError(f"no default experiment for notebook {notebook!r}; choose one of "
                         f"{', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[notebook](budget, seed=seed, dataset=dataset, out=out,
                                 progress=progress, **kwargs)


def eval_images(history: History):
    """The normalised evaluation images and labels a run was evaluated on."""
    from reslab.training.config import TrainConfig
    from reslab.training.loop import prepare_data

    config = TrainConfig(**history.config)
    data = prepare_data(config, verbose=False)
    return data.normalised_eval(config.normalize), data.eval_labels
