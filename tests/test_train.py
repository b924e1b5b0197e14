"""The trainer: recipe, schedule, sweeps, history, divergence, checkpoints and resume."""
from __future__ import annotations

import contextlib
import math

import pytest
import torch

from reslab import training as T
from reslab.data import load_dataset
from reslab.training.checkpoint import CheckpointError, load_checkpoint, load_latest
from reslab.training.history import History

TINY = dict(budget="smoke", progress=False, device="cpu")


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("cifar10-jpeg", train_subset=256, test_subset=128)


def test_defaults_are_the_papers_recipe():
    c = T.TrainConfig()
    assert (c.lr, c.momentum, c.weight_decay, c.batch_size, c.iterations) == (
        0.1, 0.9, 1e-4, 128, 64_000)
    assert [T.lr_at(c, s, False) for s in (0, 31_999, 32_000, 47_999, 48_000, 63_999)] == \
        pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert T.lr_at(c, 5, warming=True) == 0.01


def test_schedule_keeps_its_shape_on_a_smaller_budget():
    c = T.config_from("quick")
    assert c.iterations == 400
    assert T.lr_at(c, 199, False) == pytest.approx(0.1)
    assert T.lr_at(c, 200, False) == pytest.approx(0.01)
    assert T.lr_at(c, 300, False) == pytest.approx(0.001)


def test_110_layer_rule_is_automatic_for_deep_nets(tiny_data):
    deep = T.Run("r110", T.config_from("smoke", model="resnet110"), tiny_data,
                 torch.device("cpu"), None)
    shallow = T.Run("r56", T.config_from("smoke", model="resnet56"), tiny_data,
                    torch.device("cpu"), None)
    assert deep.warming == [True] and shallow.warming == [False]


@pytest.mark.parametrize("until,expect_switch", [(0.0, False), (1.01, True)])
def test_warmup_lasts_until_training_error_falls_below_threshold(tiny_data, until,
                                                                 expect_switch):
    history = T.train("resnet20", data=tiny_data, out=False, iterations=20, eval_every=5,
                      warmup="on", warmup_until_error=until, warmup_window=10, **TINY)
    lrs = history.column("lr")
    assert lrs[:2] == pytest.approx([0.01, 0.01])  # read once per 10-step window
    assert (lrs[-1] == pytest.approx(0.1 * 0.01)) is expect_switch


def test_warmup_rule_reads_a_whole_window_not_a_few_batches(tiny_data):
    # an error threshold every batch meets: the switch still waits for a full window
    history = T.train("resnet20", data=tiny_data, out=False, iterations=24, eval_every=1,
                      warmup="on", warmup_until_error=1.01, warmup_window=8, **TINY)
    assert history.column("lr")[:9] == pytest.approx([0.01] * 8 + [0.1])


def test_linear_warmup_ramps_the_lr_then_follows_the_schedule():
    c = T.config_from("quick")
    assert c.linear_warmup == 40 and c.budget == "quick"
    assert [T.lr_at(c, s, False) for s in (0, 19, 39, 40, 199, 200)] == pytest.approx(
        [0.1 / 40, 0.1 * 20 / 40, 0.1, 0.1, 0.1, 0.01])
    full = T.config_from("full")
    assert full.linear_warmup == 0 and T.lr_at(full, 0, False) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="linear_warmup"):
        T.TrainConfig(linear_warmup=-1)


def test_history_names_the_budget_and_its_deviations_from_the_paper(tiny_data):
    history = T.train("resnet20", data=tiny_data, out=False, iterations=2, **TINY)
    assert history.config["budget"] == "smoke"
    assert any("iterations instead of 64,000" in d for d in history.meta["deviations"])
    assert history.meta["precision"] in ("bfloat16", "float32")
    assert T.config_from("full").budget == "full" and \
        __import__("reslab").get_budget("full").deviations() == []


def test_sweep_trains_every_model_on_identical_batches(tiny_data):
    alone = T.train("resnet20", data=tiny_data, out=False, iterations=6, eval_every=3, **TINY)
    twins = T.sweep(["resnet20", "resnet20:twin", "plain20"], data=tiny_data, out=False,
                    iterations=6, eval_every=3, **TINY)
    assert _same_numbers(twins["resnet20"], twins["resnet20:twin"])
    assert _same_numbers(alone, twins["resnet20"])
    assert not _same_numbers(twins["plain20"], twins["resnet20"])


def _same_numbers(a: History, b: History) -> bool:
    keys = ("train_loss", "train_error", "eval_loss", "eval_error", "lr", "step")
    return all(ra[k] == rb[k] for ra, rb in zip(a.records, b.records) for k in keys)


