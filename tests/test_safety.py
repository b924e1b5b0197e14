"""Safe to load, finite or nothing, rotation that keeps a good file, one writer, full disks.

Slower, multi-process cases (SIGKILL during a checkpoint write, two real writers) are in
tests/test_cli_and_resume.py; the table of bad inputs is tests/test_bad_inputs.py.
"""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

import reslab
import reslab.training.checkpoint as C
from reslab import training as T
from reslab.cli import main
from reslab.data import load_dataset
from reslab.training.finite import FiniteWatch, first_nonfinite_state

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(budget="smoke", progress=False, device="cpu", batch_size=32, eval_every=1)
CLI = ["train", "--model", "resnet20", "--dataset", "cifar10-jpeg", "--budget", "smoke",
       "--train-subset", "64", "--test-subset", "32", "--batch-size", "32", "--device", "cpu",
       "--quiet"]


class Evil:
    """Pickles as ``open(marker, "w")``: an unsafe load creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("cifar10-jpeg", train_subset=64, test_subset=32)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("RESLAB_OFFLINE", "1")


def _train(folder, data, iterations=2, **options):
    return T.train("resnet20", data=data, out=folder, iterations=iterations,
                   **{**TINY, **options})


class Stop(Exception):
    """Ends a run after an evaluation, as a kill would (its checkpoint is written)."""


def _train_until(folder, data, stop: int, iterations: int = 3) -> None:
    """Train towards ``iterations`` but stop after the checkpoint of step ``stop``."""
    def on_eval(history):
        if history.last("step") == stop:
            raise Stop
    with pytest.raises(Stop):
        _train(folder, data, iterations=iterations, on_eval=on_eval)


@contextmanager
def _plain_torch_only():
    """weights_only loading with torch's own allow-list only (without reslab's additions)."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        yield
    finally:
        torch.serialization.add_safe_globals(saved)


def assert_every_checkpoint_plain_and_finite(folder: Path) -> int:
    """Every .pt file in ``folder`` loads with plain ``weights_only=True`` and is finite."""
    paths = sorted(Path(folder).glob("*.pt"))
    with _plain_torch_only():
        for path in paths:
            state = torch.load(path, weights_only=True)
            for name, tensor in C.named_tensors(state):
                if tensor.is_floating_point():
                    assert torch.isfinite(tensor).all(), f"{path.name}: {name} is not finite"
    return len(paths)


# ------------------------------------------------------------------------ safe to load

def test_every_torch_load_in_the_kit_is_weights_only():
    calls = [(p, line) for p in (ROOT / "reslab").rglob("*.py")
             for line in p.read_text().splitlines() if "torch.load(" in line]
    assert calls, "the kit loads checkpoints somewhere"
    assert all("weights_only=True" in line for _, line in calls), calls


def test_checkpoints_hold_only_tensors_and_plain_data(tmp_path, tiny_data):
    _train(tmp_path, tiny_data)
    assert assert_every_checkpoint_plain_and_finite(tmp_path) == 2
    with _plain_torch_only():
        state = torch.load(tmp_path / C.LATEST, weights_only=True)
    json.dumps(state["config"]), json.dumps(state["history"])  # JSON-compatible
    assert all(isinstance(v, torch.Tensor) for v in state["rng"].values())


def _evil_run(folder: Path, data, marker: Path, which: str = C.LATEST) -> None:
    _train(folder, data)
    state = C.load_checkpoint(folder / which)
    torch.save({**state, "extra": Evil(marker)}, folder / which)


def test_a_malicious_checkpoint_would_run_code_if_unpickled(tmp_path, tiny_data):
    """The control: the payload of these tests really runs code under a plain unpickle."""
    marker = tmp_path / "CODE-RAN"
    _evil_run(tmp_path / "run", tiny_data, marker)
    torch.load(tmp_path / "run" / C.LATEST, weights_only=False)
    assert marker.exists()


