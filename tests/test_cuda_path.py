"""The CUDA path, checked on the CPU: each test here would have caught one bug of issue 11.

Resume wherever tensors were mapped; compile with activation checkpointing; no CUDA graphs on
side streams; nine nets compiled in one process; deterministic mode scoped and safe; one GPU
per torchrun process, SyncBN, exact image counts; precision by device; the whole-step graph's
eager body, its batch, its warm-up and its fallback.
"""
from __future__ import annotations

import copy
import gc
import warnings
from contextlib import contextmanager, nullcontext
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from reslab import training as T
from reslab.data import SHAPES10_CLASSES, ImageDataset, make_shapes10
from reslab.models import build_model
from reslab.training import compilation, determinism, distributed, fastpath, precision
from reslab.training import replicas
from reslab.training.activation_checkpointing import set_activation_checkpointing
from reslab.training.checkpoint import load_checkpoint
from reslab.training.finite import NEVER

TINY_NET = {"model": "resnet", "model_options": {"depth": 8, "widths": (4, 8, 8)}}
SMALL = dict(batch_size=32, device="cpu", train_subset=None, test_subset=None)


@pytest.fixture(scope="module")
def shapes() -> ImageDataset:
    """256 training and 64 test images of shapes10, generated in a second."""
    x, y = make_shapes10(320, seed=0)
    return ImageDataset("shapes10", x[:256], y[:256], x[256:], y[256:], SHAPES10_CLASSES,
                        "make_shapes10(320)")


def _config(**overrides) -> T.TrainConfig:
    return T.config_from("smoke", **{**TINY_NET, **SMALL, **overrides})


def _fit(data, out=None, **overrides):
    config = _config(**overrides)
    return T.fit([config], ["tiny"], [out], data, resume=out is not None, progress=False)[0]


def _state(run: T.Run) -> dict[str, torch.Tensor]:
    momentum = {f"momentum.{i}": run.optimizer.state[p]["momentum_buffer"]
                for i, p in enumerate(run.model.parameters()) if p in run.optimizer.state}
    sums = run.step_tensors()
    return {**run.model.state_dict(), **momentum, "loss": sums["train loss sum"],
            "errors": sums["training errors"]}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# 1. Resume must not depend on where torch.load mapped the checkpoint ----------

def test_resume_restores_rng_whatever_device_the_run_maps_to(tmp_path, shapes):
    """A run on a device that is not the CPU (here ``meta``, as a stand-in for CUDA) resumes:
    the RNG states go back as CPU tensors. Loading with ``map_location=run.device`` made them
    device tensors, which ``torch.set_rng_state`` refuses."""
    _fit(shapes, tmp_path, iterations=4, eval_every=2)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    torch.manual_seed(123)  # something else, so that a restore shows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # copying into meta tensors is a no-op, and says so
        run = T.Run("tiny", _config(iterations=4, eval_every=2), shapes,
                    torch.device("meta"), tmp_path)
        assert run.resume()
    assert run.step == 4 and len(run.history.records) == 2
    assert torch.equal(torch.get_rng_state(), saved["rng"]["torch"])


# 2. torch.compile together with activation checkpointing ----------

def _train_tiny(checkpointing: bool, backend=None, steps: int = 3) -> nn.Module:
    torch.manual_seed(0)
    model = build_model("resnet", depth=8, widths=(4, 8, 8))
    set_activation_checkpointing(model, checkpointing)
    forward = compilation.compiled(model, backend=backend) if backend else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(forward(x), y).backward()
        opt.step()
    return model


def test_activation_checkpointing_changes_memory_not_results_eager_and_compiled():
    """Eager: bitwise the same weights and BN statistics (counted once, not twice).
    Compiled (Dynamo + AOTAutograd): checkpointing used to fail at step 0 with
    ``checkpoint not implemented for ... context_fn``; now it trains, counting BN once."""
    plain = _train_tiny(False).state_dict()
    eager = _train_tiny(True).state_dict()
    _assert_same(plain, eager)
    compiled = _train_tiny(True, backend="aot_eager").state_dict()
    assert compiled.keys() == plain.keys()
    for key, value in plain.items():
        if key.endswith("num_batches_tracked"):
            assert compiled[key].item() == value.item() == 3, key
        else:
            torch.testing.assert_close(compiled[key], value, rtol=1e-4, atol=1e-5)


# 3. Only graphs with private pools replay on the side streams of a sweep ----------

