"""Runs written by earlier reslab still resume, bitwise.

``tests/data/pre-rooms/`` holds what reslab at commit fc39a4a wrote before the package moved
into rooms (issue 19): a run of a tiny net and a batch of two seeds, each stopped after its
evaluation at step 4 of 8, and the end weights of the same runs never stopped.
``tests/data/pre-one-run/`` holds the same, with the 110-layer warm-up on, written by
``tests/data/pre-one-run/make.py`` at commit 3d0370f, before one Run trained one seed or many
(issue 27). Each ``written-by.json`` says on which machine and torch.
"""
from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import pytest
import torch

import reslab
from reslab.data import SHAPES10_CLASSES, ImageDataset, make_shapes10
from reslab.training.checkpoint import load_latest

DATA = Path(__file__).parent / "data"
TINY = dict(budget="smoke", model_options={"depth": 8, "widths": (4, 8, 8)}, batch_size=32,
            train_subset=None, test_subset=None, device="cpu", amp=False, channels_last=False,
            weight_decay=0.02, progress=False, iterations=8, eval_every=4)
# each fixture folder, and the options its runs were trained with
FIXTURES = {"pre-rooms": TINY, "pre-one-run": {**TINY, "warmup": "on", "warmup_window": 2}}


def _cpu_model() -> str | None:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or None
    return next((l.split(":", 1)[1].strip() for l in lines if l.startswith("model name")), None)


def _same_machine(fixture: str) -> bool:
    """The arithmetic is the writer's only on its CPU, torch and thread count; elsewhere the
    four resumed steps may differ in the last bits, so there the end is compared to fp32
    precision."""
    written_by = json.loads((DATA / fixture / "written-by.json").read_text())
    return (written_by["cpu_model"] == _cpu_model()
            and written_by["torch"] == str(torch.__version__)
            and written_by["threads"] == torch.get_num_threads())


@pytest.fixture(scope="module")
def shapes() -> ImageDataset:
    x, y = make_shapes10(320, seed=0)
    return ImageDataset("shapes10", x[:256], y[:256], x[256:], y[256:], SHAPES10_CLASSES,
                        "make_shapes10(320)")


def _copy(tmp_path: Path, fixture: str, name: str) -> Path:
    shutil.copytree(DATA / fixture / name, tmp_path / name)
    return tmp_path / name


def _assert_same_end(mine: dict[str, torch.Tensor], fixture: str, file: str) -> None:
    theirs = torch.load(DATA / fixture / file, weights_only=True)
    assert mine.keys() == theirs.keys()
    same_machine = _same_machine(fixture)
    for key, value in theirs.items():
        if same_machine:
            assert torch.equal(mine[key], value), f"{key} differs from the uninterrupted run"
        else:
            torch.testing.assert_close(mine[key], value, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_an_old_run_checkpoint_resumes_to_the_same_end(tmp_path, shapes, fixture):
    folder = _copy(tmp_path, fixture, "run")
    old = load_latest(folder)
    history = reslab.train("resnet", data=shapes, out=folder, **FIXTURES[fixture])
    assert [r["step"] for r in history.records] == [4, 8]
    assert history.records[0] == old["history"]["records"][0]  # the old period, kept as it was
    _assert_same_end(load_latest(folder)["model"], fixture, "run-end-weights.pt")


@pytest.mark.parametrize("fixture", FIXTURES)
def test_an_old_run_checkpoint_is_read_completely(tmp_path, shapes, fixture):
    """Resumed state equals the old checkpoint bitwise: weights, BN statistics, momentum,
    learning rates, RNG state, step and history (on any machine)."""
    from reslab import training
    folder = _copy(tmp_path, fixture, "run")
    old = load_latest(folder)
    config = training.config_from(model="resnet", **{k: v for k, v in FIXTURES[fixture].items()
                                                     if k != "progress"})
    run = training.Run("resnet", config, shapes, torch.device("cpu"), folder)
    assert run.resume()
    now = run.state_dict()
    for key in ("model", "rng"):
        assert all(torch.equal(now[key][k], old[key][k]) for k in old[key]), key
    assert now["step"] == old["step"] == 4 and now["warming"] == old["warming"]
    assert now["history"] == old["history"]
    for (_, a), (_, b) in zip(sorted(now["optimizer"]["state"].items()),
                              sorted(old["optimizer"]["state"].items())):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    assert now["optimizer"]["param_groups"] == old["optimizer"]["param_groups"]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_old_seeds_checkpoints_resume_to_the_same_end(tmp_path, shapes, fixture):
    folder = _copy(tmp_path, fixture, "seeds")
    old = load_latest(folder)
    assert "cuda" not in old["rng"]  # written on a CPU
    histories = reslab.train_seeds("resnet", seeds=[0, 1], data=shapes, out=folder,
                                   **FIXTURES[fixture])
    assert [[r["step"] for r in h.records] for h in histories.values()] == [[4, 8], [4, 8]]
    for history, saved in zip(histories.values(), old["histories"]):
        assert history.records[0] == saved["records"][0]  # the old period, kept as it was
    _assert_same_end(load_latest(folder)["params"], fixture, "seeds-end-params.pt")
