"""Bad inputs, table-driven: every one is refused with one line, and loses nothing.

Each case is a bad input to the command line (run in-process through ``reslab.cli.main``) or to
the Python API. For each, the test asserts: exit code 2 (CLI) or ``ValueError`` (API); exactly
one line; no traceback; the line names the offending input and says what would be accepted;
and every file that was in the run folder before is there, byte-identical, after (nothing is
added either). The run folder is a copy of a finished tiny run (``checkpoint.pt``,
``checkpoint.prev.pt``, ``history.json``) plus a file of the user's own.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from reslab import training as T
from reslab.cli import main
from reslab.course.assignments import strip_solutions, write_assignments
from reslab.data import load_dataset
from reslab.models import build_model
from reslab.training.budget import get_budget
from reslab.training.checkpoint import LATEST, PREVIOUS, load_checkpoint
from reslab.training.runlock import run_folder_lock

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(model="resnet20", dataset="cifar10-jpeg", budget="smoke", train_subset=64,
            test_subset=32, batch_size=32, iterations=2, eval_every=1, device="cpu")
# the same run on the command line: `train` + BASE resumes the template run exactly
BASE = {"--model": "resnet20", "--dataset": "cifar10-jpeg", "--budget": "smoke",
        "--train-subset": "64", "--test-subset": "32", "--batch-size": "32",
        "--iterations": "2", "--eval-every": "1", "--device": "cpu", "--out": "{run}",
        "--quiet": None}
NO_CUDA_DEVICE = "cuda" if not torch.cuda.is_available() else "cuda:99"


class Evil:
    """Pickles as a call of ``open(marker, "w")``: loading it unsafely creates the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@dataclass
class Ctx:
    """What a case works in: the run folder, a plain file, scratch space, tiny data."""

    tmp: Path
    run: Path
    data: object
    readonly: Path | None

    @property
    def file(self) -> Path:
        return self.tmp / "a-file.txt"

    @property
    def marker(self) -> Path:
        return self.tmp / "CODE-RAN"

    def fmt(self, arg: str) -> str:
        return arg.format(run=self.run, tmp=self.tmp, file=self.file, ro=self.readonly)


@dataclass
class Case:
    id: str
    call: list[str] | Callable[[Ctx], object]  # CLI arguments, or an API call
    names: str       # regex: the offending input
    accepts: str     # regex: what would be accepted
    setup: Callable[[Ctx], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    forbid: str | None = None  # regex the message must not match (a misleading word)
    needs: str | None = None   # "readonly": a read-only folder is required


def train(*drop: str, **over: str) -> list[str]:
    """``train`` + BASE with flags dropped or replaced (``lr="inf"`` -> ``--lr inf``)."""
    args = {k: v for k, v in BASE.items() if k not in drop}
    args.update({f"--{k.replace('_', '-')}": v for k, v in over.items()})
    out = ["train"]
    for flag, value in args.items():
        out += [flag] if value is None else [flag, value]
    return out


def opt(*options: str) -> list[str]:
    return [a for o in options for a in ("--option", o)]


# ------------------------------------------------------------------------ case set-ups

def _state(ctx: Ctx) -> dict:
    return load_checkpoint(ctx.run / LATEST)


def evil_latest(ctx: Ctx) -> None:
    state = _state(ctx)
    torch.save({**state, "extra": Evil(ctx.marker)}, ctx.run / LATEST)
    (ctx.run / PREVIOUS).unlink()


def evil_previous_truncated_latest(ctx: Ctx) -> None:
    state = _state(ctx)
    torch.save({**state, "extra": Evil(ctx.marker)}, ctx.run / PREVIOUS)
    (ctx.run / LATEST).write_bytes((ctx.run / LATEST).read_bytes()[:2000])


def truncated_only(ctx: Ctx) -> None:
    (ctx.run / LATEST).write_bytes((ctx.run / LATEST).read_bytes()[:2000])
    (ctx.run / PREVIOUS).unlink()


def missing_keys(ctx: Ctx) -> None:
    state = _state(ctx)
    del state["optimizer"], state["model_build"]
    torch.save(state, ctx.run / LATEST)
    (ctx.run / PREVIOUS).unlink()


def not_reslab(ctx: Ctx) -> None:
    torch.save({"weights": torch.zeros(3)}, ctx.run / LATEST)
    (ctx.run / PREVIOUS).unlink()


def nonfinite(ctx: Ctx) -> None:
    state = _state(ctx)
    first = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][first][0] = float("nan")
    torch.save(state, ctx.run / LATEST)
    (ctx.run / PREVIOUS).unlink()


