"""Seeds trained together: several runs of one architecture batched as one model.

He et al. 2016 report CIFAR-10 errors as "best (mean +/- std)" over 5 runs (Table 6). The five
runs differ only in their seed: initial weights, data order and augmentation. Here they are
one :class:`~reslab.training.run.Run` of five replicas, trained by the loop every run uses,
whose nets are :class:`~reslab.training.replicas.StackedNets`: the weights of the five nets
are stacked (``torch.func.stack_module_state``) and ``vmap`` runs one forward pass over all of
them, which turns every convolution into a single grouped convolution: one kernel launch for
five nets. That is meant
for GPUs, where a ResNet-20 step is bound by launches (``python -m reslab selftest`` measures
it). On a CPU it does not pay: on the project's 2-core machine (one thread) a step of five
ResNet-20s at batch 128 took 7.4 s batched and 4.3 s one net after another.

Batch normalisation stays per seed: the running statistics are stacked with the weights, and
in training mode each seed's BN normalises with its own batch's statistics and updates its own
running averages (``vmap`` maps the in-place update over the stacked buffers). Each seed has
its own data loader, so seed ``k`` of the batch sees exactly the batches, and starts from
exactly the weights, of ``train(model, seed=k)``; the update is He et al.'s SGD (momentum 0.9,
weight decay 1e-4) with a learning rate per seed (the 110-layer warm-up rule is per seed).

>>> histories = train_seeds("resnet20", seeds=[0, 1, 2, 3, 4], budget="quick")
>>> summary(histories)                      # "8.12 (8.37 +/- 0.19)": best (mean +/- std), %
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from reslab.data import ImageDataset
from reslab.training.budget import Budget
from reslab.training.config import TrainConfig, config_from
from reslab.training.determinism import deterministic
from reslab.training.device import pick_device
from reslab.training.history import History
from reslab.training.loop import prepare_data, progress_bar, run_folder, train_periods
from reslab.training.run import Run
from reslab.training.runlock import hold_run_folders


def check_same_but_seed(configs: Sequence[TrainConfig]) -> None:
    """Seeds trained together are one architecture and one recipe: one line if not."""
    if not configs:
        raise ValueError("train_seeds needs at least one seed")
    for c in configs[1:]:
        if replace(c, seed=configs[0].seed) != configs[0]:
            raise ValueError("seeds trained together differ in their seed only")
    if len({c.seed for c in configs}) < len(configs):
        raise ValueError(f"the seeds must differ (got {[c.seed for c in configs]})")
    if configs[0].compile not in (False, "auto") or configs[0].activation_checkpointing:
        raise ValueError("seeds trained together use neither compile nor activation "
                         "checkpointing")


def seed_run(configs: Sequence[TrainConfig], data: ImageDataset, device: Any,
             folder: Path | None = None) -> Run:
    """One :class:`Run` of ``configs``' seeds (checked by :func:`check_same_but_seed`)."""
    check_same_but_seed(configs)
    return Run(f"{configs[0].model} x {len(configs)} seeds", list(configs), data, device,
               folder)


def train_seeds(model: str = "resnet20", seeds: Sequence[int] = (0, 1, 2, 3, 4),
                dataset: str = "auto", budget: Budget | str | None = None,
                out: str | Path | None | bool = None, resume: bool = True,
                progress: bool = True, data: ImageDataset | None = None,
                **options: Any) -> dict[int, History]:
    """Train ``model`` once per seed, all seeds batched as one model; ``{seed: History}``.

    Seed ``k`` starts from the weights and sees the batches of ``train(model, seed=k)``
    (given the same ``data``; loaded here, subsets are chosen with the first seed). ``out``:
    the folder for the checkpoint and ``history-seed<k>.json`` files (default ``runs/<model>-
    seeds<0-1-...>-<dataset>-<config hash>``; ``False``: nothing on disk). Options are
    :class:`~reslab.training.config.TrainConfig` fields. See :func:`summary`.
    """
    configs = [config_from(budget, model=model, dataset=dataset, seed=s, **options)
               for s in seeds]
    device = pick_device(configs[0].device)
    with deterministic(configs[0].deterministic, device):
        data = data if data is not None else prepare_data(configs[0])
        label = f"{model}-seeds{'-'.join(str(s) for s in seeds)}"
        folder = run_folder(out, configs[0], label)
        with hold_run_folders([folder]):  # one writer per folder, as for a single run
            run = seed_run(configs, data, device, folder)
            if resume and run.resume():
                print(f"reslab: resuming {len(seeds)} seeds at step {run.step:,}")
            train_periods([run], (data.eval_images.to(device), data.eval_labels.to(device)),
                          progress_bar(configs[0].iterations, run.label, progress))
    return {c.seed: h for c, h in zip(configs, run.histories)}


def summary(histories: dict[int, History] | Sequence[History], key: str = "eval_error") -> str:
    """He et al.'s Table 6 format, in %: "best (mean +/- std)" of the final ``key`` over the
    runs (std: the sample standard deviation, n - 1; 0 for a single run)."""
    runs = list(histories.values()) if isinstance(histories, dict) else list(histories)
    finals = [100 * h.last(key) for h in runs]
    std = statistics.stdev(finals) if len(finals) > 1 else 0.0
    return f"{min(finals):.2f} ({statistics.mean(finals):.2f} \u00b1 {std:.2f})"