def test_cuda_graph_modes_are_known():
    assert compilation.uses_cuda_graphs("reduce-overhead")
    assert compilation.uses_cuda_graphs("max-autotune")
    for setting in (False, True, "default", "max-autotune-no-cudagraphs"):
        assert not compilation.uses_cuda_graphs(setting), setting


def test_whole_step_graphs_get_side_streams_but_compiled_graphs_do_not(monkeypatch, shapes):
    """Each whole-step graph has a private memory pool, so a sweep's graphs may replay on
    their own streams (review defect 12); torch.compile's graphs share one pool and may not."""
    monkeypatch.setattr(torch.cuda, "Stream", lambda device: object())
    cuda = torch.device("cuda")
    eager = [SimpleNamespace(shares_graph_pool=False) for _ in range(3)]
    assert len(T.side_streams(eager, cuda)) == 3
    assert T.side_streams(eager, torch.device("cpu")) is None
    whole_step = T.Run("tiny", _config(), shapes, torch.device("cpu"), None,
                       whole_step=lambda run, loader: object())  # as a run on a GPU has
    whole_step.device = cuda
    assert whole_step.uses_cuda_graphs and not whole_step.shares_graph_pool
    assert len(T.side_streams(eager[:2] + [whole_step], cuda)) == 3
    run = T.Run("tiny", _config(compile="reduce-overhead"), shapes, torch.device("cpu"), None)
    run.device = cuda  # what the run would be on a GPU (compiling happens at the first call)
    assert run.uses_cuda_graphs and run.shares_graph_pool
    assert T.side_streams(eager[:2] + [run], cuda) is None


# 4. The ninth net compiled in one process is compiled too ----------

def test_nine_distinct_nets_are_all_compiled_in_one_process():
    """They share ``StagedNet.forward``; Dynamo's default limit of 8 versions of one function
    let the ninth run eagerly without a word."""
    import torch._dynamo
    import torch._dynamo.config as dynamo_config

    # the default, whatever ran before (set and restored by hand: monkeypatch's undo breaks
    # Dynamo's config module, which serves these names through __getattr__)
    before_limit = dynamo_config.recompile_limit
    dynamo_config.recompile_limit = 8
    try:
        _compile_nine_nets()
    finally:
        dynamo_config.recompile_limit = before_limit


def _compile_nine_nets() -> None:
    import torch._dynamo
    torch._dynamo.reset()
    compiles = []

    def backend(graph, example_inputs):
        compiles.append(graph)
        return graph.forward

    nets = [(family, depth) for depth in (8, 14, 20, 26) for family in ("plain", "resnet")]
    nets.append(("resnet", 32))
    x = torch.randn(2, 3, 32, 32)
    for family, depth in nets:
        net = build_model(family, depth=depth, widths=(2, 2, 2)).eval()
        before = len(compiles)
        compilation.compiled(net, backend=backend)(x)
        assert len(compiles) > before, f"{family}{depth} ran without being compiled"
    torch._dynamo.reset()


# 5. Deterministic mode: safe on CUDA, and only for the run ----------

def test_deterministic_mode_sets_the_cublas_workspace_and_is_restored(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    assert not torch.are_deterministic_algorithms_enabled()
    with determinism.deterministic(True, torch.device("cuda")):
        assert torch.are_deterministic_algorithms_enabled()
        import os
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_deterministic_run_leaves_the_process_as_it_found_it(shapes):
    _fit(shapes, iterations=2, eval_every=2, deterministic=True)
    assert not torch.are_deterministic_algorithms_enabled()


# 6. torchrun: one GPU per process, SyncBN, exact image counts ----------

def test_each_torchrun_process_takes_its_own_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert T.pick_device("cuda", local_rank=1) == torch.device("cuda", 1)
    assert T.pick_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert T.pick_device("cuda:0", local_rank=1) == torch.device("cuda", 0)  # as asked
    chosen, ddp = [], []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.nn.parallel, "DistributedDataParallel",
                        lambda model, **kwargs: ddp.append(kwargs) or model)
    process = distributed.Process(rank=1, world_size=2, local_rank=1)
    with distributed.joined(process, torch.device("cuda", 1)):  # joined before: kept
        distributed.wrap(nn.Linear(2, 2), process, torch.device("cuda"))
    assert chosen == [torch.device("cuda", 1)]
    assert ddp[0]["device_ids"] == [1]