def a_file(ctx: Ctx) -> None:
    ctx.file.write_text("not a folder\n")


def images(root: Path, train: dict[str, int], test: dict[str, int] | None = None,
           corrupt: str | None = None, empty_file: str | None = None) -> None:
    """An image-folder tree: ``{class: number of PNGs}`` per split, optionally a bad file."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, classes in (("train", train), ("test", test if test is not None else train)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for name, count in classes.items():
            (root / split / name).mkdir(exist_ok=True)
            for i in range(count):
                pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    if corrupt:
        (root / corrupt).write_bytes(b"\x89PNG but not really an image")
    if empty_file:
        (root / empty_file).write_bytes(b"")


def tree(**kwargs) -> Callable[[Ctx], None]:
    return lambda ctx: images(ctx.tmp / "imgs", **kwargs)


def notebooks(text: str) -> Callable[[Ctx], None]:
    def make(ctx: Ctx) -> None:
        (ctx.tmp / "nbs").mkdir()
        (ctx.tmp / "nbs" / "01_lesson.ipynb").write_text(text)
    return make


UNBALANCED = json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                    "source": "### BEGIN SOLUTION\nx = 1\n"}],
                         "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def lock_held(ctx: Ctx) -> None:
    ctx.held = run_folder_lock(ctx.run)
    ctx.held.__enter__()


IMGS = "imagefolder:{tmp}/imgs"
# pretrained weights are looked for in the run folder, so the snapshot sees any file written
WEIGHTS = {"RESLAB_PRETRAINED": "{run}/weights", "TORCH_HOME": "{run}/hub"}


def weights_file(content: bytes | Callable[[], bytes]) -> Callable[[Ctx], None]:
    """A file named as the publisher's ResNet-20 (resnet20-12fca82f.th) holding ``content``."""
    def make(ctx: Ctx) -> None:
        (ctx.run / "weights").mkdir()
        data = content() if callable(content) else content
        (ctx.run / "weights" / "resnet20-12fca82f.th").write_bytes(data)
    return make


def other_weights() -> bytes:
    """A real torch checkpoint in the publisher's format, but not the publisher's weights."""
    import io

    from reslab.models.pretrained import export_state_dict
    buffer = io.BytesIO()
    torch.save({"state_dict": export_state_dict(build_model("resnet20"))}, buffer)
    return buffer.getvalue()

# ------------------------------------------------------------------------ the command line

