"""The command line: bad arguments, SIGKILL mid-run and resume, multi-process training.

Kills during a checkpoint write are made reachable by a writer that pauses: the killed run is
started through ``PAUSING`` (below), which monkeypatches :mod:`reslab.training.checkpoint` in that
process only (no hook in the kit itself), announces the pause in a file and waits.
"""
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


# `python -c PAUSING train ...`: pause in the PAUSE_AT-th checkpoint save at PAUSE_IN --
# "write" (half of the temporary file written), "promote" (written and verified, nothing
# renamed) or "rename" (checkpoint.pt already moved to checkpoint.prev.pt); announce it in
# $GATE/paused and wait for $GATE/go (a test kills it or lets it go on).
PAUSING = """
import os, sys, time
from pathlib import Path
import reslab.training.checkpoint as C
gate, where, nth = Path(os.environ["GATE"]), os.environ["PAUSE_IN"], int(os.environ["PAUSE_AT"])
saves = {"n": 0}

def pause():
    (gate / "paused").write_text(str(os.getpid()))
    deadline = time.time() + 120
    while not (gate / "go").exists() and time.time() < deadline:
        time.sleep(0.02)

def save(folder, state, real=C.save_checkpoint):
    saves["n"] += 1
    return real(folder, state)

def write(path, data, real=C.write_file):
    if where == "write" and saves["n"] == nth and path.name.startswith(".checkpoint"):
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2]); f.flush(); os.fsync(f.fileno())
        pause()
    real(path, data)

def promote(tmp, folder, real=C.promote):
    if where == "promote" and saves["n"] == nth:
        pause()
    real(tmp, folder)

def replace(src, dst, real=os.replace):
    real(src, dst)
    if where == "rename" and saves["n"] == nth and str(dst).endswith(C.PREVIOUS):
        pause()

C.save_checkpoint, C.write_file, C.promote, os.replace = save, write, promote, replace
import reslab.training.run
reslab.training.run.save_checkpoint = save
from reslab.cli import main
sys.exit(main(sys.argv[1:]))
"""


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


def test_default_run_folder_is_named_after_the_final_length(tmp_path, monkeypatch):
    """--out checked before the data is read, yet named (as before) after --iterations."""
    from reslab.training.config import config_from
    from reslab.training.loop import default_folder
    monkeypatch.setenv("RESLAB_RUNS", str(tmp_path))
    monkeypatch.setenv("RESLAB_OFFLINE", "1")
    args = SMALL + ["--batch-size", "64", "--iterations", "2", "--eval-every", "2"]
    assert main(["train"] + args) == 0
    expected = default_folder(config_from(
        "smoke", model="resnet20", dataset="cifar10-jpeg", train_subset=512, test_subset=128,
        device="cpu", batch_size=64, iterations=2, eval_every=2), "resnet20")
    assert [p.name for p in tmp_path.iterdir()] == [expected.name]


def _weights(folder: Path) -> dict:
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    return {**state["model"], **{f"opt.{k}": v["momentum_buffer"]
                                 for k, v in state["optimizer"]["state"].items()}}


