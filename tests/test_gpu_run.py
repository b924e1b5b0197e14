"""The prepared GPU run, rehearsed on the CPU: what comes back, as it comes, and resuming.

``scripts/gpu_run.py run --rehearsal`` runs the device call's logic on shapes10, CI-sized:
every step is a child process, writes to the output folder as it finishes, and the returned
files, carried into a second call, let that call skip what is done and continue training.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # what a returned file may be called


def _call(out: Path, work: Path, *extra: str) -> str:
    done = subprocess.run([sys.executable, "scripts/gpu_run.py", "run", "--rehearsal",
                           "--out", str(out), "--work", str(work), "--minutes", "20", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _returned(out: Path) -> list[Path]:
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) <= 8, [p.name for p in files]  # the device returns at most 8 files
    for f in files:
        assert f.parent == out and NAME.match(f.name) and f.stat().st_size < 16 * 2 ** 20
    return files


def _members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


@pytest.mark.slow
def test_the_gpu_run_returns_each_step_as_it_finishes_and_a_second_call_resumes(tmp_path):
    first = tmp_path / "out1"
    log = _call(first, tmp_path / "work1")
    names = [f.name for f in _returned(first)]
    assert set(names) == {"log.txt", "status.json", "selftest.json", "benchmarks.tar.gz",
                          "reference-medium.tar.gz", "reference-full.tar.gz"}
    status = json.loads((first / "status.json").read_text())["steps"]
    assert {k: v["state"] for k, v in status.items()} == {
        "selftest": "done", "benchmarks": "done", "reference-medium": "done",
        "reference-full": "unfinished"}  # the full set paused at its first evaluation
    assert json.loads((first / "selftest.json").read_text())["complete"] is True
    # incrementally: each step's file was written when it finished, before the next began
    order = [first / n for n in ("selftest.json", "benchmarks.tar.gz",
                                 "reference-medium.tar.gz", "reference-full.tar.gz")]
    assert [p.stat().st_mtime for p in order] == sorted(p.stat().st_mtime for p in order)
    assert log.index("report in") < log.index("== benchmarks") < log.index("== reference")
    assert "schedule_time.json" in " ".join(_members(first / "benchmarks.tar.gz"))
    medium = _members(first / "reference-medium.tar.gz")
    assert not any(m.endswith(".pt") for m in medium)  # finished: histories, no checkpoints
    assert any(m.endswith("responses.json") for m in medium)
    full = _members(first / "reference-full.tar.gz")
    assert sum(m.endswith("checkpoint.pt") for m in full) == 2  # to continue from

    carried = tmp_path / "carried"  # what a session copies back and names in ``carry``
    shutil.copytree(first, carried)
    second = tmp_path / "out2"
    log = _call(second, tmp_path / "work2", "--carried", str(carried))
    assert "== selftest: done in an earlier call" in log
    assert "== benchmarks: done in an earlier call" in log
    assert "resuming at step 2 of 8" in log
    _returned(second)
    with tarfile.open(second / "reference-full.tar.gz") as tar:
        run = next(m for m in tar.getmembers() if m.name.endswith("degradation/run.json"))
        record = json.load(tar.extractfile(run))
    assert set(record["steps_done"].values()) == {4}  # two steps further than the first call


def test_returned_files_are_split_to_stay_under_the_size_limit(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import gpu_run
    monkeypatch.setattr(gpu_run, "PART_BYTES", 1000)
    files = []
    for k in range(3):
        f = tmp_path / "work" / f"net{k}" / "checkpoint.pt"
        f.parent.mkdir(parents=True)
        f.write_bytes(bytes(range(256)) * 3)  # 768 bytes: two do not fit in one part
        files.append(f)
    (tmp_path / "out").mkdir()
    names = gpu_run.pack(tmp_path / "out", "reference-full", tmp_path / "work", files)
    assert names == [f"reference-full-{k}.tar.gz" for k in (1, 2, 3)]
    members = sorted(m for n in names for m in _members(tmp_path / "out" / n))
    assert members == [f"net{k}/checkpoint.pt" for k in range(3)]
