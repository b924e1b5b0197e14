"""What defines a run: He et al.'s CIFAR recipe as :class:`TrainConfig`'s defaults, the
learning-rate schedule, and how a saved config is compared with a new one.

Defaults are the paper's (Sec. 4.2): SGD with momentum 0.9, weight decay 1e-4, batch 128,
lr 0.1 divided by 10 at 50% and 75% of the iterations (32k and 48k of 64k), and for nets of
110 layers or more lr 0.01 until the training error falls below 80%.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from reslab.training.budget import Budget, get_budget
from reslab.training.recipes import HE2016
from reslab.validate import check_config


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in every checkpoint and history."""

    model: str = "resnet20"
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset: str = "auto"
    train_subset: int | None = None
    test_subset: int | None = None
    validation: bool = False       # evaluate on 5k held out of the training set (45k/5k)
    iterations: int = HE2016.iterations
    batch_size: int = HE2016.batch_size
    lr: float = HE2016.lr
    momentum: float = HE2016.momentum
    weight_decay: float = HE2016.weight_decay
    milestones: tuple[float, ...] = HE2016.milestone_fractions()  # lr drops, fractions of the run
    lr_decay: float = HE2016.lr_decay
    warmup: str = "auto"           # 110-layer rule: "auto" (depth >= 110), "on", "off"
    warmup_lr: float = HE2016.warmup_lr
    warmup_until_error: float = HE2016.warmup_until_error
    warmup_window: int = 50        # iterations whose mean training error the rule reads
    linear_warmup: int = 0         # short recipe: lr rises 0 -> lr over these first iterations
    budget: str = "custom"         # the budget the sizes came from (smoke, quick, medium, full)
    recipe: str = "he2016"         # the paper whose recipe this is (see reslab.training.recipes)
    augment: bool = True
    normalize: str = "pixel"       # per-pixel mean (paper), "channel" mean/std, or "none"
    eval_every: int | None = None  # iterations between evaluations; None: one epoch
    seed: int = 0
    device: str = "auto"
    amp: bool | str | None = None  # autocast: None by device (bf16/fp16/fp32), "bf16", "fp16"
    channels_last: bool | None = None  # None: on (faster on CUDA and on CPUs)
    compile: bool | str = False    # torch.compile the model (a string: its mode; "auto": a rule)
    activation_checkpointing: bool = False  # keep block inputs only, recompute in backward
    deterministic: bool = False    # torch.use_deterministic_algorithms, for this run only
    cuda_graph: bool | None = None  # the whole step as one CUDA graph; None: where it applies
    sync_bn: bool = False          # SyncBatchNorm across torchrun processes (CUDA only)

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