def test_sync_bn_converts_every_bn_layer_when_distributed():
    def count(model, kind):
        return sum(isinstance(m, kind) for m in model.modules())

    two = distributed.Process(rank=0, world_size=2)
    model = build_model("resnet20")
    bns = count(model, nn.BatchNorm2d)
    synced = distributed.sync_batch_norm(model, two, torch.device("cuda", 0), True)
    assert count(synced, nn.SyncBatchNorm) == bns > 0
    alone = distributed.sync_batch_norm(build_model("resnet20"), distributed.Process(),
                                        torch.device("cuda", 0), True)
    assert count(alone, nn.SyncBatchNorm) == 0  # one process already sees the whole batch
    with pytest.raises(ValueError, match="sync_bn needs CUDA"):
        distributed.sync_batch_norm(build_model("resnet20"), two, torch.device("cpu"), True)
    assert _config(sync_bn=True).sync_bn


def test_images_are_counted_as_each_process_saw_them(monkeypatch, shapes):
    """Rank 0 of 2 sees 31 images a step while rank 1 sees 33; the mean is over all 64.
    ``_seen * world_size`` counted 62."""
    run = T.Run("tiny", _config(), shapes, torch.device("cpu"), None)
    run.process = distributed.Process(rank=0, world_size=2)
    other = torch.tensor([33 * 2.5, 33 * 0.75, 33.0])  # the other process: loss, errors, n

    def sum_with_other_process(tensor):
        return tensor + other * (tensor[2] / 31)  # scaled to as many steps as ours

    monkeypatch.setattr(T.distributed, "sum_across", sum_with_other_process)
    x, y = shapes.train_images[:31].float() / 255, shapes.train_labels[:31]
    for _ in range(2):
        run.train_step(x, y)
    sums = run.step_tensors()
    own_loss, own_errors = sums["train loss sum"].item(), sums["training errors"].item()
    record, = run.end_period(shapes.eval_images[:31], shapes.eval_labels[:31])
    assert record["train_loss"] == pytest.approx((own_loss + 2 * 33 * 2.5) / 128, rel=1e-5)
    assert record["train_error"] == pytest.approx((own_errors + 2 * 33 * 0.75) / 128, rel=1e-5)


# 7. Precision by device ----------

@pytest.mark.parametrize("capability,dtype,scaled", [
    ((9, 0), torch.bfloat16, False), ((8, 0), torch.bfloat16, False),
    ((7, 5), torch.float16, True), ((7, 0), torch.float16, True), ((6, 1), None, False)])
def test_cuda_precision_follows_compute_capability(monkeypatch, capability, dtype, scaled):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    cuda = torch.device("cuda", 0)
    assert precision.autocast_dtype(cuda, None) is dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a GradScaler on a machine without CUDA warns
        assert (precision.grad_scaler(cuda, dtype) is not None) is scaled
    assert precision.autocast_dtype(cuda, False) is None
    assert precision.autocast_dtype(cuda, "bf16") is torch.bfloat16


def test_auto_picks_apples_gpu_in_fp32(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    device = T.pick_device("auto")
    assert device == torch.device("mps")
    assert precision.autocast_dtype(device, None) is None
    assert precision.grad_scaler(device, None) is None
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert T.pick_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="Apple GPU"):
        T.pick_device("mps")


def test_fp16_with_a_gradient_scaler_trains_and_resumes(monkeypatch, tmp_path, shapes):
    """The T4/V100 branch (fp16 autocast, scaled loss), run with the CPU's scaler."""
    monkeypatch.setattr(replicas, "grad_scaler", lambda device, dtype: torch.amp.GradScaler(
        "cpu", init_scale=2.0 ** 8))
    history = _fit(shapes, tmp_path, iterations=4, eval_every=2, amp="fp16")
    assert history.meta["precision"] == "float16"
    assert all(0 < r["train_loss"] < 10 for r in history.records)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["grad_scaler"]["scale"] > 0
    with pytest.raises(ValueError, match="amp must be"):
        precision.autocast_dtype(torch.device("cpu"), "fp8")


# The whole-step fast path: everything but the capture itself ----------

def test_model_train_is_called_only_when_the_mode_changes(monkeypatch, shapes):
    calls = []
    real = nn.Module.train
    monkeypatch.setattr(nn.Module, "train", lambda self, mode=True: calls.append(
        (type(self).__name__, mode)) or real(self, mode))
    _fit(shapes, iterations=6, eval_every=3)
    # at the first step and after the first evaluation; was every step
    assert calls.count(("CifarResNet", True)) == 2