CLI_CASES = [
    Case("model-depth", train(model="resnet21"), r"\b21 is not", r"20 and 26"),
    Case("model-typo", train(model="resnt20"), r"'resnt20'", r"did you mean resnet20"),
    Case("model-empty", train(model=""), r"unknown model ''", r"list_models"),
    Case("option-choice", train() + opt("shortcut=D"), r"'D'", r"shortcut must be one of"),
    Case("option-unknown", train() + opt("widht=2"), r"'widht'", r"valid options: .*shortcut"),
    Case("option-no-equals", train() + opt("shortcut"), r"'shortcut'", r"key=value"),
    Case("option-empty-key", train() + opt("=B"), r"'=B'", r"key=value"),
    Case("lr-negative", train(lr="-1"), r"--lr.*-1", r"positive"),
    Case("lr-zero", train(lr="0"), r"--lr.*0", r"positive"),
    Case("lr-inf", train(lr="inf"), r"--lr.*'inf'", r"finite positive number"),
    Case("lr-nan", train(lr="nan"), r"--lr.*'nan'", r"finite positive number"),
    Case("lr-overflow", train(lr="1e999"), r"--lr.*'1e999'", r"finite positive number"),
    Case("lr-word", train(lr="fast"), r"--lr.*'fast'", r"expected a number"),
    Case("epochs-word", train("--iterations", epochs="two"), r"--epochs.*'two'",
         r"whole number"),
    Case("epochs-zero", train("--iterations", epochs="0"), r"--epochs.*0", r"at least 1"),
    Case("iterations-negative", train(iterations="-5"), r"--iterations.*-5", r"at least 1"),
    Case("epochs-and-iterations", train(epochs="2"), r"--epochs", r"not allowed with"),
    Case("dataset-unknown", train(dataset="imagenet"), r"'imagenet'",
         r"dataset must be one of .*'shapes10'"),
    Case("dataset-unavailable", train(dataset="svhn"), r"svhn is not available",
         r"python -m reslab data svhn"),
    Case("budget-choice", train(budget="huge"), r"'huge'", r"choose from 'smoke'"),
    Case("flag-unknown", train() + ["--modle", "resnet20"], r"--modle",
         r"unrecognized arguments"),
    Case("seed-negative", train(seed="-1"), r"--seed.*-1", r">= 0"),
    Case("seed-word", train(seed="abc"), r"--seed.*'abc'", r"whole number >= 0"),
    Case("seed-fraction", train(seed="1.5"), r"--seed.*'1.5'", r"whole number >= 0"),
    Case("batch-zero", train(batch_size="0"), r"--batch-size.*0", r"at least 1"),
    Case("batch-word", train(batch_size="many"), r"--batch-size.*'many'", r"whole number"),
    Case("batch-over-data-epochs", train("--iterations", batch_size="128", epochs="1"),
         r"batch_size=128", r"at most 64", forbid=r"iteration"),
    Case("batch-over-data-iterations", train(batch_size="100"), r"batch_size=100",
         r"at most 64"),
    Case("train-subset-zero", train(train_subset="0"), r"--train-subset.*0", r"at least 1"),
    Case("train-subset-too-big", train(train_subset="100000000"),
         r"train_subset=100,000,000", r"only [\d,]+ images"),
    Case("test-subset-too-big", train(test_subset="100000000"),
         r"test_subset=100,000,000", r"only [\d,]+ images"),
    Case("eval-every-zero", train(eval_every="0"), r"--eval-every.*0", r"at least 1"),
    Case("device-unknown", train(device="gpu9"), r"'gpu9'", r"'cpu', 'cuda', 'cuda:N'"),
    Case("device-no-cuda", train(device=NO_CUDA_DEVICE), re.escape(repr(NO_CUDA_DEVICE)),
         r"'cpu'|cuda:0"),
    Case("device-cuda-index", train(device="cuda:99"), r"'cuda:99'", r"'cpu'|cuda:0"),
    Case("device-empty", train(device=""), r"device ''", r"'cpu', 'cuda'"),
    Case("device-unsupported", train(device="meta"), r"'meta'", r"'cpu', 'cuda'"),
    Case("out-is-file", train(out="{file}"), r"a-file.txt is a file", r"use a folder",
         setup=a_file),
    Case("out-under-file", train(out="{file}/run"), r"a-file.txt is a file",
         r"path under a folder", setup=a_file),
    Case("runs-dir-is-file", train("--out"), r"a-file.txt is a file", r"path under a folder",
         setup=a_file, env={"RESLAB_RUNS": "{file}"}),
    Case("out-read-only", train(out="{ro}/run"), r"not writable", r"writable folder",
         needs="readonly"),
    Case("num-classes-small", train() + opt("num_classes=5"), r"num_classes=5",
         r"num_classes=10"),
    Case("num-classes-zero", train() + opt("num_classes=0"), r"num_classes.*\b0\b",
         r"positive whole number"),
    Case("num-classes-word", train() + opt("num_classes=ten"), r"'ten'",
         r"positive whole number"),
    Case("in-channels-wrong", train() + opt("in_channels=1"), r"in_channels=1",
         r"3 channel"),
    Case("imagefolder-missing", train(dataset=IMGS + "/nowhere"), r"nowhere",
         r"needs train/ and test/"),
    Case("imagefolder-empty-class", train(dataset=IMGS, train_subset="4", test_subset="2",
                                          batch_size="2"),
         r"train/dog has no images", r"\.png", setup=tree(train={"cat": 2, "dog": 0})),
    Case("imagefolder-corrupt", train(dataset=IMGS, batch_size="2"), r"train/cat/bad\.png",
         r"valid image", setup=tree(train={"cat": 2, "dog": 2}, corrupt="train/cat/bad.png")),
    Case("imagefolder-zero-bytes", train(dataset=IMGS, batch_size="2"), r"test/dog/0b\.jpg",
         r"valid image", setup=tree(train={"cat": 2, "dog": 2}, empty_file="test/dog/0b.jpg")),
    Case("imagefolder-one-class", train(dataset=IMGS, batch_size="2"), r"1 class folder.*cat",
         r"at least 2", setup=tree(train={"cat": 3})),
    Case("imagefolder-no-classes", train(dataset=IMGS, batch_size="2"), r"0 class folder",
         r"at least 2", setup=tree(train={})),
    Case("imagefolder-test-classes-differ", train(dataset=IMGS, batch_size="2"),
         r"classes cat, cow", r"same class folders",
         setup=tree(train={"cat": 2, "dog": 2}, test={"cat": 1, "cow": 1})),
    Case("resume-malicious", train(resume=None), r"checkpoint.pt holds pickled code",
         r"written by reslab", setup=evil_latest),
    Case("resume-malicious-previous", train(resume=None),
         r"checkpoint.prev.pt holds pickled code", r"written by reslab",
         setup=evil_previous_truncated_latest),
    Case("resume-truncated", train(resume=None), r"checkpoint.pt is corrupted or truncated",
         r"remove it to start over", setup=truncated_only),
    Case("resume-missing-keys", train(resume=None), r"model_build, optimizer missing",
         r"a reslab checkpoint holds", setup=missing_keys),
    Case("resume-not-reslab", train(resume=None), r"not a reslab training checkpoint",
         r"written by reslab", setup=not_reslab),
    Case("resume-nonfinite", train(resume=None), r"NaN or infinite values \(model\.",
         r"only finite checkpoints", setup=nonfinite),
    Case("resume-other-config", train(resume=None, lr="0.05"), r"\blr\b differ",
         r"another output folder"),
    Case("existing-run", train(), r"already holds a run", r"pass --resume"),
    Case("folder-in-use", train(resume=None), rf"pid {os.getpid()}", r"another output folder",
         setup=lock_held),
    Case("budget-env", train("--budget"), r"RESLAB_BUDGET='nonsense'", r"'smoke', 'quick'",
         env={"RESLAB_BUDGET": "nonsense"}),
    Case("warmup-choice", train(warmup="sometimes"), r"'sometimes'", r"choose from 'auto'"),
    Case("models-family", ["models", "--family", "nosuch"], r"'nosuch'", r"cifar, imagenet"),
    Case("data-unknown", ["data", "imagenet"], r"'imagenet'", r"one of .*'cifar10'"),
    Case("assignments-out-file", ["assignments", "--out", "{file}"], r"a-file.txt is a file",
         r"use a folder", setup=a_file),
    Case("assignments-no-notebooks", ["assignments", "--out", "{tmp}/s", "--notebooks",
                                      "{tmp}/nowhere"], r"nowhere", r"NN_name.ipynb"),
    Case("assignments-bad-json", ["assignments", "--out", "{tmp}/s", "--notebooks",
                                  "{tmp}/nbs"], r"01_lesson.ipynb is not a readable notebook",
         r"valid .ipynb", setup=notebooks("{ not json")),
    Case("assignments-not-notebook", ["assignments", "--out", "{tmp}/s", "--notebooks",
                                      "{tmp}/nbs"], r"01_lesson.ipynb is not a notebook",
         r"valid .ipynb", setup=notebooks("[1, 2]")),
    Case("assignments-unbalanced", ["assignments", "--out", "{tmp}/s", "--notebooks",
                                    "{tmp}/nbs"], r"01_lesson.ipynb, cell 0: unbalanced",
         r"needs its '### END SOLUTION'", setup=notebooks(UNBALANCED)),
    Case("demo-iterations-zero", ["demo", "--iterations", "0"], r"--iterations.*0",
         r"at least 1"),
    Case("demo-out-file", ["demo", "--out", "{file}"], r"a-file.txt is a file",
         r"use a folder", setup=a_file),
    Case("command-missing", [], r"required", r"\{demo,train,models"),
    Case("command-unknown", ["fly"], r"'fly'", r"choose from .*train"),
]