COMMON = TRAIN + SMALL + ["--iterations", "16", "--eval-every", "2", "--deterministic"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """The uninterrupted run that every killed and resumed one must match bitwise."""
    folder = tmp_path_factory.mktemp("clean") / "run"
    result = _run(COMMON + ["--out", str(folder)])
    assert result.returncode == 0, result.stderr
    return folder


def _assert_resumes_to_match(clean: Path, killed: Path) -> None:
    resumed = _run(COMMON + ["--out", str(killed), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at step" in resumed.stdout
    a, b = _weights(clean), _weights(killed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from uninterrupted"
    history_a = json.loads((clean / "history.json").read_text())["records"]
    history_b = json.loads((killed / "history.json").read_text())["records"]
    assert [r["train_loss"] for r in history_a] == [r["train_loss"] for r in history_b]
    # stale temporary files and the dead writer's lock are gone; both checkpoints are good
    assert sorted(p.name for p in killed.iterdir()) == [
        "checkpoint.prev.pt", "checkpoint.pt", "history.json"]


def test_sigkill_mid_run_then_resume_matches_uninterrupted_bitwise(tmp_path, clean):
    common = COMMON
    killed = tmp_path / "killed"

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

    _assert_resumes_to_match(clean, killed)


def _paused(args: list[str], gate: Path, where: str, nth: int) -> subprocess.Popen:
    """Start ``python -m reslab`` with the pausing writer; return once it has paused."""
    gate.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RESLAB_OFFLINE": "1", "GATE": str(gate), "PAUSE_IN": where,
           "PAUSE_AT": str(nth)}
    proc = subprocess.Popen([sys.executable, "-c", PAUSING] + args[3:], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not (gate / "paused").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert (gate / "paused").exists(), f"never paused: {proc.poll()} {proc.stderr.read()}"
    return proc


@pytest.mark.parametrize("where,left", [
    ("write", {"checkpoint.pt", "checkpoint.prev.pt", "temp"}),     # half a temporary file
    ("promote", {"checkpoint.pt", "checkpoint.prev.pt", "temp"}),   # verified, not renamed
    ("rename", {"checkpoint.prev.pt", "temp"}),                     # between the renames
])
def test_sigkill_during_a_checkpoint_write_then_resume_matches_bitwise(where, left, tmp_path,
                                                                       clean):
    killed = tmp_path / "killed"
    proc = _paused(COMMON + ["--out", str(killed)], tmp_path / "gate", where, nth=3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    names = {("temp" if n.startswith(".checkpoint.pt.tmp") else n)
             for n in os.listdir(killed)} - {"history.json"}
    assert names == left | {".reslab.lock"}  # and the lock of a process that is dead
    _assert_resumes_to_match(clean, killed)


def test_a_second_writer_is_refused_while_the_first_goes_on(tmp_path):
    """Two real processes, one --out: the second exits 2 naming the first; nothing lost."""
    out, gate = tmp_path / "run", tmp_path / "gate"
    args = TRAIN + SMALL + ["--iterations", "4", "--eval-every", "2", "--out", str(out)]
    first = _paused(args, gate, "promote", nth=2)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = _run(args + ["--resume"])
    assert second.returncode == 2
    assert re.fullmatch(rf"python -m reslab train: error: {re.escape(str(out))} is being "
                        rf"written by another reslab process \(pid {first.pid}, .*\n",
                        second.stderr), second.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (gate / "go").write_text("")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert json.loads((out / "history.json").read_text())["records"][-1]["step"] == 4


def test_two_process_gloo_training_matches_single_process(tmp_path):
    args = SMALL + ["--iterations", "6", "--eval-every", "3", "--batch-size", "64"]
    single = _run(TRAIN + args + ["--out", str(tmp_path / "one")])
    assert single.returncode == 0, single.stderr
    ddp = _run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", "-m", "reslab", "train"] + args +
               ["--out", str(tmp_path / "two")], timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    assert ddp.stdout.count("reslab: resnet20 on cifar10-jpeg: train error") == 1  # rank 0's
    one = json.loads((tmp_path / "one" / "history.json").read_text())
    two = json.loads((tmp_path / "two" / "history.json").read_text())
    assert two["meta"]["world_size"] == 2
    for a, b in zip(one["records"], two["records"]):
        # same global batches and step count; BN statistics are per process, hence a tolerance
        assert a["step"] == b["step"]
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.15)
    first_a, first_b = one["records"][0], two["records"][0]
    assert abs(first_a["train_error"] - first_b["train_error"]) < 0.1


LEAVES = """
import torch.distributed as dist
import sys
import reslab
reslab.train("resnet20", dataset="cifar10-jpeg", budget="smoke", iterations=2, out=sys.argv[1],
             train_subset=256, test_subset=64, batch_size=64, device="cpu", progress=False)
print("in a process group after train:", dist.is_initialized())
"""


def test_training_under_torchrun_leaves_the_process_group_it_joined(tmp_path):
    """A process that exits still in a gloo group may abort in interpreter finalisation
    (seen once in CI: rank 1 SIGABRT after a finished run), so ``fit`` leaves the group."""
    script = tmp_path / "leaves.py"
    script.write_text(LEAVES)
    ddp = _run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", str(script), str(tmp_path / "run")], timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    assert ddp.stdout.count("in a process group after train: False") == 2, ddp.stdout


def test_help_names_every_command_and_option(capsys):
    """Issue 27: the usage line names every command, the description is plain text, and
    every option of every command says what it does (``train``'s from TrainConfig's fields)."""
    from reslab.cli import build_parser
    from reslab.training.config import field_help
    parser = build_parser()
    usage = parser.format_usage()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"demo", "train", "models", "assignments", "findings", "data",
                             "selftest"}
    assert all(name in usage for name in commands)
    assert "``" not in parser.format_help() and ":func:" not in parser.format_help()
    for name, sub in commands.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    train = {a.dest: a.help for a in commands["train"]._actions}
    for option in ("lr", "batch_size", "seed", "train_subset", "test_subset", "warmup"):
        assert train[option] == field_help(option).replace("%", "%%"), option