def test_a_prebuilt_net_with_submodules_in_eval_mode_trains_in_train_mode(shapes):
    # successive training hands fit a net whose stages an earlier phase left in eval mode
    # while the net itself still says training=True: BN must still use batch statistics
    config = _config(iterations=1, eval_every=1)
    net = build_model("resnet20", num_classes=shapes.num_classes)
    net.stages.eval()
    run = T.Run("prebuilt", config, shapes, torch.device("cpu"), None, model=net)
    run.begin_step()
    assert all(m.training for m in net.modules())


def _runs_and_loader(shapes, graphed: bool = False, **overrides):
    """An eager run and a second run (given a whole-step graph when ``graphed``) sharing a
    loader, as a sweep's."""
    config = _config(**overrides)
    loader = T.make_loader(config, shapes, torch.device("cpu"), distributed.Process(), True)
    steps = (None, fastpath.WholeStep if graphed else fastpath.when_supported)
    runs = [T.Run("tiny", config, shapes, torch.device("cpu"), None, loader=loader,
                  whole_step=step) for step in steps]
    return runs, loader


def test_whole_step_batch_is_the_loaders_batch(shapes):
    (run, _), loader = _runs_and_loader(shapes)
    step = fastpath.WholeStep(run, loader)
    for s in (0, 1, 7, 8, 9, 17):  # 8 steps an epoch: across two epoch boundaries
        step.prepare(s)
        for mine, theirs in zip(step.batch(), loader.batch(s)):
            assert torch.equal(mine, theirs), s


def test_whole_step_body_computes_the_eager_step(shapes):
    """The body a CUDA graph captures, run directly with a device-tensor learning rate, gives
    bitwise the weights, momentum and metric sums of the trainer's eager step."""
    (eager, graphed), loader = _runs_and_loader(shapes, True, warmup="on", warmup_window=2)
    graphed.whole_step.eager = True  # no capture on the CPU: the body runs as it is
    assert isinstance(graphed.optimizer.param_groups[0]["lr"], torch.Tensor)
    for s in range(10):
        T.train_all([eager, graphed], s, None)
        assert eager.last_lrs == graphed.last_lrs and eager.warming == graphed.warming
    _assert_same(_state(eager), _state(graphed))


def _fake_cuda(monkeypatch, fail_in: str) -> None:
    """CUDA streams that run on the CPU, and a failure in the warm-up or at the capture."""
    def failure():
        raise RuntimeError("CUDA graphs are not available here\nsecond line")

    @contextmanager
    def stream(s):
        yield
        if fail_in == "warm-up":
            failure()  # after the warm-up steps ran

    _fake_streams(monkeypatch, stream)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", failure)


def _fake_streams(monkeypatch, stream) -> None:
    side = SimpleNamespace(wait_stream=lambda other: None)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: side)
    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: side)
    monkeypatch.setattr(torch.cuda, "stream", stream)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(fastpath, "AGREES", {})


@pytest.mark.parametrize("fail_in", ["warm-up", "capture"])
def test_failed_capture_puts_the_run_back_and_trains_eagerly(monkeypatch, capsys, shapes,
                                                             fail_in):
    """The warm-up trains for real; when it or the capture then fails, the run must continue
    from where it was before the warm-up, as if the graph had never been tried."""
    _fake_cuda(monkeypatch, fail_in)
    (eager, graphed), loader = _runs_and_loader(shapes, True)
    for s in range(5):
        T.train_all([eager, graphed], s, None)
    _assert_same(_state(eager), _state(graphed))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == ["reslab: tiny: whole-step CUDA graph capture failed (RuntimeError: CUDA "
                     "graphs are not available here); training eagerly"]


class _FakeGraph:
    """A "CUDA graph" on the CPU: replaying runs the run's body, optionally followed by a
    corruption (what a miscompiled or misordered graph would do)."""

    def __init__(self, step: fastpath.WholeStep, corrupt=None, end_fails: bool = False):
        self.step, self.corrupt, self.end_fails = step, corrupt, end_fails

    def capture_begin(self):  # a real capture records the body's kernels without running them
        self.before = fastpath.snapshot(self.step.run)

    def capture_end(self):
        fastpath.restore(self.step.run, self.before)
        if self.end_fails:
            raise RuntimeError("operation not permitted when stream is capturing")

    def replay(self):
        self.step.body()
        if self.corrupt is not None:
            self.corrupt(self.step.run)


