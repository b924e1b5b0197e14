"""Seeds trained together: seed k of the batch is the solo run with seed k, resumably."""
from __future__ import annotations

import pytest
import torch

import reslab
from reslab import training as T
from reslab.data import SHAPES10_CLASSES, ImageDataset, make_shapes10
from reslab.training import seeds as S
from reslab.training.history import History

# fp32 and one memory layout: the comparisons with solo runs are then tight; weight decay
# large enough to show in a few steps
TINY = dict(budget="smoke", model_options={"depth": 8, "widths": (4, 8, 8)}, batch_size=32,
            train_subset=None, test_subset=None, device="cpu", amp=False, channels_last=False,
            weight_decay=0.02, progress=False)


@pytest.fixture(scope="module")
def shapes() -> ImageDataset:
    x, y = make_shapes10(320, seed=0)
    return ImageDataset("shapes10", x[:256], y[:256], x[256:], y[256:], SHAPES10_CLASSES,
                        "make_shapes10(320)")


def _solo(data: ImageDataset, seed: int, steps: int) -> T.Run:
    """``train("resnet", seed=seed)``'s model after ``steps`` steps (a Run, to see weights)."""
    options = {k: v for k, v in TINY.items() if k != "progress"}
    config = T.config_from(model="resnet", seed=seed, iterations=steps, **options)
    run = T.Run("solo", config, data, torch.device("cpu"), None)
    for _ in range(steps):
        run.train_step()
    return run


def test_each_seed_of_the_batch_is_its_solo_run(shapes):
    """Same initial weights, same batches, BN statistics per seed: seed k of the batched run
    follows the solo run with seed k (up to the order of floating-point sums)."""
    config = dict(TINY)
    config.pop("progress")
    configs = [T.config_from(model="resnet", seed=k, iterations=6, **config) for k in (0, 1, 2)]
    batch = S.seed_run(configs, shapes, torch.device("cpu"))
    for _ in range(6):
        batch.train_step()
    means = []
    for k in range(3):
        solo = _solo(shapes, k, 6).model.state_dict()
        mine = batch.net(k).state_dict()
        for name, value in solo.items():
            torch.testing.assert_close(mine[name], value, rtol=1e-2, atol=1e-3)
        means.append(mine["stages.0.0.bn1.running_mean"])
    assert not torch.allclose(means[0], means[1])  # statistics are per seed


def test_train_seeds_histories_match_solo_training(shapes):
    together = reslab.train_seeds("resnet", seeds=[0, 3], data=shapes, out=False,
                                  iterations=4, eval_every=2, **TINY)
    assert list(together) == [0, 3]
    for seed, history in together.items():
        alone = T.train("resnet", data=shapes, out=False, iterations=4, eval_every=2, seed=seed,
                        **TINY)
        assert [r["step"] for r in history.records] == [2, 4]
        for a, b in zip(alone.records, history.records):
            assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
            assert b["eval_loss"] == pytest.approx(a["eval_loss"], rel=1e-4)
            assert b["lr"] == a["lr"]
        assert history.meta["trained_together"] == 2


def test_seeds_resume_after_a_stop_and_end_where_an_unstopped_run_ends(tmp_path, shapes,
                                                                       monkeypatch):
    common = dict(seeds=[0, 1], data=shapes, iterations=6, eval_every=2, **TINY)
    clean = reslab.train_seeds("resnet", out=tmp_path / "clean", **common)
    real = T.Run.train_step

    def stop_at_step_3(self, *batch):
        if self.step == 3:
            raise KeyboardInterrupt
        real(self, *batch)

    monkeypatch.setattr(T.Run, "train_step", stop_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        reslab.train_seeds("resnet", out=tmp_path / "stopped", **common)
    monkeypatch.setattr(T.Run, "train_step", real)
    resumed = reslab.train_seeds("resnet", out=tmp_path / "stopped", **common)
    for seed in (0, 1):
        assert [r["train_loss"] for r in resumed[seed].records] == \
            [r["train_loss"] for r in clean[seed].records]
        saved = History.load(tmp_path / "stopped" / f"history-seed{seed}.json")
        assert saved.records == resumed[seed].records and saved.finished


def test_summary_is_table_6s_best_mean_and_std():
    histories = [History(f"r{k}", {"iterations": 1}, [{"eval_error": e}])
                 for k, e in enumerate((0.07, 0.08, 0.09))]
    assert S.summary(histories) == "7.00 (8.00 \u00b1 1.00)"
    assert S.summary(histories[:1]) == "7.00 (7.00 \u00b1 0.00)"


def test_seeds_must_differ_in_their_seed_only(shapes):
    with pytest.raises(ValueError, match="seeds must differ"):
        S.train_seeds("resnet", seeds=[1, 1], data=shapes, out=False, **TINY)
    with pytest.raises(ValueError, match="neither compile"):
        S.train_seeds("resnet", seeds=[0, 1], data=shapes, out=False, compile=True, **TINY)


def test_a_seeds_step_makes_no_host_copy_and_updates_all_parameters_at_once(shapes,
                                                                           monkeypatch):
    """Review defect 8: every step built its learning-rate tensor from a Python list (a
    synchronous copy on a GPU) and ran about four operators per parameter from Python."""
    from reslab.tools.selftest import OperatorCount
    options = {k: v for k, v in TINY.items() if k != "progress"}
    configs = [T.config_from(model="resnet", seed=s, iterations=4, **options) for s in (0, 1)]
    batch = S.seed_run(configs, shapes, torch.device("cpu"))
    batch.train_step()  # the first step makes the device tensor of learning rates
    made = []
    real = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(a) or real(*a, **k))
    grads = [torch.zeros_like(p) for p in batch.nets.params.values()]
    batch.begin_step()  # the same learning rates as the first step's
    with OperatorCount() as counter:
        batch.nets.update(grads)
    assert made == []  # the learning rates did not change: nothing copied to the device
    assert counter.count <= 8 < len(grads)  # a few foreach operators, not a few per tensor


