"""Seeds trained together: several runs of one architecture batched as one model.

He et al. 2016 report CIFAR-10 errors as "best (mean +/- std)" over 5 runs (Table 6). The five
runs differ only in their seed: initial weights, data order and augmentation. Here they are
trained as one model with ``torch.func``: the weights of the five nets are stacked
(``stack_module_state``) and ``vmap`` runs one forward pass over all of them, which turns every
convolution into a single grouped convolution: one kernel launch for five nets. That is meant
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

import copy
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from reslab.data import ImageDataset, eval_batches
from reslab.models import build_model
from reslab.training import distributed
from reslab.training.budget import Budget
from reslab.training.checkpoint import load_latest, save_checkpoint
from reslab.training.config import TrainConfig, config_from, lr_at
from reslab.training.determinism import deterministic
from reslab.training.device import pick_device
from reslab.training.finite import FiniteWatch, first_nonfinite, named_tensors
from reslab.training.history import History
from reslab.training.loop import make_loader, prepare_data, progress_bar, run_folder
from reslab.training.precision import autocast, autocast_dtype
from reslab.training.run import (check_finite, new_history, period_record, rng_state,
                                 set_rng_state, starts_warming, still_warming, window_images)
from reslab.training.runlock import hold_run_folders


class SeedBatch:
    """``len(configs)`` runs of one architecture, one per config's seed, as one model."""

    def __init__(self, configs: Sequence[TrainConfig], data: ImageDataset,
                 device: torch.device, folder: Path | None = None) -> None:
        _check_same_but_seed(configs)
        self.configs, self.device, self.folder = list(configs), device, folder
        self.base = configs[0]
        self.build_options = {"num_classes": data.num_classes,
                              "in_channels": data.in_channels, **self.base.model_options}
        models = [self._build(c.seed) for c in configs]
        self.params, self.buffers = stack_module_state(models)
        self.template = copy.deepcopy(models[0]).to("meta")  # the architecture, no storage
        self.momentum: dict[str, torch.Tensor] = {}
        self._lrs: torch.Tensor | None = None      # per-seed learning rates, on the device
        self._lrs_host: list[float] | None = None  # what they hold, to copy only on change
        self._lr_views: list[torch.Tensor] = []
        self.loaders = [make_loader(c, data, device, distributed.Process(), False) for c in configs]
        dtype = autocast_dtype(device, self.base.amp)
        self.amp_dtype = None if dtype is torch.float16 else dtype  # no gradient scaler here
        self.step = 0
        self.warming = [starts_warming(c, models[0]) for c in configs]
        self.histories = [new_history(f"{c.model}-seed{c.seed}", c, data, device,
                                      self.amp_dtype, world_size=1,
                                      trained_together=len(configs), folder=None)
                          for c in configs]
        zeros = lambda: torch.zeros(len(configs), device=device)  # noqa: E731
        self._loss, self._errors, self._window_errors = zeros(), zeros(), zeros()
        self._seen, self._window_seen, self._start = 0, 0, time.perf_counter()
        self._watch = FiniteWatch(device)  # as a single run's: the first non-finite step
        self._step_t = torch.zeros((), dtype=torch.long, device=device)

    def _build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)  # as Run does: the same initial weights as a solo run
        return build_model(self.base.model, **self.build_options).to(self.device)

    def model(self, k: int) -> nn.Module:
        """Seed ``k``'s net (by position) as an ordinary module, in eval mode."""
        net = build_model(self.base.model, **self.build_options)
        state = {name: t[k].detach().clone() for name, t in {**self.params,
                                                                **self.buffers}.items()}
        net.load_state_dict(state)
        return net.eval()

    def forward(self, x: torch.Tensor, x_dim: int | None = 0) -> torch.Tensor:
        """Every seed's logits: ``x`` is (seeds, B, C, H, W), or (B, C, H, W) shared
        (``x_dim=None``); returns (seeds, B, classes)."""
        def one(params, buffers, images):
            return functional_call(self.template, (params, buffers), (images,))
        return vmap(one, in_dims=(0, 0, x_dim), randomness="different")(
            self.params, self.buffers, x)

    def train_step(self) -> None:
        """One SGD step of every seed, each on its own loader's batch of this step."""
        self.template.train()
        batches = [loader.batch(self.step) for loader in self.loaders]
        x, y = torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])
        with autocast(self.device, self.amp_dtype):
            logits = self.forward(x)
        losses = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(),
                                 reduction="none").view(y.shape).mean(1)
        grads = torch.autograd.grad(losses.sum(), list(self.params.values()))
        self._update(grads)
        wrong = (logits.argmax(2) != y).sum(1).float()
        self._loss += losses.detach() * y.shape[1]
        self._errors += wrong
        self._window_errors += wrong
        self._step_t += 1
        self._watch.observe(losses, self._step_t)  # on the device; read at each evaluation
        self._seen += y.shape[1]
        self.step += 1
        if any(self.warming):
            self._check_warmup(y.shape[1])

    @torch.no_grad()
    def _update(self, grads: Sequence[torch.Tensor]) -> None:
        """SGD with momentum and weight decay, as ``torch.optim.SGD`` (dampening 0), with a
        learning rate per seed: ``buf = m * buf + (g + wd * w)``; ``w -= lr_k * buf``.

        A handful of ``torch._foreach_*`` calls for all parameters (as ``torch.optim`` does),
        not several operators per parameter from Python; the per-seed learning rates live in
        a device tensor that is written only when one of them changes.
        """
        c = self.base
        self.last_lrs = [lr_at(cfg, self.step, warm)
                         for cfg, warm in zip(self.configs, self.warming)]
        lr_views = self._learning_rates(self.last_lrs)
        params = list(self.params.values())
        d_p = torch._foreach_add(list(grads), params, alpha=c.weight_decay)
        if not self.momentum:
            self.momentum = {name: t.clone() for name, t in zip(self.params, d_p)}
        else:
            bufs = list(self.momentum.values())
            torch._foreach_mul_(bufs, c.momentum)
            torch._foreach_add_(bufs, d_p)
        torch._foreach_addcmul_(params, list(self.momentum.values()), lr_views, value=-1)

    def _learning_rates(self, lrs: list[float]) -> list[torch.Tensor]:
        """The seeds' learning rates as one device tensor, viewed to broadcast against each
        parameter; copied to the device only when they change (at a milestone, a ramp step
        or the end of the warm-up), so a constant-lr step makes no host-to-device copy."""
        if self._lrs_host != lrs:
            values = torch.tensor(lrs, dtype=torch.float32)
            if self._lrs is None:
                self._lrs = values.to(self.device)
                self._lr_views = [self._lrs.view(-1, *[1] * (w.dim() - 1))
                                  for w in self.params.values()]
            else:
                self._lrs.copy_(values, non_blocking=True)
            self._lrs_host = list(lrs)
        return self._lr_views

    def _check_warmup(self, n: int) -> None:
        """He et al.'s 110-layer rule per seed, as a single run applies it
        (:func:`reslab.training.run.still_warming`)."""
        self._window_seen += n
        if self._window_seen >= window_images(self.base):
            errors = self._window_errors.tolist()
            self.warming = [w and still_warming(self.base, e, self._window_seen)
                            for w, e in zip(self.warming, errors)]
            self._window_errors.zero_()
            self._window_seen = 0

    @torch.no_grad()
    def evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> list[tuple[float, float]]:
        """Each seed's loss and error on the evaluation images."""
        self.template.eval()
        totals = torch.zeros(2, len(self.configs), device=self.device)
        for x, y in eval_batches(images, labels, self.loaders[0]):
            with autocast(self.device, self.amp_dtype):
                logits = self.forward(x, x_dim=None).float()
            for k in range(len(self.configs)):
                totals[0, k] += F.cross_entropy(logits[k], y, reduction="sum")
            totals[1] += (logits.argmax(2) != y).sum(1)
        return [(loss / len(labels), err / len(labels)) for loss, err in totals.T.tolist()]

    def end_period(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Record every seed's period (training and evaluation), then checkpoint."""
        seconds = time.perf_counter() - self._start
        train = (torch.stack([self._loss, self._errors]) / max(self._seen, 1)).T.tolist()
        self._check_finite([loss for loss, _ in train])
        evaluated = self.evaluate(images, labels)
        for k, history in enumerate(self.histories):
            history.records.append(period_record(
                self.step, self.loaders[0].steps_per_epoch, self.last_lrs[k], train[k][0],
                train[k][1], evaluated[k][0], evaluated[k][1], seconds, self._seen))
            history.meta["wall_seconds"] = history.meta.get("wall_seconds", 0) + seconds
        self.save()
        self._loss.zero_()
        self._errors.zero_()
        self._seen, self._start = 0, time.perf_counter()

    def _check_finite(self, train_losses: list[float]) -> None:
        """A single run's check (:func:`reslab.training.run.check_finite`) over every seed:
        a NaN/inf loss at any step, or a weight, BN statistic or momentum buffer."""
        history = self.histories[0]
        since = history.last("step") if history.records else 0
        state = {"params": self.params, "buffers": self.buffers, "momentum": self.momentum}
        label = f"{self.base.model} x {len(self.configs)} seeds"
        check_finite(label, self._watch, train_losses, self.step, since,
                     lambda: first_nonfinite(named_tensors(state)), self.folder)

    def state_dict(self) -> dict[str, Any]:
        return {"reslab_checkpoint": 1, "kind": "seeds", "step": self.step,
                "configs": [asdict(c) for c in self.configs], "warming": self.warming,
                "params": self.params, "buffers": self.buffers, "momentum": self.momentum,
                "histories": [asdict(h) for h in self.histories],
                "rng": rng_state(self.device)}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        for mine, saved in ((self.params, state["params"]), (self.buffers, state["buffers"])):
            for name, tensor in mine.items():
                tensor.copy_(saved[name])
        self.momentum = {k: v.to(self.device) for k, v in state["momentum"].items()}
        self.step, self.warming = state["step"], state["warming"]
        self._step_t.fill_(self.step)
        self.histories = [History(**h) for h in state["histories"]]
        set_rng_state(state["rng"], self.device)

    def save(self) -> None:
        """Checkpoint (atomic) and one ``history-seed<k>.json`` per seed, in ``folder``."""
        if self.folder is None:
            return
        save_checkpoint(self.folder, self.state_dict())
        for config, history in zip(self.configs, self.histories):
            history.save(self.folder / f"history-seed{config.seed}.json")

    def resume(self) -> bool:
        """Continue from ``folder``'s checkpoint, if any; refuses different configs."""
        state = load_latest(self.folder, map_location="cpu") if self.folder else None
        if state is None:
            return False
        if state.get("kind") != "seeds" or state["configs"] != [asdict(c) for c in
                                                                 self.configs]:
            raise ValueError(f"{self.folder} holds another run; use another output folder")
        self.load_state_dict(state)
        return True


def _check_same_but_seed(configs: Sequence[TrainConfig]) -> None:
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
            batch = SeedBatch(configs, data, device, folder)
            if resume and batch.resume():
                print(f"reslab: resuming {len(seeds)} seeds at step {batch.step:,}")
            _train(batch, data.eval_images.to(device), data.eval_labels.to(device), progress)
    return {c.seed: h for c, h in zip(configs, batch.histories)}


def _train(batch: SeedBatch, images: torch.Tensor, labels: torch.Tensor,
           progress: bool) -> None:
    base = batch.base
    every = base.eval_every or batch.loaders[0].steps_per_epoch
    desc = f"{base.model} x {len(batch.configs)} seeds"
    with progress_bar(base.iterations, desc, progress) as bar:
        bar.update(batch.step)
        while batch.step < base.iterations:
            batch.train_step()
            bar.update(1)
            if batch.step % every == 0 or batch.step == base.iterations:
                batch.end_period(images, labels)


def summary(histories: dict[int, History] | Sequence[History], key: str = "eval_error") -> str:
    """He et al.'s Table 6 format, in %: "best (mean +/- std)" of the final ``key`` over the
    runs (std: the sample standard deviation, n - 1; 0 for a single run)."""
    runs = list(histories.values()) if isinstance(histories, dict) else list(histories)
    finals = [100 * h.last(key) for h in runs]
    std = statistics.stdev(finals) if len(finals) > 1 else 0.0
    return f"{min(finals):.2f} ({statistics.mean(finals):.2f} \u00b1 {std:.2f})"
