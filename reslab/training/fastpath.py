"""The whole training step as one CUDA graph: one launch per step instead of ~1,000.

An eager ResNet-20 step issues about 255 operators from Python (651 for ResNet-56, 1,246 for
ResNet-110); on a fast GPU the host, not the GPU, sets the pace. Here everything a step does on
the device -- gathering and augmenting the batch (:mod:`reslab.data.loader`), forward, loss,
backward, the fused SGD update with the learning rate in a device tensor, and the metric sums
-- is captured once with ``torch.cuda.graph`` and replayed every step. The host only writes the
step's learning rate and batch offset into device tensors (and the epoch's permutation, once
an epoch).

As PyTorch's CUDA-graphs notes require, the step first runs a few times on a side stream
(warm-up), and the capture sees only static tensors: the inputs above, the weights, the
gradients and momentum buffers (which must already exist), and the metric sums, which the
trainer zeroes in place. The warm-up trains for real, so the run's weights, buffers, momentum,
sums and RNG states are saved before it and put back after; the graphed run then starts exactly
where the eager one would. If capture fails, the run says so in one line and trains eagerly.

The graph checks itself. The first graph captured on a device in a process replays one step
against an eager step from the same state (:func:`disagreement`); if the loss sums, weights or
BN buffers differ by more than :data:`TOLERANCE`, that run and every later one on the device
train eagerly, with a one-line notice naming the difference. A GPU nobody has tested (a Colab
runtime) can then make training slower, never silently wrong.

Used for a run on one CUDA GPU without ``torch.compile`` (which has its own graphs), without
fp16's gradient scaler (whose overflow check reads the host) and without activation
checkpointing (which reads and sets RNG states to recompute stochastic depth exactly);
``TrainConfig.cuda_graph`` turns it off (False) or asks for it (True: a notice says why when
it cannot apply).
"""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from reslab.data.loader import DeviceLoader
from reslab.training.device import rng_state, set_rng_state

if TYPE_CHECKING:
    from reslab.training.run import Run

WARMUP_STEPS = 3  # iterations on a side stream before capture (PyTorch's whole-network example)
TOLERANCE = 1e-3  # graph vs eager after one step: largest |a - b| / max|b| of any tensor
AGREES: dict[str, bool] = {}  # device -> did its first graph replay as the eager step did?


def unsupported(run: Run) -> str | None:
    """Why ``run`` cannot train as a whole-step graph, or ``None`` when it can."""
    reasons = [(run.device.type != "cuda", "it needs a CUDA GPU"),
               (run.stacked, "seeds trained together are not captured"),
               (run.process.distributed, "it does not capture DistributedDataParallel"),
               (bool(run.compile), "torch.compile is on (use its reduce-overhead mode)"),
               (run.scaler is not None, "fp16's gradient scaler reads the host every step"),
               (run.config.activation_checkpointing,
                "activation checkpointing saves and restores RNG states, which a capture "
                "cannot"),
               (AGREES.get(str(run.device)) is False,
                "a graph on this device disagreed with the eager step earlier")]
    return next((why for bad, why in reasons if bad), None)


def when_supported(run: Run, loader: DeviceLoader) -> WholeStep | None:
    """The step :class:`~reslab.training.run.Run` is given by default: a :class:`WholeStep`
    when the run can use one and its config allows it, else ``None`` (eager steps); a run
    that asked for one (``cuda_graph=True``) and cannot have it says why in one line."""
    if run.config.cuda_graph is False:
        return None
    why = unsupported(run)
    if why is None:
        return WholeStep(run, loader)
    if run.config.cuda_graph and run.process.is_main:
        print(f"reslab: {run.label}: no whole-step CUDA graph ({why}); training eagerly")
    return None