# ------------------------------------------------------------------------ the Python API


def api_train(ctx: Ctx, **over) -> object:
    options = {**TINY, **over}
    return T.train(data=options.pop("data", ctx.data), out=options.pop("out", ctx.run),
                   progress=False, **options)


def config(**over) -> Callable[[Ctx], object]:
    return lambda ctx: T.TrainConfig(**over)


INF, NAN = math.inf, math.nan

API_CASES = [
    Case("config-lr-inf", config(lr=INF), r"lr.*inf", r"finite number > 0"),
    Case("config-lr-nan", config(lr=NAN), r"lr.*nan", r"finite number > 0"),
    Case("config-lr-string", config(lr="0.1"), r"lr.*'0.1'", r"finite number > 0"),
    Case("config-lr-negative", config(lr=-0.1), r"lr.*-0.1", r"finite number > 0"),
    Case("config-momentum-negative", config(momentum=-0.9), r"momentum.*-0.9", r">= 0"),
    Case("config-weight-decay-inf", config(weight_decay=INF), r"weight_decay.*inf",
         r"finite number >= 0"),
    Case("config-lr-decay-zero", config(lr_decay=0), r"lr_decay.*0", r"finite number > 0"),
    Case("config-warmup-lr-nan", config(warmup_lr=NAN), r"warmup_lr.*nan", r"finite"),
    Case("config-seed-negative", config(seed=-1), r"seed.*-1", r"whole number >= 0"),
    Case("config-seed-fraction", config(seed=1.5), r"seed.*1.5", r"whole number >= 0"),
    Case("config-batch-zero", config(batch_size=0), r"batch_size.*0", r"positive whole"),
    Case("config-iterations-bool", config(iterations=True), r"iterations.*True",
         r"positive whole"),
    Case("config-train-subset-zero", config(train_subset=0), r"train_subset.*0",
         r"whole number >= 1 or None"),
    Case("config-eval-every-zero", config(eval_every=0), r"eval_every.*0",
         r"whole number >= 1 or None"),
    Case("config-device-unknown", config(device="gpu9"), r"'gpu9'", r"'cpu', 'cuda'"),
    Case("config-compile-mode", config(compile="fastest"), r"'fastest'", r"max-autotune"),
    Case("config-amp-string", config(amp="yes"), r"amp.*'yes'", r"True, False, None"),
    Case("config-warmup-choice", config(warmup="sometimes"), r"'sometimes'", r"'auto', 'on'"),
    Case("config-normalize-choice", config(normalize="zscore"), r"'zscore'", r"'pixel'"),
    Case("config-milestones-iterations", config(milestones=(32_000, 48_000)), r"32000",
         r"fractions of the run in \(0, 1\)"),
    Case("config-linear-warmup-negative", config(linear_warmup=-1), r"-1", r">= 0"),
    Case("config-model-options-list", config(model_options=["shortcut=B"]),
         r"\['shortcut=B'\]", r"dict of option names"),
    Case("config-from-unknown-option", lambda ctx: T.config_from("smoke", learning_rate=0.1),
         r"'learning_rate'", r"valid options: .*\blr\b"),
    Case("budget-env-api", lambda ctx: get_budget(), r"RESLAB_BUDGET='nonsense'",
         r"'smoke', 'quick', 'medium', 'full'", env={"RESLAB_BUDGET": "nonsense"}),
    Case("budget-name", lambda ctx: get_budget("huge"), r"'huge'", r"'smoke', 'quick'"),
    Case("train-out-file", lambda ctx: api_train(ctx, out=ctx.file), r"a-file.txt is a file",
         r"use a folder", setup=a_file),
    Case("train-out-read-only", lambda ctx: api_train(ctx, out=ctx.readonly / "run"),
         r"not writable", r"writable folder", needs="readonly"),
    Case("train-device-missing", lambda ctx: api_train(ctx, device="cuda:99"), r"'cuda:99'",
         r"'cpu'|cuda:0"),
    Case("train-num-classes", lambda ctx: api_train(ctx, model_options={"num_classes": 5}),
         r"num_classes=5", r"num_classes=10"),
    Case("train-batch-over-data", lambda ctx: api_train(ctx, batch_size=65),
         r"batch_size=65", r"at most 64"),
    Case("train-resume-malicious", api_train, r"checkpoint.pt holds pickled code",
         r"written by reslab", setup=evil_latest),
    Case("train-resume-other-config", lambda ctx: api_train(ctx, lr=0.05), r"\blr\b differ",
         r"another output folder"),
    Case("train-folder-in-use", api_train, rf"pid {os.getpid()}", r"another output folder",
         setup=lock_held),
    Case("load-trained-malicious", lambda ctx: T.load_trained(ctx.run),
         r"checkpoint.pt holds pickled code", r"written by reslab", setup=evil_latest),
    Case("load-trained-empty", lambda ctx: T.load_trained(ctx.tmp), r"no checkpoint in",
         r"train the model first"),
    Case("load-trained-missing-keys", lambda ctx: T.load_trained(ctx.run),
         r"model_build, optimizer missing", r"a reslab checkpoint holds", setup=missing_keys),
    Case("load-trained-truncated", lambda ctx: T.load_trained(ctx.run),
         r"corrupted or truncated", r"remove it to start over", setup=truncated_only),
    Case("load-checkpoint-not-reslab", lambda ctx: load_checkpoint(ctx.run / LATEST),
         r"not a reslab training checkpoint", r"written by reslab", setup=not_reslab),
    Case("load-dataset-one-class", lambda ctx: load_dataset(ctx.fmt(IMGS)),
         r"1 class folder", r"at least 2", setup=tree(train={"cat": 2})),
    Case("load-dataset-corrupt", lambda ctx: load_dataset(ctx.fmt(IMGS)),
         r"train/dog/x\.png", r"valid image",
         setup=tree(train={"cat": 1, "dog": 1}, corrupt="train/dog/x.png")),
    Case("load-dataset-subset-too-big",
         lambda ctx: load_dataset("cifar10-jpeg", train_subset=10 ** 8),
         r"train_subset=100,000,000", r"only [\d,]+ images"),
    Case("load-dataset-unknown", lambda ctx: load_dataset("imagenet"), r"'imagenet'",
         r"'cifar10'"),
    Case("build-model-depth", lambda ctx: build_model("resnet21"), r"\b21 is not", r"20 and 26"),
    Case("build-model-zero-placement", lambda ctx: build_model("resnet20", zero_placement="mid"),
         r"zero_placement .*'mid'", r"one of 'after', 'split'"),
    Case("pretrained-unknown-name", lambda ctx: build_model("plain20", pretrained="akamaster"),
         r"no weights for 'plain20'", r"takes resnet20, resnet32.*resnet1202", env=WEIGHTS),
    Case("pretrained-unknown-source", lambda ctx: build_model("resnet20", pretrained="imagenet"),
         r"unknown pretrained source 'imagenet'", r"must be one of 'akamaster'", env=WEIGHTS),
    Case("pretrained-option", lambda ctx: build_model("resnet20", pretrained="akamaster",
                                                      shortcut="B"),
         r"'shortcut'", r"only zero_placement", env=WEIGHTS),
    Case("pretrained-offline-missing",
         lambda ctx: build_model("resnet110", pretrained="akamaster"),
         r"resnet110-1d1ed7c2\.th is not in .*weights", r"download https://\S+resnet110",
         env=WEIGHTS),
    Case("pretrained-hash-mismatch", lambda ctx: build_model("resnet20", pretrained="akamaster"),
         r"resnet20-12fca82f\.th does not hold the publisher's weights \(hash mismatch\)",
         r"starts 12fca82f; delete it and download https://", env=WEIGHTS,
         setup=weights_file(other_weights)),
    Case("pretrained-corrupted", lambda ctx: build_model("resnet20", pretrained="akamaster"),
         r"resnet20-12fca82f\.th is corrupted", r"delete it and download https://",
         env=WEIGHTS, setup=weights_file(b"PK\x03\x04 not really a zip, cut short")),
    Case("strip-solutions-unbalanced", lambda ctx: strip_solutions("### BEGIN SOLUTION\n"),
         r"unbalanced solution markers", r"needs its '### END SOLUTION'"),
    Case("write-assignments-out-file", lambda ctx: write_assignments(ctx.file),
         r"a-file.txt is a file", r"use a folder", setup=a_file),
]

