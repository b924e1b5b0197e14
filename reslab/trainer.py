"""The trainer: He et al.'s CIFAR recipe, resumable, on CPU or CUDA, one model or a sweep.

>>> history = train("resnet20", dataset="cifar10-jpeg", budget="quick")
>>> histories = sweep(["plain20", "plain56", "resnet20", "resnet56"], budget="quick")

Defaults are the paper's (Sec. 4.2): SGD with momentum 0.9, weight decay 1e-4, batch 128,
lr 0.1 divided by 10 at 50% and 75% of the iterations (32k and 48k of 64k), and for nets of
110 layers or more lr 0.01 until the training error falls below 80%. A sweep trains several
models in lockstep on the very same batches (one data pipeline, identical data order).

Runs are checkpointed at every evaluation; data order and augmentation are functions of the
step, so a run killed anywhere and resumed ends with the same weights as one never stopped.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from reslab import distributed, fastpath
from reslab.budget import Budget, deviations, get_budget
from reslab.checkpoint import describe_last_good, load_latest, save_checkpoint
from reslab.compilation import choose as choose_compile
from reslab.compilation import compiled, uses_cuda_graphs
from reslab.data import DeviceLoader, ImageDataset, eval_batches, load_dataset
from reslab.data.loader import normalisation_stats
from reslab.determinism import cudnn_autotune, deterministic, deterministic_pooling
from reslab.finite import FiniteWatch, first_nonfinite_state
from reslab.history import History
from reslab.models import build_model
from reslab.models.checkpointing import set_activation_checkpointing
from reslab.models.options import check_choice
from reslab.paths import runs_dir
from reslab.precision import autocast, autocast_dtype, grad_scaler
from reslab.runlock import guard_run_folders
from reslab.validate import check_config, check_data, check_device


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in every checkpoint and history."""

    model: str = "resnet20"
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset: str = "auto"
    train_subset: int | None = None
    test_subset: int | None = None
    validation: bool = False       # evaluate on 5k held out of the training set (45k/5k)
    iterations: int = 64_000
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[float, ...] = (0.5, 0.75)  # lr drops, as fractions of the iterations
    lr_decay: float = 0.1
    warmup: str = "auto"           # 110-layer rule: "auto" (depth >= 110), "on", "off"
    warmup_lr: float = 0.01
    warmup_until_error: float = 0.80
    warmup_window: int = 50        # iterations whose mean training error the rule reads
    linear_warmup: int = 0         # short recipe: lr rises 0 -> lr over these first iterations
    budget: str = "custom"         # the budget the sizes came from (smoke, quick, medium, full)
    recipe: str = "he2016"         # the paper whose recipe this is (see reslab.recipes)
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
        for name in ("iterations", "batch_size", "warmup_window"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive whole number (got {value!r})")
        if not isinstance(self.linear_warmup, int) or self.linear_warmup < 0:
            raise ValueError(f"linear_warmup is a number of iterations >= 0 "
                             f"(got {self.linear_warmup!r})")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive (got {self.lr!r})")
        if not all(0 < m < 1 for m in self.milestones):
            raise ValueError(f"milestones are fractions of the run in (0, 1), e.g. (0.5, 0.75);"
                             f" got {self.milestones}")
        check_choice("warmup", self.warmup, ("auto", "on", "off"))
        check_choice("normalize", self.normalize, ("pixel", "channel", "none"))

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


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """"auto": this process's CUDA GPU if there is one, else Apple's GPU (MPS), else the CPU.

    ``"cuda"`` without an index is this process's GPU, ``cuda:<local_rank>`` (under torchrun
    each process drives its own).
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    device = check_device(name)  # one line if this machine has no such device
    return distributed.local_device(device, distributed.Process(local_rank=local_rank))


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
        self.whole_step: fastpath.WholeStep | None = None  # set by fastpath.attach
        self.step = 0
        self.warming = config.warmup == "on" or (
            config.warmup == "auto" and getattr(self.model, "depth", 0) >= 110)
        self.history = History(label, json.loads(json.dumps(asdict(config))), meta={
            "dataset": data.name, "dataset_note": data.note, "eval_split": data.eval_split,
            "device": device_name(device), "torch": str(torch.__version__),
            "precision": str(self.amp_dtype or torch.float32).replace("torch.", ""),
            "deviations": deviations(config),
            "world_size": process.world_size, "folder": str(folder) if folder else None})
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
        :func:`reslab.compilation.choose`)."""
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
        host read (so :mod:`reslab.fastpath` can capture it as part of a CUDA graph)."""
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
        if self._window_seen >= self.config.warmup_window * self.config.batch_size:
            errors, seen = distributed.sum_across(torch.stack([
                self._window_errors, self._count(self._window_seen)])).tolist()
            self._window_errors.zero_()
            self._window_seen = 0
            self.warming = errors / seen >= self.config.warmup_until_error

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
        record = {"epoch": self.step / loader.steps_per_epoch, "step": self.step,
                  "lr": self.last_lr,
                  "train_loss": train_loss, "train_error": train_error,
                  "eval_loss": eval_loss, "eval_error": eval_error, "seconds": seconds,
                  "images_per_s": seen / seconds if seconds > 0 else float("nan")}
        self.history.records.append(record)
        self.history.meta["wall_seconds"] = self.history.meta.get("wall_seconds", 0) + seconds
        self.save()
        self.reset_metrics()
        return record

    def _check_finite(self, train_loss: float) -> None:
        """Stop if a step's loss, a parameter or a buffer is NaN/inf: never checkpoint it."""
        bad_step = self._watch.first_bad_step()
        if bad_step is not None or not math.isfinite(train_loss):
            self._diverged(f"at step {bad_step or self.step:,}: the training loss became "
                           f"{train_loss}")
        tensor = first_nonfinite_state(self.model, self.optimizer)
        if tensor is not None:
            since = self.history.last("step") if self.history.records else 0
            self._diverged(f"between steps {since:,} and {self.step:,}: {tensor} is not finite")

    def _diverged(self, what: str) -> None:
        kept = describe_last_good(self.folder) if self.process.is_main else "see the main process"
        raise TrainingDiverged(f"{self.label} diverged {what}; {kept}. Lower the learning "
                               "rate or use the warm-up (warmup='on')")

    def state_dict(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"reslab_checkpoint": 1, "label": self.label, "config": asdict(self.config),
                 "step": self.step, "warming": self.warming, "model": self.model.state_dict(),
                 "model_build": self.build_options,
                 "optimizer": _host_lr(self.optimizer.state_dict()), "rng": rng,
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
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.device)

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


def config_changes(saved: dict[str, Any], config: TrainConfig) -> list[str]:
    """Fields in which a checkpoint's config differs from ``config``.

    A field that the saved config lacks (written by an older reslab) counts as unchanged when
    ``config`` holds that field's default, so new options do not orphan old runs.
    """
    defaults = json.loads(json.dumps(asdict(TrainConfig())))
    current = json.loads(json.dumps(asdict(config)))
    saved = json.loads(json.dumps(saved))
    return [k for k, v in current.items() if saved.get(k, defaults.get(k)) != v]


def _host_lr(state: dict[str, Any]) -> dict[str, Any]:
    """An optimiser state with its learning rates as numbers (the fast path keeps them in
    device tensors), so that checkpoints do not depend on the path that wrote them."""
    for group in state["param_groups"]:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"] = group["lr"].item()
    return state


def load_trained(run: str | Path | History, device: str = "cpu") -> torch.nn.Module:
    """The model of a run folder (or of a :class:`History` that names one), in eval mode."""
    folder = Path(run.meta["folder"]) if isinstance(run, History) else Path(run)
    state = load_latest(folder, map_location=device)
    if state is None:
        raise ValueError(f"no checkpoint in {folder}: train the model first")
    model = build_model(state["config"]["model"], **state["model_build"])
    model.load_state_dict(state["model"])
    return model.to(device).eval()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    import platform
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True)