class WholeStep:
    """One run's training step as a function of the step number, replayed from a CUDA graph.

    ``body()`` is the step itself, reading only static device tensors; calling the object
    with a step number prepares those tensors, captures the graph on first use (checking it
    against the eager step on a new device), and replays.
    """

    def __init__(self, run: Run, loader: DeviceLoader) -> None:
        if loader.world != 1:
            raise ValueError("a whole-step graph trains one process's full batch")
        self.run, self.loader, self.device = run, loader, run.device
        self.size = loader.batch_size
        self.start = torch.zeros((), dtype=torch.long, device=self.device)
        self.offsets = torch.arange(self.size, device=self.device)
        self.plan: dict[str, torch.Tensor] | None = None
        self.epoch: int | None = None
        self.graph: Any = None
        self.eager = False  # capture failed or disagreed: run ``body`` directly
        device_learning_rates(run.optimizer, self.device)

    def __call__(self, step: int) -> None:
        """Train ``self.run`` for one step (its ``step`` must equal ``step``)."""
        self.run.begin_step()
        self.prepare(step)
        if self.graph is None and not self.eager:
            self.graph = self.capture()
            if self.graph is not None:
                self.verify()
        if self.graph is not None:
            self.graph.replay()
        else:
            self.body()
        self.run.end_step(self.size)

    def prepare(self, step: int) -> None:
        """Write the step's inputs into the static tensors: the epoch's plan, the offset."""
        epoch, i = divmod(step, self.loader.steps_per_epoch)
        if epoch != self.epoch:
            plan = self.loader.epoch_plan(epoch)
            if self.plan is None:
                self.plan = {k: v.clone() for k, v in plan.items()}
            else:
                for k, v in plan.items():
                    self.plan[k].copy_(v)
            if self.device.type == "cuda":  # read here, maybe on a sweep's side stream
                for v in plan.values():
                    v.record_stream(torch.cuda.current_stream(self.device))
            self.epoch = epoch
        self.start.fill_(i * self.size)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's batch, exactly as :meth:`DeviceLoader.batch` makes it, but indexed by
        device tensors (a host slice would be frozen into the graph)."""
        return self.loader.gather(self.plan, self.start + self.offsets)

    def body(self) -> None:
        """The whole step on the device: batch, forward, loss, backward, SGD, metric sums."""
        self.run.sgd_step(*self.batch())

    def capture(self) -> Any:
        """Warm up on a side stream, put the run back as it was, capture ``body`` as a graph.

        On failure: restore the run, print one line, and return ``None`` (train eagerly).
        """
        device_learning_rates(self.run.optimizer, self.device)  # a resume loads numbers
        saved = snapshot(self.run)
        try:
            warm_up(self.body, self.device)
            restore(self.run, saved)
            self.run.optimizer.zero_grad(set_to_none=True)  # grads come from the graph's pool
            return capture_graph(self.body, self.device)
        except Exception as error:  # noqa: BLE001 - any failure: fall back to eager
            self.fall_back(f"capture failed ({type(error).__name__}: {_first_line(error)})",
                           saved)
            return None

    def verify(self) -> None:
        """The first graph on a device: one replay against one eager step from the same
        state; on disagreement, train eagerly from here on (every run on the device)."""
        key = str(self.device)
        if key in AGREES:
            return
        difference = disagreement(self.run, self.graph.replay, self.body)
        AGREES[key] = difference is None
        if difference is not None:
            self.graph = None
            self.fall_back(f"disagrees with the eager step ({difference})")

    def fall_back(self, why: str, saved: dict[str, Any] | None = None) -> None:
        """Put the run back as ``saved`` (if given), say ``why`` in one line, train eagerly."""
        if saved is not None:
            restore(self.run, saved)
        self.run.optimizer.zero_grad(set_to_none=True)
        self.eager = True
        print(f"reslab: {self.run.label}: whole-step CUDA graph {why}; training eagerly")


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0][:120]


def warm_up(body: Callable[[], None], device: torch.device, steps: int = WARMUP_STEPS) -> None:
    """Run ``body`` ``steps`` times on a side stream, ordered after and before the current
    stream's work (cuDNN and cuBLAS choose and allocate outside the capture)."""
    main = torch.cuda.current_stream(device)
    side = torch.cuda.Stream(device)
    side.wait_stream(main)
    with torch.cuda.stream(side):
        for _ in range(steps):
            body()
    main.wait_stream(side)


