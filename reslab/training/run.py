"""One model in training (:class:`Run`): the step, its records, the finiteness watch, the
110-layer warm-up, and the state a checkpoint keeps.

Runs are checkpointed at every evaluation; data order and augmentation are functions of the
step, so a run killed anywhere and resumed ends with the same weights as one never stopped.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from reslab.data import DeviceLoader, ImageDataset, eval_batches
from reslab.models import build_model
from reslab.training import distributed
from reslab.training.activation_checkpointing import set_activation_checkpointing
from reslab.training.budget import deviations
from reslab.training.checkpoint import describe_last_good, load_latest, save_checkpoint
from reslab.training.compilation import choose as choose_compile
from reslab.training.compilation import compiled, uses_cuda_graphs
from reslab.training.config import TrainConfig, config_changes, lr_at
from reslab.training.determinism import deterministic_pooling
from reslab.training.device import device_name
from reslab.training.finite import FiniteWatch, first_nonfinite_state
from reslab.training.history import History
from reslab.training.precision import autocast, autocast_dtype, grad_scaler
from reslab.training.recipes import HE2016


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""



def _sgd(model: torch.nn.Module, config: TrainConfig, device: torch.device):
    kwargs = {"fused": True} if device.type == "cuda" else {"foreach": True}
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, **kwargs)


class Run:
    """One model in training: model, optimiser, schedule position, metrics and history.

    Metrics accumulate in device tensors; the host reads them only at evaluations (and once
    per ``warmup_window`` during the 110-layer warm-up), so the step loop never waits.
    """

    def __init__(self, label: str, config: TrainConfig, data: ImageDataset,
                 device: torch.device, folder: Path | None,
                 process: distributed.Process = distributed.Process(),
                 model: torch.nn.Module | None = None) -> None:
        self.label, self.config, self.device, self.folder = label, config, device, folder
        self.process = process
        torch.manual_seed(config.seed)  # same initial weights alone or in a sweep
        self.build_options = {"num_classes": data.num_classes, "in_channels": data.in_channels,
                              **config.model_options}
        if model is None:  # a prebuilt model (successive training's partial nets) is kept
            model = build_model(config.model, **self.build_options)
        model = distributed.sync_batch_norm(model, process, device, config.sync_bn)
        if config.deterministic and device.type == "cuda":
            deterministic_pooling(model)  # AdaptiveAvgPool2d's CUDA backward is not
        self.model = model.to(device)
        if config.activation_checkpointing:
            set_activation_checkpointing(self.model)
        # channels-last helps on CUDA and (about 10%) with oneDNN on CPUs; on by default
        self.channels_last = True if config.channels_last is None else config.channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = _sgd(self.model, config, device)
        self.forward = distributed.wrap(self.model, process, device)
        if self.compile:
            self.forward = compiled(self.forward, self.compile)
        self.amp_dtype = autocast_dtype(device, config.amp)
        self.scaler = grad_scaler(device, self.amp_dtype)  # fp16 only
        self.whole_step = None  # a fastpath.WholeStep, set by reslab.training.fastpath.attach
        self.step = 0
        self.warming = starts_warming(config, self.model)
        self.history = new_history(label, config, data, device, self.amp_dtype,
                                   world_size=process.world_size,
                                   folder=str(folder) if folder else None)
        # device sums, made once and zeroed in place (a CUDA graph keeps their addresses)
        self._loss, self._errors, self._window_errors = (
            torch.zeros((), device=device) for _ in range(3))
        self._window_seen = 0
        self._watch = FiniteWatch(device)  # the first non-finite loss, kept on the device
        self._in_train_mode = False        # model.train() is called only when this changes
        self._step_t = torch.zeros((), dtype=torch.long, device=device)  # the step, on device
        self.reset_metrics()

    def reset_metrics(self) -> None:
        """Start a new period: zero the training sums (in place) and restart its clock."""
        self._loss.zero_()
        self._errors.zero_()
        self._seen = 0
        self._period_start = time.perf_counter()

    def period_loss(self) -> float:
        """The mean training loss of the steps since the last :meth:`reset_metrics` (reads
        the device once)."""
        return self._loss.item() / max(self._seen, 1)

    def step_tensors(self) -> dict[str, torch.Tensor]:
        """Every device tensor a training step writes, besides the optimiser's state: weights,
        buffers (BN statistics), the metric sums, the step counter on the device and the
        finiteness watch. The whole-step graph saves and restores these around its warm-up,
        and compares them between a replay and an eager step."""
        tensors = {f"model.{n}": t for n, t in self.model.named_parameters()}
        tensors.update({f"model.{n}": t for n, t in self.model.named_buffers()})
        tensors.update({"train loss sum": self._loss, "training errors": self._errors,
                        "warm-up window errors": self._window_errors,
                        "step counter": self._step_t, "first non-finite step": self._watch.tensor})
        return tensors

    @property
    def uses_cuda_graphs(self) -> bool:
        """Whether this run replays CUDA graphs (its whole step, or compiled in such a mode)."""
        return self.device.type == "cuda" and (
            self.whole_step is not None or uses_cuda_graphs(self.compile))

    @property
    def compile(self) -> bool | str:
        """The compile setting this run uses (``"auto"`` resolved, see
        :func:`reslab.training.compilation.choose`)."""
        return choose_compile(self.config.compile, self.device, self.config.iterations)

    @property
    def shares_graph_pool(self) -> bool:
        """Whether this run's CUDA graphs come from torch.compile, whose graphs share one
        memory pool per device (so they may not replay on separate streams)."""
        return self.device.type == "cuda" and uses_cuda_graphs(self.compile)

    @property
    def trained_this_period(self) -> bool:
        return self._seen > 0

    def _autocast(self):
        return autocast(self.device, self.amp_dtype)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One SGD step on batch ``(x, y)``; the learning rate follows :func:`lr_at`."""
        self.begin_step()
        self.sgd_step(x, y)
        self.end_step(len(y))

    def begin_step(self) -> None:
        """The host's part before a step: set the learning rate (in place when it is a device
        tensor), and train mode when an evaluation left the model in eval mode."""
        lr = self.last_lr = lr_at(self.config, self.step, self.warming)
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        if not self._in_train_mode:  # the first step, or the first after an evaluation
            self.model.train()       # every submodule: a prebuilt net's may be in eval mode
            self._in_train_mode = True

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Forward, loss, backward, SGD update and the metric sums: device work only, with no
        host read (so :mod:`reslab.training.fastpath` can capture it as part of a CUDA graph)."""
        with self._autocast():
            logits = self.forward(x)
            loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:  # fp16: scale the loss, skip steps whose gradients overflowed
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        wrong = (logits.argmax(1) != y).sum()
        self._loss += loss.detach().float() * len(y)
        self._errors += wrong
        self._window_errors += wrong
        self._step_t += 1
        self._watch.observe(loss, self._step_t)  # on the device; read at each evaluation

    def end_step(self, n: int) -> None:
        """The host's part after a step of ``n`` images: counters, and the warm-up rule."""
        self._seen += n
        self.step += 1
        if self.warming:
            self._check_warmup(n)

    def _check_warmup(self, n: int) -> None:
        """He et al. (Sec. 4.2, ResNet-110): lr 0.01 until the training error is below 80%.

        The error is the mean over the last ``warmup_window`` iterations (50 x 128 images:
        about 0.6% of noise), so the rule reads a trend, as the paper's "about 400
        iterations" implies, not the luck of a few batches. Images are counted as each
        process saw them (a batch need not split evenly).
        """
        self._window_seen += n
        if self._window_seen >= window_images(self.config):
            errors, seen = distributed.sum_across(torch.stack([
                self._window_errors, self._count(self._window_seen)])).tolist()
            self._window_errors.zero_()
            self._window_seen = 0
            self.warming = still_warming(self.config, errors, seen)

    def _count(self, n: int) -> torch.Tensor:
        """``n`` as a float tensor on the device, to be summed with the metric sums."""
        return torch.tensor(float(n), device=self.device)

    @torch.no_grad()
    def evaluate(self, images: torch.Tensor, labels: torch.Tensor,
                 loader: DeviceLoader) -> tuple[float, float]:
        """Loss and error on this process's share of ``images`` (summed over processes)."""
        self.model.eval()
        self._in_train_mode = False
        totals = torch.zeros(3, device=self.device)
        for x, y in eval_batches(images, labels, loader):
            with self._autocast():
                logits = self.model(x)  # not the DDP wrapper: no collectives while evaluating
            totals[0] += F.cross_entropy(logits.float(), y, reduction="sum")
            totals[1] += (logits.argmax(1) != y).sum()
            totals[2] += len(y)
        loss, errors, n = distributed.sum_across(totals).tolist()
        return loss / n, errors / n

    def end_period(self, eval_images: torch.Tensor, eval_labels: torch.Tensor,
                   loader: DeviceLoader) -> dict[str, float]:
        """Read the period's metrics, evaluate, record, checkpoint. Raises on divergence."""
        sums = distributed.sum_across(torch.stack([self._loss, self._errors,
                                                   self._count(self._seen)]))
        seen = int(sums[2].item())  # every process's own count: a batch may split unevenly
        train_loss, train_error = (sums[:2] / max(seen, 1)).tolist()
        seconds = time.perf_counter() - self._period_start
        self._check_finite(train_loss)
        eval_loss, eval_error = self.evaluate(eval_images, eval_labels, loader)
        record = period_record(self.step, loader.steps_per_epoch, self.last_lr, train_loss,
                               train_error, eval_loss, eval_error, seconds, seen)
        self.history.records.append(record)
        self.history.meta["wall_seconds"] = self.history.meta.get("wall_seconds", 0) + seconds
        self.save()
        self.reset_metrics()
        return record

    def _check_finite(self, train_loss: float) -> None:
        """Stop if a step's loss, a parameter or a buffer is NaN/inf: never checkpoint it."""
        since = self.history.last("step") if self.history.records else 0
        check_finite(self.label, self._watch, [train_loss], self.step, since,
                     lambda: first_nonfinite_state(self.model, self.optimizer), self.folder,
                     self.process.is_main)

    def state_dict(self) -> dict[str, Any]:
        state = {"reslab_checkpoint": 1, "label": self.label, "config": asdict(self.config),
                 "step": self.step, "warming": self.warming, "model": self.model.state_dict(),
                 "model_build": self.build_options,
                 "optimizer": _host_lr(self.optimizer.state_dict()), "rng": rng_state(self.device),
                 "history": asdict(self.history)}
        if self.scaler is not None:
            state["grad_scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`, wherever ``torch.load`` mapped its tensors."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and "grad_scaler" in state:
            self.scaler.load_state_dict(state["grad_scaler"])
        self.step, self.warming = state["step"], state["warming"]
        self._step_t.fill_(self.step)
        self.history = History(**state["history"])
        # RNG states must be CPU ByteTensors, wherever map_location put the checkpoint
        set_rng_state(state["rng"], self.device)

    def save(self) -> None:
        """Checkpoint and history JSON (main process only; atomic writes)."""
        if self.folder is None or not self.process.is_main:
            return
        save_checkpoint(self.folder, self.state_dict())
        self.history.save(self.folder / "history.json")

    def resume(self) -> bool:
        """Load the newest checkpoint in ``folder``, if any; refuses a different config."""
        if self.folder is None:
            return False
        # to the CPU: the model and optimiser copy what they need to the device; the RNG
        # states must stay CPU tensors
        state = load_latest(self.folder, map_location="cpu")
        if state is None:
            return False
        changed = config_changes(state["config"], self.config)
        if changed:
            raise ValueError(f"{self.folder} holds a run with a different config "
                             f"({', '.join(changed)} differ); use another output folder")
        self.load_state_dict(state)
        return True



def _host_lr(state: dict[str, Any]) -> dict[str, Any]:
    """An optimiser state with its learning rates as numbers (the fast path keeps them in
    device tensors), so that checkpoints do not depend on the path that wrote them."""
    for group in state["param_groups"]:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"] = group["lr"].item()
    return state


# What a single run and a batch of seeds (reslab.training.seeds) share: one copy of each.

def new_history(label: str, config: TrainConfig, data: ImageDataset, device: torch.device,
                amp_dtype: torch.dtype | None, **meta: Any) -> History:
    """An empty :class:`History` for a run of ``config``: its dataset, device, torch version,
    precision and deviations from the paper's recipe, plus ``meta``."""
    return History(label, json.loads(json.dumps(asdict(config))), meta={
        "dataset": data.name, "dataset_note": data.note, "eval_split": data.eval_split,
        "device": device_name(device), "torch": str(torch.__version__),
        "precision": str(amp_dtype or torch.float32).replace("torch.", ""),
        "deviations": deviations(config), **meta})


def period_record(step: int, steps_per_epoch: int, lr: float, train_loss: float,
                  train_error: float, eval_loss: float, eval_error: float, seconds: float,
                  seen: int) -> dict[str, float]:
    """One evaluation's line of a history."""
    return {"epoch": step / steps_per_epoch, "step": step, "lr": lr,
            "train_loss": train_loss, "train_error": train_error,
            "eval_loss": eval_loss, "eval_error": eval_error, "seconds": seconds,
            "images_per_s": seen / seconds if seconds > 0 else float("nan")}


def starts_warming(config: TrainConfig, model: torch.nn.Module) -> bool:
    """Whether a run starts with He et al.'s warm-up: ``warmup="on"``, or ``"auto"`` for nets
    of 110 layers or more (Sec. 4.2)."""
    return config.warmup == "on" or (
        config.warmup == "auto" and getattr(model, "depth", 0) >= HE2016.warmup_depth)


def window_images(config: TrainConfig) -> int:
    """How many training images the 110-layer warm-up rule averages over."""
    return config.warmup_window * config.batch_size


def still_warming(config: TrainConfig, errors: float, seen: float) -> bool:
    """He et al. (Sec. 4.2, ResNet-110): lr 0.01 "until the training error is below 80%"."""
    return errors / seen >= config.warmup_until_error


def check_finite(label: str, watch: FiniteWatch, train_losses: list[float], step: int,
                 since: int, nonfinite_state: Callable[[], str | None],
                 folder: Path | None, is_main: bool = True) -> None:
    """Raise :class:`TrainingDiverged` if a step's loss (``watch``), a period's mean loss or a
    state tensor (``nonfinite_state()`` names the first) is NaN or infinite; it says which
    checkpoint in ``folder`` is the last good one."""
    bad_step = watch.first_bad_step()
    bad_loss = next((x for x in train_losses if not math.isfinite(x)), None)
    if bad_step is not None or bad_loss is not None:
        shown = train_losses[0] if bad_loss is None else bad_loss
        _diverged(label, f"at step {bad_step or step:,}: the training loss became {shown}",
                  folder, is_main)
    tensor = nonfinite_state()
    if tensor is not None:
        _diverged(label, f"between steps {since:,} and {step:,}: {tensor} is not finite",
                  folder, is_main)


def _diverged(label: str, what: str, folder: Path | None, is_main: bool) -> None:
    kept = describe_last_good(folder) if is_main else "see the main process"
    raise TrainingDiverged(f"{label} diverged {what}; {kept}. Lower the learning "
                           "rate or use the warm-up (warmup='on')")


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The random-number state a checkpoint keeps: the CPU generator's, and the device's
    generator's on CUDA (dropout-like draws, e.g. stochastic depth, happen there)."""
    rng = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def set_rng_state(rng: dict[str, torch.Tensor], device: torch.device) -> None:
    """Restore :func:`rng_state` (RNG states must be CPU ByteTensors, wherever
    ``map_location`` put the checkpoint)."""
    torch.set_rng_state(rng["torch"].cpu())
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"].cpu(), device)