# ------------------------------------------------------------------------ the checks


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("cifar10-jpeg", train_subset=64, test_subset=32)


@pytest.fixture(scope="module")
def template(tmp_path_factory, tiny_data) -> Path:
    """A finished tiny run (steps 1 and 2 checkpointed) and a file of the user's."""
    folder = tmp_path_factory.mktemp("template") / "run"
    options = dict(TINY)
    T.train(options.pop("model"), data=tiny_data, out=folder, progress=False, **options)
    (folder / "notes.txt").write_text("my notes on this run\n")
    return folder


@pytest.fixture(scope="module")
def readonly(tmp_path_factory) -> Path | None:
    """A read-only folder: a read-only tmpfs as root, else a folder without write permission."""
    folder = tmp_path_factory.mktemp("readonly")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs",
                              str(folder)], capture_output=True).returncode == 0
    yield folder if mounted else None
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def ctx(tmp_path, template, tiny_data, readonly, monkeypatch):
    monkeypatch.setenv("RESLAB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # e.g. `demo` without --out would write runs/demo here
    run = tmp_path / "run"
    shutil.copytree(template, run)
    context = Ctx(tmp_path, run, tiny_data, readonly)
    yield context
    if hasattr(context, "held"):
        context.held.__exit__(None, None, None)


def _prepare(case: Case, ctx: Ctx, monkeypatch) -> dict[str, bytes]:
    if case.needs == "readonly" and ctx.readonly is None:
        pytest.skip("no read-only folder can be made here (no tmpfs mount as root)")
    for key, value in case.env.items():
        monkeypatch.setenv(key, ctx.fmt(value))
    if case.setup:
        case.setup(ctx)
    return _snapshot(ctx.run)


def _check_message(case: Case, line: str, ctx: Ctx) -> None:
    assert "Traceback" not in line
    assert re.search(case.names, line), f"does not name the input ({case.names}): {line}"
    assert re.search(case.accepts, line), f"does not say what is accepted: {line}"
    if case.forbid:
        assert not re.search(case.forbid, line), f"misleading ({case.forbid}): {line}"
    assert not ctx.marker.exists(), "code stored in a checkpoint ran"


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_bad_input(case: Case, ctx: Ctx, capsys, monkeypatch):
    before = _prepare(case, ctx, monkeypatch)
    try:
        code = main([ctx.fmt(a) for a in case.call])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("python -m reslab"), lines[0]
    assert "Traceback" not in out
    _check_message(case, lines[0], ctx)
    assert _snapshot(ctx.run) == before, "the run folder changed"


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_api_bad_input(case: Case, ctx: Ctx, capsys, monkeypatch):
    before = _prepare(case, ctx, monkeypatch)
    with pytest.raises(ValueError) as info:
        case.call(ctx)
    message = str(info.value)
    assert "\n" not in message.strip(), message
    assert "Traceback" not in capsys.readouterr().err
    _check_message(case, message, ctx)
    assert _snapshot(ctx.run) == before, "the run folder changed"


def test_there_are_at_least_70_distinct_bad_inputs():
    ids = [c.id for c in CLI_CASES + API_CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 70


SHELL_CASES = [
    (["train", "--model", "resnet20", "--lr", "inf"], {}, r"--lr: must be a finite"),
    (["train", "--model", "resnet20", "--device", "gpu9", "--out", "{tmp}/x"], {},
     r"device 'gpu9' is not a device"),
    (["train", "--model", "resnet20", "--out", "{tmp}/x"], {"RESLAB_BUDGET": "nonsense"},
     r"RESLAB_BUDGET='nonsense' is not a budget"),
]


@pytest.mark.parametrize("args,env,message", SHELL_CASES, ids=["lr-inf", "gpu9", "budget"])
def test_bad_inputs_from_a_shell(args, env, message, tmp_path):
    """A few cases as a user types them: a real process, exit code 2, one line."""
    result = subprocess.run([sys.executable, "-m", "reslab"] +
                            [a.format(tmp=tmp_path) for a in args], cwd=ROOT,
                            capture_output=True, text=True,
                            env={**os.environ, "RESLAB_OFFLINE": "1", **env})
    assert result.returncode == 2, result.stderr
    assert re.fullmatch(rf"python -m reslab train: error: .*{message}.*\n", result.stderr)
    assert not (tmp_path / "x").exists()
