"""The command line: bad arguments, SIGKILL mid-run and resume, multi-process training."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from reslab.cli import main

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [sys.executable, "-m", "reslab", "train"]
SMALL = ["--model", "resnet20", "--dataset", "cifar10-jpeg", "--budget", "smoke",
         "--train-subset", "512", "--test-subset", "128", "--device", "cpu", "--quiet"]


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESLAB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, **kwargs)


@pytest.mark.parametrize("args,message", [
    (["--model", "resnet21"], r"6n\+2.*20 and 26"),
    (["--model", "resnt20"], r"unknown model 'resnt20': did you mean resnet20"),
    (["--model", "resnet20", "--option", "shortcut=D"], r"shortcut must be one of"),
    (["--model", "resnet20", "--option", "widht=2"], r"unknown option 'widht'"),
    (["--model", "resnet20", "--option", "shortcut"], r"expected key=value"),
    (["--model", "resnet20", "--lr", "-1"], r"--lr: must be positive"),
    (["--model", "resnet20", "--epochs", "two"], r"--epochs: expected a whole number"),
    (["--model", "resnet20", "--epochs", "2", "--iterations", "5"], r"not allowed with"),
    (["--model", "resnet20", "--dataset", "imagenet"], r"dataset must be one of"),
    (["--model", "resnet20", "--dataset", "svhn"], r"svhn is not available: looked in"),
    (["--model", "resnet20", "--budget", "huge"], r"invalid choice: 'huge'"),
    (["--modle", "resnet20"], r"unrecognized arguments|required: --model"),
])
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RESLAB_OFFLINE", "1")
    try:
        code = main(["train"] + args + ["--out", str(tmp_path / "run")])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "run").exists()  # nothing written


def test_acceptance_resnet21_from_a_shell():
    result = _run(TRAIN + ["--model", "resnet21"])
    assert result.returncode == 2
    assert re.fullmatch(r"python -m reslab train: error: .*6n\+2.*20 and 26\n", result.stderr)


def test_existing_run_needs_resume(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"x")
    result = _run(TRAIN + SMALL + ["--iterations", "2", "--out", str(tmp_path)])
    assert result.returncode == 2 and "pass --resume" in result.stderr


def _weights(folder: Path) -> dict:
    state = torch.load(folder / "checkpoint.pt", weights_only=False)
    return {**state["model"], **{f"opt.{k}": v["momentum_buffer"]
                                 for k, v in state["optimizer"]["state"].items()}}


def test_sigkill_mid_run_then_resume_matches_uninterrupted_bitwise(tmp_path):
    common = TRAIN + SMALL + ["--iterations", "16", "--eval-every", "2", "--deterministic"]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert _run(common + ["--out", str(clean)]).returncode == 0

    proc = subprocess.Popen(common + ["--out", str(killed)], cwd=ROOT,
                            env={**os.environ, "RESLAB_OFFLINE": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / "history.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.6)  # now somewhere inside a later period, between checkpoints
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads((killed / "history.json").read_text())["records"][-1]["step"]
    assert done < 16

    resumed = _run(common + ["--out", str(killed), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at step" in resumed.stdout
    a, b = _weights(clean), _weights(killed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from uninterrupted"
    history_a = json.loads((clean / "history.json").read_text())["records"]
    history_b = json.loads((killed / "history.json").read_text())["records"]
    assert [r["train_loss"] for r in history_a] == [r["train_loss"] for r in history_b]


def test_two_process_gloo_training_matches_single_process(tmp_path):
    args = SMALL + ["--iterations", "6", "--eval-every", "3", "--batch-size", "64"]
    single = _run(TRAIN + args + ["--out", str(tmp_path / "one")])
    assert single.returncode == 0, single.stderr
    ddp = _run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", "-m", "reslab", "train"] + args +
               ["--out", str(tmp_path / "two")], timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    one = json.loads((tmp_path / "one" / "history.json").read_text())
    two = json.loads((tmp_path / "two" / "history.json").read_text())
    assert two["meta"]["world_size"] == 2
    for a, b in zip(one["records"], two["records"]):
        # same global batches and step count; BN statistics are per process, hence a tolerance
        assert a["step"] == b["step"]
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.15)
    first_a, first_b = one["records"][0], two["records"][0]
    assert abs(first_a["train_error"] - first_b["train_error"]) < 0.1
