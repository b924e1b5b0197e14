"""What defines a run, in one place: :class:`TrainConfig`'s fields with He et al.'s CIFAR recipe
as their defaults and a line of help each (the command line's ``--help`` is made from them),
their checks (:func:`check_config`), the learning-rate schedule, and how a saved config is
compared with a new one. The recipe's numbers and how a config or a budget differs from them
(:func:`~reslab.training.recipes.deviations`) are :mod:`reslab.training.recipes`'.

Defaults are the paper's (Sec. 4.2): SGD with momentum 0.9, weight decay 1e-4, batch 128,
lr 0.1 divided by 10 at 50% and 75% of the iterations (32k and 48k of 64k), and for nets of
110 layers or more lr 0.01 until the training error falls below 80%.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from reslab.training.budget import Budget, get_budget
from reslab.training.recipes import HE2016, deviations
from reslab.validate import (COMPILE_MODES, check_choice, check_count, check_number,
                             check_positive_whole, parse_device)


def option(default: Any = MISSING, help: str = "", factory: Any = MISSING) -> Any:
    """A :class:`TrainConfig` field with its one-line help (what ``python -m reslab train
    --help`` says of it)."""
    return field(default=default, default_factory=factory, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in every checkpoint and history."""

    model: str = option("resnet20", "a name from `python -m reslab models`")
    model_options: dict[str, Any] = option(help="options of the model's builder",
                                           factory=dict)
    dataset: str = option("auto", "a dataset name (auto: the best one available)")
    train_subset: int | None = option(None, "train on this many images (default: all)")
    test_subset: int | None = option(None, "evaluate on this many test images (default: all)")
    validation: bool = option(False, "evaluate on 5k images held out of the training set "
                              "(45k/5k)")
    iterations: int = option(HE2016.iterations, "length in iterations")
    batch_size: int = option(HE2016.batch_size, f"images per step (the paper: "
                             f"{HE2016.batch_size})")
    lr: float = option(HE2016.lr, f"initial learning rate (the paper: {HE2016.lr})")
    momentum: float = option(HE2016.momentum, "SGD momentum")
    weight_decay: float = option(HE2016.weight_decay, "L2 weight decay")
    milestones: tuple[float, ...] = option(HE2016.milestone_fractions(),
                                           "lr drops, as fractions of the run")
    lr_decay: float = option(HE2016.lr_decay, "factor of each lr drop")
    warmup: str = option("auto", f"He et al.'s 110-layer rule: lr {HE2016.warmup_lr} until "
                         f"the training error is below {HE2016.warmup_until_error:.0%} "
                         f"(auto: nets of {HE2016.warmup_depth} layers or more)")
    warmup_lr: float = option(HE2016.warmup_lr, "the warm-up rule's learning rate")
    warmup_until_error: float = option(HE2016.warmup_until_error,
                                       "the training error that ends the warm-up")
    warmup_window: int = option(50, "iterations whose mean training error the rule reads")
    linear_warmup: int = option(0, "short recipe: lr rises 0 -> lr over these first "
                                "iterations")
    budget: str = option("custom", "the budget the sizes came from (smoke, quick, medium, "
                         "full)")
    recipe: str = option("he2016", "the paper whose recipe this is (reslab.training.recipes)")
    augment: bool = option(True, "random crops and flips (He et al., Sec. 4.2)")
    normalize: str = option("pixel", "per-pixel mean (the paper), channel mean/std, or none")
    eval_every: int | None = option(None, "iterations between evaluations (default: an "
                                    "epoch)")
    seed: int = option(0, "initial weights, data order and augmentation")
    device: str = option("auto", "cpu, cuda, cuda:1 (default: auto)")
    amp: bool | str | None = option(None, "autocast: None by device (bf16/fp16/fp32), bf16, "
                                    "fp16")
    channels_last: bool | None = option(None, "channels-last memory format (None: on)")
    compile: bool | str = option(False, "torch.compile the model (in Python also a mode name, "
                                 "or auto: a rule)")
    activation_checkpointing: bool = option(False, "store only block inputs, recompute in "
                                            "backward (less memory)")
    deterministic: bool = option(False, "deterministic algorithms only (bitwise-reproducible "
                                 "on CPU)")
    cuda_graph: bool | None = option(None, "the whole step as one CUDA graph (None: where it "
                                     "applies)")
    sync_bn: bool = option(False, "SyncBatchNorm across torchrun processes (CUDA only)")

    def __post_init__(self) -> None:
        self.milestones = tuple(self.milestones)
        check_config(self)  # types, finiteness and ranges; one ValueError line each

    def key(self) -> str:
        """A short hash of the config: default run folders differ when configs differ."""
        blob = json.dumps(asdict(self), sort_keys=True, default=str).encode()
        return hashlib.sha1(blob).hexdigest()[:8]


