"""What differs between training one net and a stack of seeds: the forward and the update.

A :class:`~reslab.training.run.Run` trains ``k >= 1`` replicas of one architecture and holds
one of these strategies:

* :class:`OneNet`: one net, ``torch.optim.SGD`` (fused on CUDA), optionally under
  DistributedDataParallel, ``torch.compile``, fp16's gradient scaler or activation
  checkpointing;
* :class:`StackedNets`: He et al. 2016 report CIFAR-10 errors as "best (mean +/- std)" over 5
  runs (Table 6), which differ only in their seed. The weights of the ``k`` nets are stacked
  (``torch.func.stack_module_state``) and ``vmap`` runs one forward pass over all of them,
  which turns every convolution into a single grouped convolution: one kernel launch for
  ``k`` nets. Batch normalisation stays per seed (the running statistics are stacked with the
  weights); the update is He et al.'s SGD (momentum 0.9, weight decay 1e-4) with a learning
  rate per seed.

Both give the Run the same thing: ``sgd_step(x, y)`` returns each replica's loss and errors
(device tensors of shape ``(k,)``), ``logits(x)`` each replica's logits ``(k, B, classes)``.
The Run keeps the loop, records, warm-up rule, finiteness watch, evaluation and checkpoints.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from reslab.data import ImageDataset
from reslab.models import build_model
from reslab.training import distributed
from reslab.training.activation_checkpointing import set_activation_checkpointing
from reslab.training.compilation import compiled
from reslab.training.config import TrainConfig
from reslab.training.determinism import deterministic_pooling
from reslab.training.finite import first_nonfinite, first_nonfinite_state, named_tensors
from reslab.training.precision import autocast, autocast_dtype, grad_scaler


def build_net(config: TrainConfig, data: ImageDataset, **options: Any) -> nn.Module:
    """``config.model`` built for ``data`` (its classes and channels), after seeding torch with
    ``config.seed``: a net's initial weights are a function of its seed alone, so a net of a
    sweep, a seed of a stack and a solo run with that seed start the same. ``options`` go to
    :func:`reslab.models.build_model` besides ``config.model_options``."""
    torch.manual_seed(config.seed)
    return build_model(config.model, **build_options(config, data), **options)


def build_options(config: TrainConfig, data: ImageDataset) -> dict[str, Any]:
    """What :func:`build_net` passes to ``build_model``; a checkpoint keeps it to rebuild."""
    return {"num_classes": data.num_classes, "in_channels": data.in_channels,
            **config.model_options}


def channels_last(config: TrainConfig) -> bool:
    """Whether one net trains in channels-last memory format: it helps on CUDA and (about
    10%) with oneDNN on CPUs, so it is on unless the config says otherwise."""
    return True if config.channels_last is None else config.channels_last


class OneNet:
    """One net and its ``torch.optim.SGD``: the replica of a single run."""

    def __init__(self, model: nn.Module, config: TrainConfig, device: torch.device,
                 process: distributed.Process, compile_mode: bool | str) -> None:
        self.device = device
        model = distributed.sync_batch_norm(model, process, device, config.sync_bn)
        if config.deterministic and device.type == "cuda":
            deterministic_pooling(model)  # AdaptiveAvgPool2d's CUDA backward is not
        self.model = model.to(device)
        if config.activation_checkpointing:
            set_activation_checkpointing(self.model)
        self.channels_last = channels_last(config)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        kwargs = {"fused": True} if device.type == "cuda" else {"foreach": True}
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr,
                                         momentum=config.momentum,
                                         weight_decay=config.weight_decay, **kwargs)
        self.forward = distributed.wrap(self.model, process, device)
        if compile_mode:
            self.forward = compiled(self.forward, compile_mode)
        self.amp_dtype = autocast_dtype(device, config.amp)
        self.scaler = grad_scaler(device, self.amp_dtype)  # fp16 only

    @property
    def architecture(self) -> nn.Module:
        return self.model

    def train_mode(self, training: bool) -> None:
        self.model.train(training)  # every submodule: a prebuilt net's may be in eval mode

    def set_learning_rates(self, lrs: Sequence[float]) -> None:
        """The step's learning rate, in place when the whole-step graph keeps it in a device
        tensor (:func:`reslab.training.fastpath.device_learning_rates`)."""
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lrs[0])
            else:
                group["lr"] = lrs[0]

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, loss, backward and SGD update on ``(x, y)``; the loss and the errors."""
        with autocast(self.device, self.amp_dtype):
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
        return loss.detach().float().view(1), wrong.view(1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(1, B, classes)``: not through the DDP wrapper (no collectives in evaluation)."""
        return self.model(x).unsqueeze(0)

    def inputs(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        return batches[0]

    def net(self, k: int = 0) -> nn.Module:
        return self.model

    def first_nonfinite(self) -> str | None:
        return first_nonfinite_state(self.model, self.optimizer)

    def tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"model.{n}": t for n, t in self.model.named_parameters()}
        tensors.update({f"model.{n}": t for n, t in self.model.named_buffers()})
        return tensors

    def weights_state(self) -> dict[str, Any]:
        """The checkpoint's part of the net: weights, optimiser, gradient scaler."""
        state = {"model": self.model.state_dict(),
                 "optimizer": _host_lr(self.optimizer.state_dict())}
        if self.scaler is not None:
            state["grad_scaler"] = self.scaler.state_dict()
        return state

    def load_weights(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and "grad_scaler" in state:
            self.scaler.load_state_dict(state["grad_scaler"])


def _host_lr(state: dict[str, Any]) -> dict[str, Any]:
    """An optimiser state with its learning rates as numbers (the fast path keeps them in
    device tensors), so that checkpoints do not depend on the path that wrote them."""
    for group in state["param_groups"]:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"] = group["lr"].item()
    return state


class StackedNets:
    """``len(configs)`` nets of one architecture, one per config's seed, as one model.

    Seed ``k`` starts from the weights of ``train(model, seed=k)`` (:func:`build_net`); in
    training mode each seed's BN normalises with its own batch's statistics and updates its
    own running averages (``vmap`` maps the in-place update over the stacked buffers).
    """

    channels_last = False
    scaler = None

    def __init__(self, configs: Sequence[TrainConfig], data: ImageDataset,
                 device: torch.device) -> None:
        self.configs, self.device, self.data = list(configs), device, data
        models = [build_net(c, data).to(device) for c in configs]
        self.params, self.buffers = stack_module_state(models)
        self.template = copy.deepcopy(models[0]).to("meta")  # the architecture, no storage
        self.momentum: dict[str, torch.Tensor] = {}
        self._lrs: torch.Tensor | None = None      # per-seed learning rates, on the device
        self._lrs_host: list[float] | None = None  # what they hold, to copy only on change
        self._lr_views: list[torch.Tensor] = []
        dtype = autocast_dtype(device, configs[0].amp)
        self.amp_dtype = None if dtype is torch.float16 else dtype  # no gradient scaler here

    @property
    def architecture(self) -> nn.Module:
        return self.template

    def train_mode(self, training: bool) -> None:
        self.template.train(training)

    def net(self, k: int = 0) -> nn.Module:
        """Seed ``k``'s net (by position) as an ordinary module, in eval mode."""
        net = build_model(self.configs[0].model, **build_options(self.configs[0], self.data))
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

    def inputs(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each seed's own batch, stacked: ``(seeds, B, C, H, W)`` and ``(seeds, B)``."""
        return torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step of every seed on its own batch; each seed's loss and errors."""
        with autocast(self.device, self.amp_dtype):
            logits = self.forward(x)
        losses = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(),
                                 reduction="none").view(y.shape).mean(1)
        grads = torch.autograd.grad(losses.sum(), list(self.params.values()))
        self.update(grads)
        return losses.detach(), (logits.argmax(2) != y).sum(1).float()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x, x_dim=None)

    def set_learning_rates(self, lrs: Sequence[float]) -> None:
        """The seeds' learning rates as one device tensor, viewed to broadcast against each
        parameter; copied to the device only when they change (at a milestone, a ramp step
        or the end of the warm-up), so a constant-lr step makes no host-to-device copy."""
        if self._lrs_host != list(lrs):
            values = torch.tensor(list(lrs), dtype=torch.float32)
            if self._lrs is None:
                self._lrs = values.to(self.device)
                self._lr_views = [self._lrs.view(-1, *[1] * (w.dim() - 1))
                                  for w in self.params.values()]
            else:
                self._lrs.copy_(values, non_blocking=True)
            self._lrs_host = list(lrs)

    @torch.no_grad()
    def update(self, grads: Sequence[torch.Tensor]) -> None:
        """SGD with momentum and weight decay, as ``torch.optim.SGD`` (dampening 0), with a
        learning rate per seed: ``buf = m * buf + (g + wd * w)``; ``w -= lr_k * buf``.

        A handful of ``torch._foreach_*`` calls for all parameters (as ``torch.optim`` does),
        not several operators per parameter from Python.
        """
        c = self.configs[0]
        params = list(self.params.values())
        d_p = torch._foreach_add(list(grads), params, alpha=c.weight_decay)
        if not self.momentum:
            self.momentum = {name: t.clone() for name, t in zip(self.params, d_p)}
        else:
            bufs = list(self.momentum.values())
            torch._foreach_mul_(bufs, c.momentum)
            torch._foreach_add_(bufs, d_p)
        torch._foreach_addcmul_(params, list(self.momentum.values()), self._lr_views, value=-1)

    def first_nonfinite(self) -> str | None:
        """A weight, BN statistic or momentum buffer of any seed that is NaN/inf."""
        state = {"params": self.params, "buffers": self.buffers, "momentum": self.momentum}
        return first_nonfinite(named_tensors(state))

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"stacked.{n}": t for n, t in {**self.params, **self.buffers}.items()}

    def weights_state(self) -> dict[str, Any]:
        return {"params": self.params, "buffers": self.buffers, "momentum": self.momentum}

    @torch.no_grad()
    def load_weights(self, state: dict[str, Any]) -> None:
        for mine, saved in ((self.params, state["params"]), (self.buffers, state["buffers"])):
            for name, tensor in mine.items():
                tensor.copy_(saved[name])
        self.momentum = {k: v.to(self.device) for k, v in state["momentum"].items()}
