"""The selftest's tools: build runs as ``fit`` does, train them step by step, compare their
weights and loss curves, and count the operators a step issues."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from reslab.data import ImageDataset
from reslab.tools.selftest.records import Context
from reslab.training import distributed, fastpath, loop
from reslab.training.config import TrainConfig
from reslab.training.device import pick_device
from reslab.training.replicas import channels_last
from reslab.training.run import Run, make_loader


def build_runs(configs: Sequence[TrainConfig], data: ImageDataset) -> tuple[list[Run], Any]:
    """Runs as ``fit`` makes them (whole-step graphs where they apply), and their shared
    loader."""
    device = pick_device(configs[0].device)
    loader = make_loader(configs[0], data, device, distributed.Process(),
                         channels_last(configs[0]))
    runs = [Run(f"{c.model}-{i}", c, data, device, None, loader=loader,
                whole_step=fastpath.when_supported)
            for i, c in enumerate(configs)]
    return runs, loader


def train_steps(runs: Sequence[Run], loader: Any, steps: int, period: int = 0,
                streams: list | None | str = "auto") -> list[list]:
    """Train ``steps`` steps with the trainer's loop; every ``period`` steps, each run's mean
    training loss so far. ``loader``: the runs' shared loader (they hold it already).

    ``streams``: "auto" gives a sweep the trainer's side streams on CUDA; None, one stream.
    The default stream waits for every side stream before anything is read (and at the end),
    so weights read afterwards are the trained ones.
    """
    streams = loop.side_streams(runs, runs[0].device) if streams == "auto" else streams
    curves: list[list[float]] = [[] for _ in runs]
    step, end = runs[0].step, runs[0].step + steps
    while step < end:
        stop = min(end, (step // period + 1) * period) if period else end
        loop.train_steps(runs, step, stop, streams)
        if period and stop % period == 0:
            for run, curve in zip(runs, curves):
                curve.append(run.period_loss())
                run.reset_metrics()
        step = stop
    return curves


def weights(run: Run) -> list[torch.Tensor]:
    return [t.detach().float().cpu() for t in run.model.state_dict().values()]


def largest_difference(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """The largest ``max|x - y| / max|y|`` over pairs of tensors (0: bitwise the same)."""
    return max(((x - y).abs().max() / y.abs().max().clamp(min=1e-6)).item()
               for x, y in zip(a, b))


def verdict(difference: float, tolerance: float, what: str) -> tuple[str, str]:
    """PASS when within ``tolerance``, saying whether bitwise; else FAIL with the number."""
    same = "bitwise the same" if difference == 0 else f"largest difference {difference:.1e}"
    status = "PASS" if difference <= tolerance else "FAIL"
    return status, f"{what}: {same} (tolerance {tolerance:.0e})"


@contextmanager
def no_tf32() -> Iterator[None]:
    """Matrix products and convolutions in full fp32 inside, as before afterwards: where fp32
    results are compared, TF32's 10-bit mantissa (cuDNN's default on Ampere and later) would
    be noise above the tolerance."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = matmul.allow_tf32, cudnn.allow_tf32
    matmul.allow_tf32 = cudnn.allow_tf32 = False
    try:
        yield
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = saved


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class OperatorCount(TorchDispatchMode):
    """Counts the ATen operators the host issues (forward, backward and optimiser alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def trained_weights(ctx: Context, steps: int = 6, **overrides: Any) -> list[torch.Tensor]:
    (run,), loader = build_runs([ctx.config(**overrides)], ctx.data)
    train_steps([run], loader, steps)
    return weights(run)