def test_same_seed_same_history_other_seed_differs(tiny_data):
    runs = [T.train("resnet20", data=tiny_data, out=False, iterations=4, eval_every=2,
                    seed=s, **TINY) for s in (0, 0, 1)]
    assert _same_numbers(runs[0], runs[1]) and not _same_numbers(runs[0], runs[2])


def test_history_is_saved_as_json_with_its_context(tmp_path, tiny_data):
    history = T.train("resnet20", data=tiny_data, out=tmp_path / "run", iterations=4,
                      eval_every=2, **TINY)
    loaded = History.load(tmp_path / "run" / "history.json")
    assert loaded.records == history.records and len(loaded.records) == 2
    assert set(loaded.records[0]) >= {"epoch", "step", "lr", "train_loss", "train_error",
                                      "eval_loss", "eval_error", "seconds", "images_per_s"}
    assert loaded.meta["dataset"] == "cifar10-jpeg" and "cifar10-jpeg" in loaded.meta[
        "dataset_note"]
    assert loaded.meta["torch"] == torch.__version__ and loaded.config["model"] == "resnet20"
    assert loaded.finished


def test_resume_continues_and_refuses_another_config(tmp_path, tiny_data):
    T.train("resnet20", data=tiny_data, out=tmp_path, iterations=4, eval_every=2, **TINY)
    again = T.train("resnet20", data=tiny_data, out=tmp_path, iterations=4, eval_every=2,
                    **TINY)
    assert len(again.records) == 2  # finished run: nothing retrained
    with pytest.raises(ValueError, match="different config .*lr"):
        T.train("resnet20", data=tiny_data, out=tmp_path, iterations=4, eval_every=2, lr=0.05,
                **TINY)


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_checkpoint(
        tmp_path, tiny_data, monkeypatch):
    calls = {"n": 0}  # steps 1-2, evaluation, steps 3-4, evaluation, then NaN from step 5
    real = torch.nn.functional.cross_entropy

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] > 6 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    with pytest.raises(T.TrainingDiverged, match=r"diverged .*nan.*last good checkpoint "
                                                  r"\(step 4\) is kept"):
        T.train("resnet20", data=tiny_data, out=tmp_path, iterations=8, eval_every=2, **TINY)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_corrupted_checkpoint_is_reported_and_previous_still_loads(tmp_path, tiny_data):
    T.train("resnet20", data=tiny_data, out=tmp_path, iterations=4, eval_every=2, **TINY)
    latest = tmp_path / "checkpoint.pt"
    latest.write_bytes(latest.read_bytes()[:1000])  # a write cut short
    with pytest.raises(CheckpointError, match=r"corrupted or truncated.*previous checkpoint "
                                              r".*checkpoint.prev.pt is intact"):
        load_checkpoint(latest)
    warnings = []
    state = load_latest(tmp_path, warn=warnings.append)
    assert state["step"] == 2 and "corrupted" in warnings[0]
    resumed = T.train("resnet20", data=tiny_data, out=tmp_path, iterations=4, eval_every=2,
                      **TINY)
    assert resumed.last("step") == 4
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pt is corrupted"):
        load_checkpoint(tmp_path / "garbage.pt")


def test_short_real_training_drives_loss_well_below_chance():
    """96 iterations on Fashion-MNIST take ResNet-20's training loss from chance (ln 10; the
    first 16 iterations average 2.04) to well below it. Measured (issue 17; torch 2.14.1, an
    AVX512-BF16 Xeon) with bf16 autocast, fp32 and bf16 on 1 thread: last training loss 0.80,
    0.76, 0.74; test error 0.31, 0.31, 0.30. After 48 iterations the loss was still near the
    bound (1.13 here, 1.19 on another CPU), so the run is long enough that the bounds are far."""
    data = load_dataset("fashion-mnist", train_subset=4096, test_subset=512)
    history = T.train("resnet20", data=data, out=False, iterations=96, eval_every=16, **TINY)
    chance = math.log(10)
    first, last = history.records[0], history.records[-1]
    assert last["train_loss"] < 0.5 * chance, history.column("train_loss")
    assert last["train_loss"] < 0.5 * first["train_loss"], history.column("train_loss")
    assert last["eval_error"] < 0.5, history.column("eval_error")