def _graphed_pair(monkeypatch, shapes, **graph):
    """An eager run and a run with a whole-step "graph" (see :class:`_FakeGraph`), and a
    record of the capture stream's entries and exits."""
    entered = []

    @contextmanager
    def stream(s):
        entered.append(s)
        try:
            yield
        finally:
            entered.pop()

    _fake_streams(monkeypatch, stream)
    (eager, graphed), loader = _runs_and_loader(shapes, True)
    monkeypatch.setattr(torch.cuda, "CUDAGraph",
                        lambda: _FakeGraph(graphed.whole_step, **graph))
    return eager, graphed, loader, entered


def test_a_graph_that_agrees_with_the_eager_step_is_kept(monkeypatch, capsys, shapes):
    eager, graphed, loader, _ = _graphed_pair(monkeypatch, shapes)
    for s in range(5):
        T.train_all([eager, graphed], s, None)
    assert graphed.whole_step.graph is not None and not graphed.whole_step.eager
    assert fastpath.AGREES == {"cpu": True}
    _assert_same(_state(eager), _state(graphed))
    assert capsys.readouterr().out == ""


def test_a_graph_that_disagrees_with_the_eager_step_falls_back_in_one_line(monkeypatch,
                                                                             capsys, shapes):
    """The trainer's self-check: an injected mismatch (the graph's step also nudges the last
    layer's bias) is found in the first replay; the run goes on eagerly from the state before
    it, exactly as an eager run, and later runs on the device get no graph."""
    def corrupt(run):
        with torch.no_grad():
            run.model.head[2].bias.add_(0.5)

    eager, graphed, loader, _ = _graphed_pair(monkeypatch, shapes, corrupt=corrupt)
    for s in range(5):
        T.train_all([eager, graphed], s, None)
    assert graphed.whole_step.graph is None and graphed.whole_step.eager
    _assert_same(_state(eager), _state(graphed))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "reslab: tiny: whole-step CUDA graph disagrees with the eager step (model.head.2.bias: ")
    assert lines[0].endswith("(tolerance 1e-03)); training eagerly")
    assert fastpath.AGREES == {"cpu": False}
    later = copy.copy(graphed)
    later.device = torch.device("cuda")
    fastpath.AGREES["cuda"] = fastpath.AGREES["cpu"]  # as if the check had run on that GPU
    assert "disagreed with the eager step" in fastpath.unsupported(later)


def test_a_failing_capture_end_leaves_the_capture_stream(monkeypatch, capsys, shapes):
    """Review defect 11: ``torch.cuda.graph`` left its capture stream current when
    ``capture_end`` raised, so the eager fallback ran on it for the rest of the process."""
    eager, graphed, loader, entered = _graphed_pair(monkeypatch, shapes, end_fails=True)
    for s in range(4):
        T.train_all([eager, graphed], s, None)
        assert entered == []  # no stream context is left open after a step
    assert graphed.whole_step.eager
    _assert_same(_state(eager), _state(graphed))
    assert "capture failed (RuntimeError: operation not permitted" in capsys.readouterr().out


def test_garbage_is_collected_before_each_capture(monkeypatch):
    """Issue 24: earlier runs and their graphs refer to each other; collected during a later
    capture, a freed graph could break it. So the capture collects garbage first."""
    events = []
    _fake_streams(monkeypatch, nullcontext)
    monkeypatch.setattr(gc, "collect", lambda *args: events.append("collect") or 0)

    class Graph:
        def capture_begin(self):
            events.append("capture")

        def capture_end(self):
            events.append("end")

    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    for _ in range(2):
        fastpath.capture_graph(lambda: events.append("body"), torch.device("cpu"))
    assert events == ["collect", "capture", "body", "end"] * 2


def test_the_warm_up_does_not_move_the_step_counter_or_the_finiteness_watch(shapes):
    """Review defect 10: the warm-up's steps advanced the device step counter and could set
    the first non-finite step, so a NaN was reported at the wrong step."""
    (run, _), loader = _runs_and_loader(shapes)
    step = fastpath.WholeStep(run, loader)
    step.prepare(0)
    saved = fastpath.snapshot(run)
    with torch.no_grad():
        run.model.head[2].bias.fill_(float("nan"))  # the warm-up steps now see a NaN loss
    for _ in range(3):
        step.body()
    assert int(run.step_tensors()["step counter"]) == 3
    assert int(run.step_tensors()["first non-finite step"]) == 1
    fastpath.restore(run, saved)
    assert int(run.step_tensors()["step counter"]) == 0
    assert int(run.step_tensors()["first non-finite step"]) == NEVER
    assert torch.isfinite(run.model.head[2].bias).all()


