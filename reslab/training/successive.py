"""Successive block training (Gelda et al. 2016, Sec. III.B): grow a ResNet one stage at a time.

A 32-layer CIFAR ResNet is trained in three phases. Each partial net is the stem, the stages
added so far and a pooled classifier of its own; the stages keep their weights from phase to
phase, and the final phase trains the whole net. Two orders:

* ``"top-down"``: the input-side stage first (stage 1, then 1-2, then 1-2-3);
* ``"bottom-up"``: the output-side stage first (stage 3, then 2-3, then 1-2-3).

The report's "top" is the input side (Sec. III.B: "the top layers that nearer to the input"),
so Sec. III.B's top-down ("only the top block of the architecture") and Sec. IV's ("only the
first block being present"; bottom-up "just the third block") are the same orders; the two
sections disagree only on which stages stay plastic. ``stage_orders`` offers any other order
explicitly. While a later stage is trained without the earlier ones, a parameter-free adapter
(option A: subsample and zero-pad) gives it the input shape it will have in the full net.

Schedule (relative to the budget, as the report's 50 + 50 + 100 epochs): each partial phase
gets 1/4 of the iterations with lr 0.1 -> 0.01 at 80% (epoch 40 of 50); the full net gets 1/2
with lr 0.1 -> 0.01 -> 0.001 at 40% and 80% (epochs 40 and 80 of 100).
Each phase is a run of its own, so a budget's linear warm-up (quick: 40 iterations) ramps
the lr up from 0 again at the start of every phase; the report restarts at 0.1.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reslab.models.network import StagedNet, classifier
from reslab.models.shortcuts import ZeroPadShortcut
from reslab.training.budget import Budget
from reslab.training.config import config_from
from reslab.training.history import History
from reslab.training.loop import default_folder, fit, prepare_data
from reslab.training.replicas import build_net
from reslab.validate import check_choice

ORDERS = {"top-down": ((0,), (0, 1), (0, 1, 2)), "bottom-up": ((2,), (1, 2), (0, 1, 2))}
PARTIAL_SHARE, PARTIAL_MILESTONES = 0.25, (0.8,)
FINAL_SHARE, FINAL_MILESTONES = 0.5, (0.4, 0.8)


def _stage_out_channels(stage: nn.Module) -> int:
    last = stage[-1]
    return last.conv3.out_channels if hasattr(last, "conv3") else last.conv2.out_channels


def partial_net(full: StagedNet, stages: Sequence[int], num_classes: int) -> StagedNet:
    """The stem and ``stages`` of ``full`` (shared modules, not copies) with a new classifier.

    If the first chosen stage is not the first of the net, an option-A adapter stands in for
    the missing stages' downsampling and widening.
    """
    first = stages[0]
    adapter = []
    if first > 0:
        stem_channels = full.stages[0][0].conv1.in_channels
        wanted = full.stages[first][0].conv1.in_channels
        adapter = [ZeroPadShortcut(stem_channels, wanted, stride=2 ** (first - 1))]
    stem = nn.Sequential(full.stem, *adapter)
    channels = _stage_out_channels(full.stages[stages[-1]])
    return StagedNet(stem, [full.stages[i] for i in stages], classifier(channels, num_classes),
                     full.in_channels, full.input_size)


def check_stage_orders(stage_orders: Sequence[Sequence[int]], num_stages: int = 3
                       ) -> tuple[tuple[int, ...], ...]:
    """``stage_orders`` as tuples, or a ``ValueError`` saying which phase breaks which rule.

    A phase plan (Gelda et al. 2016, Sec. III.B) is a list of phases, each a run of
    consecutive 0-based stage indices; every phase keeps the stages trained before it, and
    the last phase is the full net (all ``num_stages`` stages).
    """
    plan = tuple(tuple(int(i) for i in phase) for phase in stage_orders)
    full = tuple(range(num_stages))
    if not plan or plan[-1] != full:
        raise ValueError(f"the last phase must train the full net, stages {full}; got {plan}")
    for k, phase in enumerate(plan, start=1):
        if not phase or phase != tuple(range(phase[0], phase[0] + len(phase))) or \
                not set(phase) <= set(full):
            raise ValueError(f"phase {k} ({phase}) must be consecutive stages among {full}: "
                             "a partial net cannot skip a stage between two it trains")
        if k > 1 and not set(plan[k - 2]) < set(phase):
            raise ValueError(f"phase {k} ({phase}) must keep phase {k - 1}'s stages "
                             f"{plan[k - 2]} and add at least one")
    return plan


def plan_name(stage_orders: Sequence[Sequence[int]]) -> str:
    """``"bottom-up"``/``"top-down"`` for the report's orders, else e.g. ``"s2-s2+3-s1+2+3"``
    (1-based stage numbers): the run folder of a schedule, so different plans never share."""
    plan = tuple(tuple(phase) for phase in stage_orders)
    for name, phases in ORDERS.items():
        if plan == phases:
            return name
    return "-".join("s" + "+".join(str(i + 1) for i in phase) for phase in plan)


def train_successively(model: str = "resnet32", order: str = "bottom-up",
                       dataset: str = "auto", budget: Budget | str | None = None,
                       out: str | Path | None = None, resume: bool = True,
                       progress: bool = True, stage_orders: Sequence[Sequence[int]] | None = None,
                       on_eval: Callable[[History], None] | None = None,
                       **options: Any) -> dict[str, History]:
    """Train ``model`` phase by phase; returns ``{phase label: History}`` (the last: full net).

    ``budget`` sets the total iterations (1/4 per partial phase, 1/2 for the full net);
    ``stage_orders`` (a phase plan, see :func:`check_stage_orders`) overrides ``order``;
    other ``options`` are :class:`~reslab.training.config.TrainConfig` fields. Each phase has its own
    run folder (``<out>/phase1-stage3`` ...), so a stopped run resumes in the phase it was in.
    ``on_eval`` is called with a phase's history after each evaluation (live curves).
    """
    if stage_orders is None:
        check_choice("order", order, ORDERS)
        stage_orders = ORDERS[order]
    base = config_from(budget, model=model, dataset=dataset, **options)
    data = prepare_data(base)
    full = build_net(base, data)
    stage_orders = check_stage_orders(stage_orders, len(full.stages))
    root = Path(out) if out else default_folder(base, f"{model}-{plan_name(stage_orders)}")
    histories = {}
    for k, stages in enumerate(stage_orders, start=1):
        is_final = k == len(stage_orders)
        share, milestones = (FINAL_SHARE, FINAL_MILESTONES) if is_final else (
            PARTIAL_SHARE, PARTIAL_MILESTONES)
        label = f"phase{k}-stage{'+'.join(str(i + 1) for i in stages)}"
        config = replace(base, milestones=milestones,
                         iterations=max(1, round(base.iterations * share)),
                         model=model if is_final else f"{model}:{label}")
        torch.manual_seed(base.seed + k)  # each partial classifier starts from its own seed
        net = full if is_final else partial_net(full, stages, data.num_classes)
        histories[label] = fit([config], [label], [root / label], data, resume, progress,
                               models=[net], on_eval=on_eval)[0]
    return histories