def test_no_code_runs_from_a_malicious_checkpoint_cli_load_trained_or_rerun(
        tmp_path, tiny_data, capsys):
    marker, run = tmp_path / "CODE-RAN", tmp_path / "run"
    _evil_run(run, tiny_data, marker)
    with pytest.raises(C.UnsafeCheckpoint, match=r"holds pickled code .*\(io\.open\)"):
        T.load_trained(run)
    with pytest.raises(ValueError, match="nothing in it ran"):  # a notebook cell re-run
        _train(run, tiny_data)
    code = main(CLI + ["--iterations", "2", "--eval-every", "1", "--out", str(run),
                       "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "holds pickled code" in err[0], err
    assert not marker.exists()


def test_the_hint_never_unpickles_the_previous_checkpoint(tmp_path, tiny_data):
    marker, run = tmp_path / "CODE-RAN", tmp_path / "run"
    _evil_run(run, tiny_data, marker, which=C.PREVIOUS)
    latest = run / C.LATEST
    latest.write_bytes(latest.read_bytes()[:3000])
    with pytest.raises(C.CheckpointError, match="corrupted or truncated") as info:
        C.load_checkpoint(latest)
    assert "intact" not in str(info.value)  # an unsafe previous file is not offered
    with pytest.raises(C.UnsafeCheckpoint):
        C.load_latest(run, warn=lambda _: None)
    assert not marker.exists()


def test_checkpoints_of_older_reslab_versions_still_load(tmp_path, tiny_data):
    """They stored torch.__version__ itself (a TorchVersion): allowed, it holds no code."""
    from torch.torch_version import TorchVersion
    _train(tmp_path, tiny_data)
    state = C.load_checkpoint(tmp_path / C.LATEST)
    state["history"]["meta"]["torch"] = TorchVersion(torch.__version__)
    torch.save(state, tmp_path / C.LATEST)
    assert C.load_checkpoint(tmp_path / C.LATEST)["step"] == 2


# ------------------------------------------------------------------------ finite or nothing

def test_the_watch_keeps_the_first_bad_step_without_reading_the_device():
    watch = FiniteWatch(torch.device("cpu"))
    for step, loss in enumerate([1.0, 2.0, float("nan"), 3.0, float("inf")], start=1):
        watch.observe(torch.tensor(loss), step)
    assert watch.first_bad_step() == 3
    fresh = FiniteWatch(torch.device("cpu"))
    fresh.observe(torch.tensor(0.5), 1)
    assert fresh.first_bad_step() is None


def test_first_nonfinite_state_finds_a_bn_buffer(tiny_data):
    model = reslab.build_model("resnet20")
    assert first_nonfinite_state(model) is None
    name = next(k for k in model.state_dict() if k.endswith("running_var"))
    model.state_dict()[name][0] = float("inf")
    assert first_nonfinite_state(model) == f"model.{name}"


@pytest.mark.parametrize("lr", ["1e6", "100"])
def test_divergent_learning_rates_leave_only_finite_checkpoints(lr, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(CLI + ["--iterations", "12", "--eval-every", "2", "--lr", lr, "--out",
                       str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    if lr == "1e6":
        assert code == 1
    if code == 1:  # diverged: one line naming the step and the last finite checkpoint
        assert len(err) == 1, err
        assert re.search(r"diverged (at|between) step.*(last good checkpoint \(step \d+\) is "
                         r"kept in .*checkpoint\.pt|no checkpoint was written)", err[0]), err
    assert_every_checkpoint_plain_and_finite(run)
    for path in run.glob("*.pt"):
        assert C.load_checkpoint(path)["step"] > 0


def test_nan_loss_mid_run_stops_at_its_step(tmp_path, tiny_data, monkeypatch):
    calls, real = {"n": 0}, torch.nn.functional.cross_entropy

    def poisoned(*args, **kwargs):  # calls: steps 1-2, evaluation, steps 3-4, evaluation,
        calls["n"] += 1             # then step 5 (call 7): one NaN loss, read at step 6
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 7 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    with pytest.raises(T.TrainingDiverged) as info:
        _train(tmp_path, tiny_data, iterations=8, eval_every=2)
    assert re.fullmatch(r"resnet20 diverged at step 5: the training loss became nan; the "
                        r"last good checkpoint \(step 4\) is kept in .*checkpoint\.pt\. .*",
                        str(info.value)), str(info.value)
    assert assert_every_checkpoint_plain_and_finite(tmp_path) == 2


def test_an_inf_bn_buffer_with_a_finite_loss_is_never_checkpointed(tmp_path, tiny_data,
                                                                   monkeypatch):
    real = T.Run.train_step

    def spoil(self, x, y):
        real(self, x, y)
        if self.step == 3:  # training mode uses batch statistics: the loss stays finite
            name = next(k for k in self.model.state_dict() if k.endswith("running_var"))
            self.model.state_dict()[name].fill_(float("inf"))

    monkeypatch.setattr(T.Run, "train_step", spoil)
    with pytest.raises(T.TrainingDiverged, match=r"between steps 2 and 4: model\..*"
                       r"running_var is not finite; the last good checkpoint \(step 2\)"):
        _train(tmp_path, tiny_data, iterations=8, eval_every=2)
    assert C.load_checkpoint(tmp_path / C.LATEST)["step"] == 2
    assert assert_every_checkpoint_plain_and_finite(tmp_path) == 1


def test_save_checkpoint_refuses_a_nonfinite_state_and_keeps_the_files(tmp_path, tiny_data):
    _train(tmp_path, tiny_data)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    state = C.load_checkpoint(tmp_path / C.LATEST)
    next(iter(state["model"].values())).fill_(float("nan"))
    with pytest.raises(C.CheckpointError, match="was not written: .*NaN or infinite"):
        C.save_checkpoint(tmp_path, state)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ------------------------------------------------------------------------ rotation

def test_truncated_latest_then_resume_never_overwrites_the_intact_previous(tmp_path,
                                                                         tiny_data):
    _train_until(tmp_path, tiny_data, stop=2)
    previous = (tmp_path / C.PREVIOUS).read_bytes()
    latest = tmp_path / C.LATEST
    latest.write_bytes(latest.read_bytes()[:5000])  # a write cut short
    state = C.load_latest(tmp_path, warn=lambda _: None)
    assert state["step"] == 1
    C.save_checkpoint(tmp_path, state)  # the corrupt file must not become the previous one
    assert (tmp_path / C.PREVIOUS).read_bytes() == previous
    assert C.is_good(tmp_path / C.LATEST)
    resumed = _train(tmp_path, tiny_data, iterations=3)
    assert resumed.last("step") == 3
    assert [C.load_checkpoint(tmp_path / n)["step"] for n in (C.LATEST, C.PREVIOUS)] == [3, 2]


def test_a_file_that_does_not_verify_is_never_promoted(tmp_path, tiny_data, monkeypatch):
    _train(tmp_path, tiny_data)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = C.write_file
    monkeypatch.setattr(C, "write_file", lambda path, data: real(path, data[:len(data) // 2]))
    state = C.load_checkpoint(tmp_path / C.LATEST)
    with pytest.raises(C.CheckpointError, match="was not written: .*corrupted or truncated"):
        C.save_checkpoint(tmp_path, state)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp left


def test_stale_temporary_files_are_removed_on_start(tmp_path, tiny_data):
    _train_until(tmp_path, tiny_data, stop=2)
    stale = [tmp_path / ".checkpoint.pt.tmp999999", tmp_path / ".history.json.tmp4242"]
    for path in stale:
        path.write_bytes(b"half a file")
    (tmp_path / "notes.tmp1").write_text("mine")
    _train(tmp_path, tiny_data, iterations=3)
    assert not any(p.exists() for p in stale)
    assert (tmp_path / "notes.tmp1").read_text() == "mine"
    assert not (tmp_path / ".reslab.lock").exists()


def test_a_second_writer_is_refused_and_a_stale_lock_is_not(tmp_path, tiny_data):
    from reslab.training.runlock import LOCK, FolderInUse, run_folder_lock
    _train_until(tmp_path, tiny_data, stop=2)
    with run_folder_lock(tmp_path):
        with pytest.raises(FolderInUse, match=rf"another reslab process \(pid {os.getpid()}"):
            _train(tmp_path, tiny_data, iterations=3)
    # a lock file left by a killed process (nobody holds it) does not block a resume
    (tmp_path / LOCK).write_text(json.dumps({"pid": 999999, "started": "earlier",
                                             "command": "killed"}))
    assert _train(tmp_path, tiny_data, iterations=3).last("step") == 3


# ------------------------------------------------------------------------ full disk

@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A folder on a 5 MB tmpfs (as root), else a folder whose 3rd write fails with ENOSPC.

    A resnet20 checkpoint is 2.2 MB: the third one needs a temporary file beside
    checkpoint.pt and checkpoint.prev.pt, 6.6 MB in all.
    """
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(folder)],
        capture_output=True).returncode == 0
    if not mounted:
        real, calls = C.write_file, {"n": 0}

        def enospc_on_third(path, data):
            calls["n"] += 1 if path.name.startswith(".checkpoint") else 0
            if calls["n"] == 3 and path.name.startswith(".checkpoint"):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real(path, data)
        monkeypatch.setattr(C, "write_file", enospc_on_third)
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_is_one_line_and_the_previous_checkpoint_is_intact(small_disk, capsys):
    run = small_disk / "run"
    code = main(CLI + ["--iterations", "6", "--eval-every", "1", "--out", str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert re.fullmatch(r"python -m reslab train: could not write the checkpoint of step 3 "
                        r"to .*: the disk is full; the previous checkpoint .*checkpoint\.pt "
                        r"\(step 2\) is intact\. Free some space, then resume the run", err[0])
    assert [C.load_checkpoint(run / n)["step"] for n in (C.LATEST, C.PREVIOUS)] == [2, 1]
    assert sorted(p.name for p in run.iterdir()) == [C.PREVIOUS, C.LATEST, "history.json"]


def test_a_full_disk_while_writing_the_history_is_one_line(tmp_path, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(C, "write_file", full)
    (tmp_path / "history.json").write_text("{}")
    with pytest.raises(C.WriteFailed, match=r"history.json: the disk is full; the previous "
                                            r"history.json is unchanged"):
        C.atomic_write_json(tmp_path / "history.json", {"records": []})
    assert os.listdir(tmp_path) == ["history.json"]


# ------------------------------------------------------------------------ base install

def test_assignments_work_without_nbformat(tmp_path):
    code = ("import sys; sys.modules['nbformat'] = None; from reslab.cli import main; "
            f"sys.exit(main(['assignments', '--out', {str(tmp_path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    written = sorted(tmp_path.glob("*.ipynb"))
    assert written and all(n.name[:2].isdigit() for n in written)
    for path in written:
        nb = json.loads(path.read_text())
        text = "".join("".join(c["source"]) for c in nb["cells"])
        assert "BEGIN SOLUTION" not in text and "YOUR CODE HERE" in text
        assert all(c.get("outputs", []) == [] for c in nb["cells"])