def prepare_data(config: TrainConfig, verbose: bool = True) -> ImageDataset:
    """Load the config's dataset (announcing it), with its subsets and split."""
    data = load_dataset(config.dataset, config.train_subset, config.test_subset,
                        validation=config.validation, seed=config.seed)
    if verbose:
        print(f"reslab: {data.describe()}")
    return data


def make_loader(config: TrainConfig, data: ImageDataset, device: torch.device,
            process: distributed.Process, channels_last: bool) -> DeviceLoader:
    mean, std = normalisation_stats(data.train_images, config.normalize)
    return DeviceLoader(data.train_images, data.train_labels, config.batch_size, device, mean,
                        std, augment=config.augment, seed=config.seed,
                        shard=(process.rank, process.world_size), channels_last=channels_last)


@guard_run_folders  # one writer per run folder; stale temporary files removed
def fit(configs: Sequence[TrainConfig], labels: Sequence[str], folders: Sequence[Path | None],
        data: ImageDataset | None = None, resume: bool = True, progress: bool = True,
        models: Sequence[torch.nn.Module | None] | None = None,
        on_eval: Callable[[History], None] | None = None) -> list[History]:
    """Train one or more models in lockstep on one batch stream; return their histories.

    All configs must share the data settings (dataset, subsets, batch size, seed,
    iterations); each model has its own optimiser, schedule and checkpoint folder.
    ``models`` may give prebuilt models (``None``: build ``config.model``); ``on_eval`` is
    called with a run's history after each of its evaluations (live curves use it).
    """
    _check_lockstep(configs)
    base, process = configs[0], distributed.current_process()
    device = pick_device(base.device, process.local_rank)
    with deterministic(base.deterministic, device), \
            cudnn_autotune(not base.deterministic, device):  # chosen in warm-up, pre-capture
        distributed.init(process, device)
        data = data if data is not None else prepare_data(base, verbose=process.is_main)
        for config in configs:
            check_data(config, data)  # classes, channels, batch size: before any training
        models = models or [None] * len(configs)
        runs = [Run(lab, c, data, device, f, process, m)
                for c, lab, f, m in zip(configs, labels, folders, models)]
        resumed = [r.resume() if resume else False for r in runs]
        if any(resumed) and process.is_main:
            print(f"reslab: resuming at step {min(r.step for r in runs):,} of "
                  f"{base.iterations:,} from {folders[0]}")
        loader = make_loader(base, data, device, process, runs[0].channels_last)
        fastpath.attach(runs, loader, verbose=process.is_main)
        desc = labels[0] if len(runs) == 1 else f"sweep of {len(runs)}"
        _loop(runs, loader, _eval_share(data, process, device),
              progress_bar(base.iterations, desc, progress and process.is_main),
              on_eval if process.is_main else None)
    return [run.history for run in runs]