def test_bad_training_options_fail_with_one_line():
    with pytest.raises(ValueError, match="unknown training option 'learning_rate'"):
        T.config_from("smoke", learning_rate=0.1)
    with pytest.raises(ValueError, match="iterations must be a positive whole number"):
        T.config_from("smoke", iterations=0)
    with pytest.raises(ValueError, match="milestones are fractions"):
        T.config_from("smoke", milestones=(32_000, 48_000))
    with pytest.raises(ValueError,
                       match="budget must be one of 'smoke', 'quick', 'medium', 'full'"):
        T.config_from("huge")


@pytest.mark.slow
def test_fast_path_leaves_the_history_unchanged_within_noise():
    """channels-last memory and torch.compile (the CPU part of the fast path) change the
    order of floating-point sums, nothing else: same seed, same budget, same curves."""
    data = load_dataset("cifar10-jpeg", train_subset=1024, test_subset=256)
    common = dict(data=data, out=False, iterations=16, eval_every=8, **TINY)
    slow = T.train("resnet20", channels_last=False, compile=False, **common)
    fast = T.train("resnet20", channels_last=True, compile=True, **common)
    for a, b in zip(slow.records, fast.records):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.03)
        assert abs(b["eval_error"] - a["eval_error"]) < 0.04


def test_mixed_precision_path_runs_on_the_cpu_too(tiny_data):
    """The bf16 autocast branch (on by default on CUDA) exercised where CI can run it."""
    history = T.train("resnet20", data=tiny_data, out=False, iterations=2, eval_every=2,
                      amp=True, **TINY)
    assert math.isfinite(history.last("train_loss")) and history.last("train_loss") > 0


def test_recipes_of_the_other_papers_are_named_presets():
    from reslab.training.recipes import recipe
    rir, ror = recipe("rir"), recipe("ror")
    assert (rir["batch_size"], rir["iterations"]) == (500, 8_200)        # 82 epochs of 100
    assert rir["milestones"] == pytest.approx((42 / 82, 62 / 82))
    assert (ror["batch_size"], ror["iterations"]) == (128, 195_312)      # 500 epochs of 390.6
    assert T.config_from("full", **ror).recipe == "ror"
    assert recipe("he2016")["iterations"] == T.TrainConfig().iterations
    with pytest.raises(ValueError, match="recipe"):
        recipe("vgg")


class _OldTrainer:
    """``Run.train_step`` before the step was split for the whole-step CUDA graph (commit
    732e439), verbatim but for ``self`` and the net and optimiser it built (and autocast as it
    was, with its weight cache)."""

    def __init__(self, config: T.TrainConfig, data, amp_dtype) -> None:
        self.config, self.amp_dtype, self.step = config, amp_dtype, 0
        self.model = T.build_net(config, data).to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr,
                                         momentum=config.momentum,
                                         weight_decay=config.weight_decay, foreach=True)
        self.loss, self.errors, self.seen = torch.zeros(()), torch.zeros(()), 0

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        lr = self.last_lr = T.lr_at(self.config, self.step, False)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        autocast = (torch.autocast("cpu", self.amp_dtype) if self.amp_dtype is not None
                    else contextlib.nullcontext())
        with autocast:
            logits = self.model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        wrong = (logits.argmax(1) != y).sum()
        self.loss += loss.detach().float() * len(y)
        self.errors += wrong
        self.seen += len(y)
        self.step += 1


@pytest.mark.parametrize("amp", [False, True])
def test_eager_step_is_the_old_trainers_step(tiny_data, amp):
    """The refactored step (begin_step, sgd_step, end_step; train mode set only when it
    changes; fp32 or bf16) gives bitwise the old step's weights, momentum and metrics."""
    config = T.config_from("smoke", batch_size=64, device="cpu", amp=amp)
    new = T.Run("resnet20", config, tiny_data, torch.device("cpu"), None)
    old = _OldTrainer(config, tiny_data, new.amp_dtype)
    for s in range(6):  # 4 steps an epoch: across an epoch boundary
        x, y = new.batch(s)
        old.train_step(x, y)
        new.train_step(x, y)
        assert old.last_lr == new.last_lr
    for a, b in zip(old.model.state_dict().values(), new.model.state_dict().values()):
        assert torch.equal(a, b)
    for p, q in zip(old.model.parameters(), new.model.parameters()):
        assert torch.equal(old.optimizer.state[p]["momentum_buffer"],
                           new.optimizer.state[q]["momentum_buffer"])
    old_means = (torch.stack([old.loss, old.errors]) / max(old.seen, 1)).tolist()
    record, = new.end_period(tiny_data.eval_images, tiny_data.eval_labels)
    assert [record["train_loss"], record["train_error"]] == old_means
