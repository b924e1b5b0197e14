"""A run: ``k >= 1`` replicas of one architecture in training (:class:`Run`) -- one net, or
several seeds trained together as one model -- with the step, its records, the finiteness
watch, the 110-layer warm-up, evaluation, and the state a checkpoint keeps.

What differs between one net and a stack of seeds (the forward and the update) is the
strategy the Run holds (:mod:`reslab.training.replicas`); how a step reaches the device
(eagerly, or replayed as one CUDA graph by :mod:`reslab.training.fastpath`) is the step the Run
is given. Runs are checkpointed at every evaluation; data order and augmentation are
functions of the step, so a run killed anywhere and resumed ends with the same weights as one
never stopped.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from reslab.data import DeviceLoader, ImageDataset, eval_batches
from reslab.data.loader import normalisation_stats
from reslab.training import distributed
from reslab.training.checkpoint import describe_last_good, load_latest, save_checkpoint
from reslab.training.compilation import choose as choose_compile
from reslab.training.compilation import uses_cuda_graphs
from reslab.training.config import TrainConfig, config_changes, lr_at
from reslab.training.device import device_name, rng_state, set_rng_state
from reslab.training.finite import FiniteWatch
from reslab.training.history import History
from reslab.training.precision import autocast
from reslab.training.recipes import HE2016, deviations
from reslab.training.replicas import (OneNet, StackedNets, build_net, build_options,
                                      channels_last)

# the step a Run is given: a function of the run and its loader, returning a callable that
# trains one step (``step(run.step)``), or None to train eagerly
StepChoice = Callable[["Run", DeviceLoader], "Callable[[int], None] | None"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def make_loader(config: TrainConfig, data: ImageDataset, device: torch.device,
                process: distributed.Process, channels_last: bool) -> DeviceLoader:
    """The training batches of ``config``'s seed, this process's share, on ``device``."""
    mean, std = normalisation_stats(data.train_images, config.normalize)
    return DeviceLoader(data.train_images, data.train_labels, config.batch_size, device, mean,
                        std, augment=config.augment, seed=config.seed,
                        shard=(process.rank, process.world_size), channels_last=channels_last)


class Run:
    """``k >= 1`` replicas of one architecture in training: one net for a config, a stack of
    seeds for a sequence of configs that differ in their seed only (``train_seeds``).

    Metrics accumulate in device tensors of shape ``(k,)``; the host reads them only at
    evaluations (and once per ``warmup_window`` during the 110-layer warm-up), so the step
    loop never waits. ``loader``: the training batches a sweep shares (default: the run's
    own, one per seed); ``whole_step``: how it chooses its step (the trainer gives
    :func:`reslab.training.fastpath.when_supported`: a whole-step CUDA graph where one
    applies; default: eager steps).
    """

    def __init__(self, label: str, config: TrainConfig | Sequence[TrainConfig],
                 data: ImageDataset, device: torch.device, folder: Path | None = None,
                 process: distributed.Process = distributed.Process(),
                 model: torch.nn.Module | None = None, loader: DeviceLoader | None = None,
                 whole_step: StepChoice | None = None) -> None:
        self.stacked = not isinstance(config, TrainConfig)  # a stack of seeds
        self.configs = list(config) if self.stacked else [config]
        self.config = self.configs[0]
        self.label, self.device, self.folder, self.process = label, device, folder, process
        self.build_options = build_options(self.config, data)
        if self.stacked:
            self.nets: OneNet | StackedNets = StackedNets(self.configs, data, device)
        else:
            if model is None:
                model = build_net(self.config, data)
            else:  # a prebuilt net (successive training's phases) is kept; the RNG still
                torch.manual_seed(self.config.seed)  # starts from the run's seed
            self.nets = OneNet(model, self.config, device, process, self.compile)
        self.loaders = [loader] if loader is not None else [
            make_loader(c, data, device, process, self.nets.channels_last) for c in self.configs]
        self.step = 0
        self.warming = [starts_warming(c, self.nets.architecture) for c in self.configs]
        self.last_lrs = [c.lr for c in self.configs]
        self.histories = [self._new_history(c, data) for c in self.configs]
        # device sums, made once and zeroed in place (a CUDA graph keeps their addresses)
        self._loss, self._errors, self._window_errors = (
            torch.zeros(len(self.configs), device=device) for _ in range(3))
        self._window_seen = 0
        self._watch = FiniteWatch(device)  # the first non-finite loss, kept on the device
        self._in_train_mode = False        # nets.train_mode() is called only when this changes
        self._step_t = torch.zeros((), dtype=torch.long, device=device)  # the step, on device
        self.reset_metrics()
        self.whole_step = whole_step(self, self.loaders[0]) if whole_step else None

    def _new_history(self, config: TrainConfig, data: ImageDataset) -> History:
        if self.stacked:
            return new_history(f"{config.model}-seed{config.seed}", config, data, self.device,
                               self.amp_dtype, world_size=1,
                               trained_together=len(self.configs), folder=None)
        return new_history(self.label, config, data, self.device, self.amp_dtype,
                           world_size=self.process.world_size,
                           folder=str(self.folder) if self.folder else None)

    # what the strategy holds, read by the fast path, the selftest and the course
    @property
    def model(self) -> torch.nn.Module:
        """One net's module (a stack of seeds has :meth:`net` instead)."""
        return self.nets.model

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.nets.optimizer

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        return self.nets.scaler

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return self.nets.amp_dtype

    @property
    def channels_last(self) -> bool:
        return self.nets.channels_last

    @property
    def history(self) -> History:
        """The history of one net (of the first seed of a stack)."""
        return self.histories[0]

    @property
    def last_lr(self) -> float:
        return self.last_lrs[0]

    def net(self, k: int = 0) -> torch.nn.Module:
        """Replica ``k``'s net as an ordinary module (seed ``k``'s, by position)."""
        return self.nets.net(k)

    def reset_metrics(self) -> None:
        """Start a new period: zero the training sums (in place) and restart its clock."""
        self._loss.zero_()
        self._errors.zero_()
        self._seen = 0
        self._period_start = time.perf_counter()

    def period_loss(self, k: int = 0) -> float:
        """Replica ``k``'s mean training loss of the steps since the last
        :meth:`reset_metrics` (reads the device once)."""
        return self._loss[k].item() / max(self._seen, 1)

    def step_tensors(self) -> dict[str, torch.Tensor]:
        """Every device tensor a training step writes, besides the optimiser's state: weights,
        buffers (BN statistics), the metric sums, the step counter on the device and the
        finiteness watch. The whole-step graph saves and restores these around its warm-up,
        and compares them between a replay and an eager step."""
        return {**self.nets.tensors(), "train loss sum": self._loss,
                "training errors": self._errors, "warm-up window errors": self._window_errors,
                "step counter": self._step_t, "first non-finite step": self._watch.tensor}

    @property
    def uses_cuda_graphs(self) -> bool:
        """Whether this run replays CUDA graphs (its whole step, or compiled in such a mode)."""
        return self.device.type == "cuda" and (
            self.whole_step is not None or uses_cuda_graphs(self.compile))

    @property
    def compile(self) -> bool | str:
        """The compile setting this run uses (``"auto"`` resolved, see
        :func:`reslab.training.compilation.choose`); seeds trained together use none."""
        return False if self.stacked else choose_compile(self.config.compile, self.device,
                                                         self.config.iterations)

    @property
    def shares_graph_pool(self) -> bool:
        """Whether this run's CUDA graphs come from torch.compile, whose graphs share one
        memory pool per device (so they may not replay on separate streams)."""
        return self.device.type == "cuda" and uses_cuda_graphs(self.compile)

    @property
    def trained_this_period(self) -> bool:
        return self._seen > 0

    def batch(self, step: int, made: dict[int, Any] | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """The run's training batch of ``step``: its loader's, or each seed's own, stacked.
        ``made`` keeps the batches made this step by loader, so a sweep makes one."""
        made = {} if made is None else made
        for loader in self.loaders:
            if id(loader) not in made:
                made[id(loader)] = loader.batch(step)
        return self.nets.inputs([made[id(loader)] for loader in self.loaders])

    def train_step(self, x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> None:
        """One SGD step on batch ``(x, y)`` (default: the step the run was given, on this
        step's batch); the learning rate follows :func:`lr_at`."""
        if x is None and self.whole_step is not None:
            self.whole_step(self.step)
            return
        if x is None:
            x, y = self.batch(self.step)
        self.begin_step()
        self.sgd_step(x, y)
        self.end_step(y.shape[-1])

    def begin_step(self) -> None:
        """The host's part before a step: set the learning rates, and train mode when an
        evaluation left the nets in eval mode."""
        self.last_lrs = [lr_at(c, self.step, w) for c, w in zip(self.configs, self.warming)]
        self.nets.set_learning_rates(self.last_lrs)
        if not self._in_train_mode:  # the first step, or the first after an evaluation
            self.nets.train_mode(True)
            self._in_train_mode = True

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Forward, loss, backward, SGD update and the metric sums: device work only, with no
        host read (so :mod:`reslab.training.fastpath` can capture it as part of a CUDA graph)."""
        losses, wrong = self.nets.sgd_step(x, y)
        self._loss += losses * y.shape[-1]
        self._errors += wrong
        self._window_errors += wrong
        self._step_t += 1
        self._watch.observe(losses, self._step_t)  # on the device; read at each evaluation

    def end_step(self, n: int) -> None:
        """The host's part after a step of ``n`` images per replica: counters, warm-up."""
        self._seen += n
        self.step += 1
        if any(self.warming):
            self._check_warmup(n)

    def _check_warmup(self, n: int) -> None:
        """He et al. (Sec. 4.2, ResNet-110): lr 0.01 until the training error is below 80%.

        The error is the mean over the last ``warmup_window`` iterations (50 x 128 images:
        about 0.6% of noise), so the rule reads a trend, as the paper's "about 400
        iterations" implies, not the luck of a few batches; each seed of a stack has its own.
        Images are counted as each process saw them (a batch need not split evenly).
        """
        self._window_seen += n
        if self._window_seen >= window_images(self.config):
            *errors, seen = distributed.sum_across(torch.cat([
                self._window_errors, self._count(self._window_seen).view(1)])).tolist()
            self._window_errors.zero_()
            self._window_seen = 0
            self.warming = [w and still_warming(self.config, e, seen)
                            for w, e in zip(self.warming, errors)]

    def _count(self, n: int) -> torch.Tensor:
        """``n`` as a float tensor on the device, to be summed with the metric sums."""
        return torch.tensor(float(n), device=self.device)

    @torch.no_grad()
    def evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> list[tuple[float, float]]:
        """Each replica's loss and error on this process's share of ``images`` (summed over
        processes)."""
        self.nets.train_mode(False)
        self._in_train_mode = False
        k = len(self.configs)
        totals = torch.zeros(2 * k + 1, device=self.device)
        for x, y in eval_batches(images, labels, self.loaders[0]):
            with autocast(self.device, self.amp_dtype):
                logits = self.nets.logits(x).float()
            for i in range(k):
                totals[i] += torch.nn.functional.cross_entropy(logits[i], y, reduction="sum")
            totals[k:2 * k] += (logits.argmax(2) != y).sum(1)
            totals[2 * k] += len(y)
        *sums, n = distributed.sum_across(totals).tolist()
        return [(loss / n, errors / n) for loss, errors in zip(sums[:k], sums[k:])]

    def end_period(self, eval_images: torch.Tensor,
                   eval_labels: torch.Tensor) -> list[dict[str, float]]:
        """Read the period's metrics, evaluate, record, checkpoint; each replica's record.
        Raises on divergence."""
        k = len(self.configs)
        sums = distributed.sum_across(torch.cat([self._loss, self._errors,
                                                 self._count(self._seen).view(1)]))
        seen = int(sums[-1].item())  # every process's own count: a batch may split unevenly
        train = (sums[:-1].view(2, k) / max(seen, 1)).T.tolist()
        seconds = time.perf_counter() - self._period_start
        self._check_finite([loss for loss, _ in train])
        evaluated = self.evaluate(eval_images, eval_labels)
        records = []
        for lr, history, (train_loss, train_error), (eval_loss, eval_error) in zip(
                self.last_lrs, self.histories, train, evaluated):
            records.append(period_record(self.step, self.loaders[0].steps_per_epoch, lr,
                                         train_loss, train_error, eval_loss, eval_error,
                                         seconds, seen))
            history.records.append(records[-1])
            history.meta["wall_seconds"] = history.meta.get("wall_seconds", 0) + seconds
        self.save()
        self.reset_metrics()
        return records

    def _check_finite(self, train_losses: list[float]) -> None:
        """Stop if a step's loss, a parameter, a buffer or an optimiser tensor of any replica
        is NaN/inf: never checkpoint it."""
        since = self.history.last("step") if self.history.records else 0
        check_finite(self.label, self._watch, train_losses, self.step, since,
                     self.nets.first_nonfinite, self.folder, self.process.is_main)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps, in the layout each kind has always had: one net's
        (``label``, ``config``, ``model``, ``optimizer`` ...) or a stack of seeds' (``kind:
        "seeds"``, ``configs``, ``params``, ``buffers``, ``momentum`` ...)."""
        if self.stacked:
            return {"reslab_checkpoint": 1, "kind": "seeds", "step": self.step,
                    "configs": [asdict(c) for c in self.configs], "warming": self.warming,
                    **self.nets.weights_state(),
                    "histories": [asdict(h) for h in self.histories],
                    "rng": rng_state(self.device)}
        weights = self.nets.weights_state()
        state = {"reslab_checkpoint": 1, "label": self.label, "config": asdict(self.config),
                 "step": self.step, "warming": self.warming[0], "model": weights.pop("model"),
                 "model_build": self.build_options, "optimizer": weights.pop("optimizer"),
                 "rng": rng_state(self.device), "history": asdict(self.history)}
        return {**state, **weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`, wherever ``torch.load`` mapped its tensors."""
        self.nets.load_weights(state)
        self.step = state["step"]
        self.warming = list(state["warming"]) if self.stacked else [state["warming"]]
        self._step_t.fill_(self.step)
        histories = state["histories"] if self.stacked else [state["history"]]
        self.histories = [History(**h) for h in histories]
        # RNG states must be CPU ByteTensors, wherever map_location put the checkpoint
        set_rng_state(state["rng"], self.device)

    def save(self) -> None:
        """Checkpoint and history JSON (main process only; atomic writes): ``history.json``,
        or one ``history-seed<k>.json`` per seed."""
        if self.folder is None or not self.process.is_main:
            return
        save_checkpoint(self.folder, self.state_dict())
        for config, history in zip(self.configs, self.histories):
            name = f"history-seed{config.seed}.json" if self.stacked else "history.json"
            history.save(self.folder / name)

    def resume(self) -> bool:
        """Load the newest checkpoint in ``folder``, if any; refuses a different config."""
        if self.folder is None:
            return False
        # to the CPU: the model and optimiser copy what they need to the device; the RNG
        # states must stay CPU tensors
        state = load_latest(self.folder, map_location="cpu")
        if state is None:
            return False
        if self.stacked:
            if state.get("kind") != "seeds" or state["configs"] != [
                    asdict(c) for c in self.configs]:
                raise ValueError(f"{self.folder} holds another run; use another output folder")
        else:
            changed = config_changes(state["config"], self.config)
            if changed:
                raise ValueError(f"{self.folder} holds a run with a different config "
                                 f"({', '.join(changed)} differ); use another output folder")
        self.load_state_dict(state)
        return True


# A run's history records, warm-up rule and finiteness check.

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