# Issue 19: seeds trained together get what a single run has (one copy of the code).

def test_a_seeds_run_stops_at_a_nan_loss_and_keeps_only_finite_checkpoints(tmp_path, shapes,
                                                                           monkeypatch):
    """The NaN watch: a loss that turns NaN at step 6 (of 8, evaluations every 2) stops the
    run with one line naming the step; the checkpoint of step 4 is the last one kept."""
    real, calls = torch.nn.functional.cross_entropy, {"n": 0}

    def poisoned(logits, y, *args, **kwargs):
        loss = real(logits, y, *args, **kwargs)
        if logits.requires_grad:  # training steps only: step k is the k-th call
            calls["n"] += 1
            if calls["n"] == 6:
                loss = loss * float("nan")
        return loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    out = tmp_path / "seeds"
    with pytest.raises(T.TrainingDiverged, match=r"diverged at step 6: the training loss "
                       r"became nan; the last good checkpoint \(step 4\) is kept in"):
        reslab.train_seeds("resnet", seeds=[0, 1], data=shapes, out=out, iterations=8,
                           eval_every=2, **TINY)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4
    assert all(torch.isfinite(t).all() for t in state["params"].values())


def test_a_seeds_run_is_refused_a_folder_another_writer_holds(tmp_path, shapes):
    """The run-folder lock: while another writer holds the folder, a seeds run refuses it
    with one line and leaves the folder as it was."""
    from reslab.training.runlock import FolderInUse, run_folder_lock
    out = tmp_path / "seeds"
    reslab.train_seeds("resnet", seeds=[0, 1], data=shapes, out=out, iterations=2,
                       eval_every=2, **TINY)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with run_folder_lock(out):
        with pytest.raises(FolderInUse, match="is being written by another reslab process"):
            reslab.train_seeds("resnet", seeds=[0, 1], data=shapes, out=out, iterations=4,
                               eval_every=2, **TINY)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".reslab.lock"} == before


def test_a_seeds_checkpoint_keeps_the_cuda_generator_state(shapes, monkeypatch):
    """A seeds checkpoint made on CUDA holds the CUDA RNG state, and resuming restores it
    (stochastic depth draws on the device). The GPU is simulated: the generator calls are
    recorded; tests/test_cuda_path.py runs the real thing on a GPU."""
    options = {k: v for k, v in TINY.items() if k != "progress"}
    configs = [T.config_from(model="resnet", seed=s, iterations=2, **options) for s in (0, 1)]
    batch = S.seed_run(configs, shapes, torch.device("cpu"))
    cuda_state = torch.arange(16, dtype=torch.uint8)
    restored = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device=None: cuda_state.clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda state, device=None: restored.append(state.clone()))
    batch.device = torch.device("cuda")
    state = batch.state_dict()
    assert torch.equal(state["rng"]["cuda"], cuda_state)
    batch.load_state_dict(state)
    assert len(restored) == 1 and torch.equal(restored[0], cuda_state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_seeds_checkpoint_on_a_gpu_holds_its_cuda_rng_state(shapes, tmp_path):
    out = tmp_path / "seeds"
    gpu = {**TINY, "device": "cuda"}
    reslab.train_seeds("resnet", seeds=[0, 1], data=shapes, out=out, iterations=2,
                       eval_every=2, **gpu)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["rng"]["cuda"].dtype == torch.uint8 and state["rng"]["cuda"].numel() > 0