def capture_graph(body: Callable[[], None], device: torch.device) -> Any:
    """``body`` captured as a ``torch.cuda.CUDAGraph`` with a private memory pool.

    What ``torch.cuda.graph`` does, written out so that the capture stream is left whatever
    happens: if ``capture_end`` raises (an invalid capture), the context manager would leave
    its capture stream current for the rest of the process, and the eager fallback would run
    on it. Garbage is collected first: earlier runs and their graphs refer to each other, and
    a collection that freed one of those graphs during this capture could break it.
    """
    torch.cuda.synchronize(device)
    gc.collect()
    main = torch.cuda.current_stream(device)
    stream = torch.cuda.Stream(device)
    stream.wait_stream(main)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream):  # exits, and restores the current stream, on any error
        graph.capture_begin()
        try:
            body()
        except BaseException:
            with contextlib.suppress(Exception):
                graph.capture_end()
            raise
        graph.capture_end()
    main.wait_stream(stream)
    return graph


def disagreement(run: Run, replay: Callable[[], None], eager: Callable[[], None],
                 tolerance: float = TOLERANCE) -> str | None:
    """Run one step both ways from the same state; the largest difference when it exceeds
    ``tolerance`` ("model.fc.weight: 3.1e-02 (tolerance 1e-03)"), else ``None``.

    The run is put back as it was after each. Not bitwise: the graph's learning rate is a
    float32 device tensor and eager SGD's a Python float (about 1e-8 relative), and some
    cuDNN backward kernels sum in a different order each time.
    """
    saved = snapshot(run)
    results = []
    for step in (replay, eager):
        step()
        results.append({k: t.detach().float().clone() for k, t in run.step_tensors().items()})
        restore(run, saved)
    worst, name = max((_relative(results[0][k], results[1][k]), k) for k in results[1])
    if worst <= tolerance:
        return None
    return f"{name}: {worst:.1e} (tolerance {tolerance:.0e})"


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max|a - b| / max|b|`` (the denominator at least 1e-6; NaN counts as infinite)."""
    if a.numel() == 0:
        return 0.0
    value = ((a - b).abs().max() / b.abs().max().clamp(min=1e-6)).item()
    return value if value == value else float("inf")


def device_learning_rates(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Learning rates as device tensors, written in place each step (fused SGD reads them)."""
    for group in optimizer.param_groups:
        lr = group["lr"]
        if not (isinstance(lr, torch.Tensor) and lr.device == device):
            group["lr"] = torch.tensor(float(lr), device=device)


def snapshot(run: Run) -> dict[str, Any]:
    """Copies of everything a training step changes: weights, buffers, momentum, metric sums,
    the device step counter and the finiteness watch, RNG states (what :func:`restore` puts
    back)."""
    momentum = [run.optimizer.state.get(p, {}).get("momentum_buffer")
                for p in run.model.parameters()]
    return {"tensors": {k: t.detach().clone() for k, t in run.step_tensors().items()},
            "momentum": [None if m is None else m.clone() for m in momentum],
            "rng": rng_state(run.device)}


def restore(run: Run, saved: dict[str, Any]) -> None:
    """Put back a :func:`snapshot`, in place (the tensors keep their addresses).

    A momentum buffer that did not exist is zeroed: SGD's first step, ``buf = grad``, is then
    the same as its later rule ``buf = momentum * buf + grad``.
    """
    with torch.no_grad():
        for name, tensor in run.step_tensors().items():
            tensor.copy_(saved["tensors"][name])
        for p, copy in zip(run.model.parameters(), saved["momentum"]):
            buf = run.optimizer.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                buf.copy_(copy) if copy is not None else buf.zero_()
    set_rng_state(saved["rng"], run.device)