def test_cudnn_autotunes_cuda_runs_and_is_restored(monkeypatch):
    """Review defect 13: cudnn.benchmark was never set; it is on for a non-deterministic CUDA
    run (chosen during the graph's warm-up), off for a deterministic one, untouched on CPU."""
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    with determinism.cudnn_autotune(True, torch.device("cuda")):
        assert torch.backends.cudnn.benchmark
    assert torch.backends.cudnn.benchmark is False
    with determinism.cudnn_autotune(False, torch.device("cuda")):
        assert not torch.backends.cudnn.benchmark
    with determinism.cudnn_autotune(True, torch.device("cpu")):
        assert torch.backends.cudnn.benchmark is False


def test_whole_step_graphs_only_where_they_apply(capsys, shapes):
    (run, _), loader = _runs_and_loader(shapes, cuda_graph=True)
    assert run.whole_step is None
    assert "no whole-step CUDA graph (it needs a CUDA GPU); training eagerly" in \
        capsys.readouterr().out
    fake_gpu = copy.copy(run)
    fake_gpu.device = torch.device("cuda")
    assert fastpath.unsupported(fake_gpu) is None
    fake_gpu.config = _config(compile=True)
    assert "torch.compile" in fastpath.unsupported(fake_gpu)
    fake_gpu.config = _config(activation_checkpointing=True)
    assert "activation checkpointing" in fastpath.unsupported(fake_gpu)


def test_deterministic_cuda_runs_swap_the_pooling_without_a_deterministic_backward():
    """``AdaptiveAvgPool2d``'s CUDA backward raises in deterministic mode; the mean that
    replaces it computes the same numbers and keeps the state dict as it was."""
    model = build_model("resnet20").eval()
    x = torch.randn(4, 3, 32, 32, requires_grad=True)
    before, keys = model(x), list(model.state_dict())
    (grad_before,) = torch.autograd.grad(before.sum(), x)
    assert determinism.deterministic_pooling(model) == 1
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in model.modules())
    after = model(x)
    (grad_after,) = torch.autograd.grad(after.sum(), x)
    torch.testing.assert_close(after, before)
    torch.testing.assert_close(grad_after, grad_before)
    assert list(model.state_dict()) == keys


def test_importing_reslab_fixes_the_cublas_workspace_before_any_gpu_work():
    """Review defect 14: cuBLAS reads CUBLAS_WORKSPACE_CONFIG at its first use, so a
    deterministic run after earlier GPU work in a notebook raised; ``import reslab`` sets it
    first (and keeps a value the user chose)."""
    import os
    import subprocess
    import sys
    code = "import os, reslab; print(os.environ.get('CUBLAS_WORKSPACE_CONFIG'))"
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [determinism.CUBLAS_WORKSPACE]
    env["CUBLAS_WORKSPACE_CONFIG"] = ":16:8"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [":16:8"]


def test_compile_auto_follows_the_measured_rule(monkeypatch, shapes):
    """``compile="auto"``: compile only on a CPU with AMX (where benchmarks/cpu_step.py found
    compiling faster) and for runs long enough to pay the compile back; never on CUDA, where
    the whole-step graph stays."""
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(compilation, "cpu_has_amx", lambda: True)
    assert compilation.choose("auto", cpu, 64_000) is True
    assert compilation.choose("auto", cpu, compilation.AUTO_MIN_ITERATIONS - 1) is False
    assert compilation.choose("auto", cuda, 64_000) is False
    monkeypatch.setattr(compilation, "cpu_has_amx", lambda: False)
    assert compilation.choose("auto", cpu, 64_000) is False
    assert compilation.choose(True, cpu, 8) is True
    assert compilation.choose("max-autotune", cpu, 8) == "max-autotune"
    run = T.Run("tiny", _config(compile="auto", iterations=64_000), shapes, cpu, None)
    assert run.compile is False and run.nets.forward is run.model
    run.device = cuda  # on a GPU "auto" keeps the whole-step graph
    assert fastpath.unsupported(run) is None