def _loop(runs: Sequence[Run], loader: DeviceLoader,
          evaluation: tuple[torch.Tensor, torch.Tensor], bar: Any,
          on_eval: Callable[[History], None] | None) -> None:
    """Train every run to the end of the schedule, evaluating and checkpointing each period."""
    base, device = runs[0].config, runs[0].device
    every = base.eval_every or loader.steps_per_epoch
    step = min(r.step for r in runs)
    streams = side_streams(runs, device)
    with bar:
        bar.update(step)
        while step < base.iterations:
            end = min(base.iterations, (step // every + 1) * every)
            for s in range(step, end):
                train_all(runs, s, loader, streams)
                bar.update(1)
            join_streams(streams, device)
            for run in runs:
                if run.trained_this_period:  # a resumed run may be a period ahead
                    record = run.end_period(*evaluation, loader)
                    if on_eval is not None:
                        on_eval(run.history)
            bar.set_postfix_str(_postfix(runs, record))
            step = end


def side_streams(runs: Sequence[Run], device: torch.device) -> list | None:
    """One CUDA stream per model of a sweep, so that their kernels can overlap on the GPU.

    Whole-step graphs (:mod:`reslab.fastpath`) replay on these streams too: each is captured
    without ``pool=``, so each has a private memory pool and no replay can overwrite another's
    memory. None for a compiled net in a CUDA-graph mode ("reduce-overhead"): torch.compile's
    graphs share one pool per device and must replay in order.
    """
    if device.type != "cuda" or len(runs) < 2 or any(r.shares_graph_pool for r in runs):
        return None
    return [torch.cuda.Stream(device) for _ in runs]


def train_all(runs: Sequence[Run], step: int, loader: DeviceLoader,
              streams: list | None) -> None:
    """One step of every run that is at ``step``: a run with a whole-step graph replays it;
    the others share one batch. Each run works on its own stream when there are any."""
    if streams is not None:  # the epoch's plan on the default stream, before any side stream
        loader.epoch_plan(step // loader.steps_per_epoch)
    batch = None
    for i, run in enumerate(runs):
        if run.step != step:
            continue
        if run.whole_step is not None:
            _on_stream(run, streams and streams[i], lambda: run.whole_step(step))
            continue
        batch = batch or loader.batch(step)
        _on_stream(run, streams and streams[i], lambda: run.train_step(*batch), batch)


def _on_stream(run: Run, stream: Any, work: Callable[[], None],
               tensors: Sequence[torch.Tensor] = ()) -> None:
    """``work()`` launched on ``stream`` (after the default stream's work so far), or on the
    current stream when ``stream`` is None. ``tensors`` made on the default stream are kept
    until ``stream`` is done with them."""
    if stream is None:
        work()
        return
    stream.wait_stream(torch.cuda.current_stream(run.device))
    with torch.cuda.stream(stream):
        for tensor in tensors:
            tensor.record_stream(stream)
        work()


def join_streams(streams: list | None, device: torch.device) -> None:
    """Make the default stream wait for every run's stream (before reading metrics)."""
    if streams:
        main = torch.cuda.current_stream(device)
        for stream in streams:
            main.wait_stream(stream)


def _postfix(runs: Sequence[Run], record: dict[str, float]) -> str:
    if len(runs) == 1:
        return (f"train err {100 * record['train_error']:.1f}%, "
                f"eval err {100 * record['eval_error']:.1f}%")
    return ", ".join(f"{r.label} {100 * r.history.last('eval_error'):.1f}%" for r in runs)


def _eval_share(data: ImageDataset, process: distributed.Process,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's slice of the evaluation images, on the device."""
    sl = slice(process.rank, None, process.world_size)
    return data.eval_images[sl].to(device), data.eval_labels[sl].to(device)


def _check_lockstep(configs: Sequence[TrainConfig]) -> None:
    shared = ("dataset", "train_subset", "test_subset", "validation", "iterations",
              "batch_size", "augment", "normalize", "eval_every", "seed", "device")
    for c in configs[1:]:
        for name in shared:
            if getattr(c, name) != getattr(configs[0], name):
                raise ValueError(f"a sweep shares its data stream: every model needs the same "
                                 f"{name} (got {getattr(configs[0], name)!r} and "
                                 f"{getattr(c, name)!r})")


def default_folder(config: TrainConfig, label: str) -> Path:
    """``runs/<label>-<dataset>-<config hash>``: a new folder whenever the config changes."""
    return runs_dir() / f"{label}-{config.dataset}-{config.key()}"


def run_folder(out: str | Path | bool | None, config: TrainConfig, label: str) -> Path | None:
    if out is False:
        return None
    return Path(out) if out else default_folder(config, label)


def train(model: str = "resnet20", dataset: str = "auto", budget: Budget | str | None = None,
          out: str | Path | None = None, resume: bool = True, progress: bool = True,
          data: ImageDataset | None = None, on_eval: Callable[[History], None] | None = None,
          block: type[torch.nn.Module] | None = None, **options: Any) -> History:
    """Train one model and return its :class:`~reslab.history.History`.

    Args:
        model: a name from :func:`reslab.list_models`; ``model_options={...}`` go to it.
        block: your own block class for a CIFAR net (``reslab.train("resnet20",
            block=MyBlock)``), see :func:`reslab.models.cifar.resolve_block`. Configs hold
            only JSON, so the model is built here and the class's name with a fingerprint of
            the built net's structure is recorded as ``model_options["block"]``.
        dataset: see :func:`reslab.data.load_dataset` ("auto": the best one available).
        budget: "smoke", "quick", "full" or a :class:`Budget` (default: ``$RESLAB_BUDGET``);
            its sizes and iterations can be overridden by ``options``.
        out: the run's folder (checkpoints, ``history.json``); default
            ``runs/<model>-<dataset>-<config hash>``; ``False``: keep nothing on disk.
            ``resume``: continue a run found there.
        options: any :class:`TrainConfig` field (lr, iterations, validation, seed, ...).
    """
    config = config_from(budget, model=model, dataset=dataset, **options)
    prebuilt = None
    if block is not None:
        data = data if data is not None else prepare_data(config, verbose=progress)
        config, prebuilt = _with_block(config, block, data)
    folder = run_folder(out, config, model)
    return fit([config], [model], [folder], data, resume, progress, models=[prebuilt],
               on_eval=on_eval)[0]


def _with_block(config: TrainConfig, block: type[torch.nn.Module],
                data: ImageDataset) -> tuple[TrainConfig, torch.nn.Module]:
    """Build ``config.model`` with a block class; record the block in the config."""
    torch.manual_seed(config.seed)  # the initial weights a config-built model would get
    net = build_model(config.model, block=block, num_classes=data.num_classes,
                      in_channels=data.in_channels, **config.model_options)
    fingerprint = hashlib.sha1(repr(net).encode()).hexdigest()[:8]
    options = {**config.model_options, "block": f"{block.__qualname__}#{fingerprint}"}
    return replace(config, model_options=options), net


def sweep(models: Sequence[str], dataset: str = "auto", budget: Budget | str | None = None,
          out: str | Path | None = None, resume: bool = True, progress: bool = True,
          data: ImageDataset | None = None, model_options: dict[str, dict] | None = None,
          on_eval: Callable[[History], None] | None = None,
          **options: Any) -> dict[str, History]:
    """Train several models in lockstep on identical batches; ``{name: History}``.

    ``model_options`` maps a model name to its own options (e.g. ``{"resnet20": {"shortcut":
    "B"}}``); a label ``"resnet20:B"`` may be used to train the same model twice.
    """
    model_options = model_options or {}
    configs = [config_from(budget, model=m.split(":")[0], dataset=dataset,
                           model_options=model_options.get(m, {}), **options) for m in models]
    labels = [m.replace(":", "-") for m in models]
    folders = [run_folder(Path(out) / lab if out else out, c, lab)
               for c, lab in zip(configs, labels)]
    histories = fit(configs, list(models), folders, data, resume, progress, on_eval=on_eval)
    return dict(zip(models, histories))