def config_from(budget: Budget | str | None = None, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` with a budget's data sizes and iterations, then ``overrides``."""
    b = get_budget(budget)
    base = {"train_subset": b.train_subset, "test_subset": b.test_subset,
            "iterations": b.iterations, "eval_every": b.eval_every, "batch_size": b.batch_size,
            "linear_warmup": b.linear_warmup, "budget": b.name}
    names = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown training option {unknown[0]!r}; valid options: "
                         f"{', '.join(sorted(names))}")
    return TrainConfig(**{**base, **overrides})



def check_config(config: TrainConfig) -> None:
    """Types and ranges of a training config's fields: one ``ValueError`` line each."""
    for name in ("lr", "warmup_lr", "lr_decay"):
        check_number(name, getattr(config, name))
    for name in ("momentum", "weight_decay"):
        check_number(name, getattr(config, name), strict=False)
    check_number("warmup_until_error", config.warmup_until_error, strict=False)
    check_count("seed", config.seed, low=0)
    for name in ("train_subset", "test_subset", "eval_every"):
        check_count(name, getattr(config, name), optional=True)
    if config.amp not in (None, True, False, "bf16", "fp16"):
        raise ValueError(f"amp must be True, False, None, 'bf16' or 'fp16' (got {config.amp!r})")
    if config.channels_last not in (None, True, False):
        raise ValueError(f"channels_last must be True, False or None "
                         f"(got {config.channels_last!r})")
    if not (isinstance(config.compile, bool) or config.compile in (*COMPILE_MODES, "auto")):
        raise ValueError(f"compile must be True, False, 'auto' or a torch.compile mode "
                         f"({', '.join(COMPILE_MODES)}); got {config.compile!r}")
    if not isinstance(config.model_options, dict):
        raise ValueError(f"model_options must be a dict of option names to values "
                         f"(got {config.model_options!r})")
    parse_device(config.device)
    for name in ("iterations", "batch_size", "warmup_window"):
        check_positive_whole(name, getattr(config, name))
    if not isinstance(config.linear_warmup, int) or config.linear_warmup < 0:
        raise ValueError(f"linear_warmup is a number of iterations >= 0 "
                         f"(got {config.linear_warmup!r})")
    if not config.lr > 0:
        raise ValueError(f"lr must be positive (got {config.lr!r})")
    if not all(0 < m < 1 for m in config.milestones):
        raise ValueError(f"milestones are fractions of the run in (0, 1), e.g. (0.5, 0.75);"
                         f" got {config.milestones}")
    check_choice("warmup", config.warmup, ("auto", "on", "off"))
    check_choice("normalize", config.normalize, ("pixel", "channel", "none"))


def field_help(name: str) -> str:
    """The one-line help of :class:`TrainConfig`'s field ``name``."""
    return {f.name: f.metadata["help"] for f in fields(TrainConfig)}[name]


def lr_at(config: TrainConfig, step: int, warming: bool) -> float:
    """The learning rate at ``step``.

    He et al.'s warm-up lr while ``warming``; else ``lr`` divided by 10 at each milestone,
    times the short recipe's linear ramp ``(step + 1) / linear_warmup`` in its first steps.
    """
    if warming:
        return config.warmup_lr
    passed = sum(step >= round(m * config.iterations) for m in config.milestones)
    ramp = min(1.0, (step + 1) / config.linear_warmup) if config.linear_warmup else 1.0
    return config.lr * config.lr_decay ** passed * ramp



def config_changes(saved: dict[str, Any], config: TrainConfig) -> list[str]:
    """Fields in which a checkpoint's config differs from ``config``.

    A field that the saved config lacks (written by an older reslab) counts as unchanged when
    ``config`` holds that field's default, so new options do not orphan old runs.
    """
    defaults = json.loads(json.dumps(asdict(TrainConfig())))
    current = json.loads(json.dumps(asdict(config)))
    saved = json.loads(json.dumps(saved))
    return [k for k, v in current.items() if saved.get(k, defaults.get(k)) != v]

