"""The prepared GPU run, rehearsed on the CPU: its order, what comes back and when, its
preflight, and what a killed child leaves.

``scripts/gpu_run.py run --rehearsal`` runs the device call's logic on shapes10, CI-sized,
with the preflight's CPU allowance: every step is a child process, writes to the output
folder as it ends, and the returned files, carried into a second call, let that call skip what
is done and continue training.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_call  # noqa: E402
import gpu_run  # noqa: E402

NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # what a returned file may be called


def _call(out: Path, work: Path, *extra: str, code: int = 0) -> str:
    done = subprocess.run([sys.executable, "scripts/gpu_run.py", "run", "--out", str(out),
                           "--work", str(work), "--minutes", "30", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=2400)
    assert done.returncode == code, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _returned(out: Path) -> list[Path]:
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) <= 8, [p.name for p in files]  # the device returns at most 8 files
    for f in files:
        assert f.parent == out and NAME.match(f.name) and f.stat().st_size < 16 * 2 ** 20
        assert not f.name.endswith(".part"), f.name  # no half-written file comes back
    return files


def _members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


@pytest.mark.slow
@pytest.mark.timeout(4800)
def test_the_gpu_run_returns_each_step_as_it_finishes_and_a_second_call_resumes(tmp_path):
    first = tmp_path / "out1"
    log = _call(first, tmp_path / "work1", "--rehearsal")
    assert log.splitlines()[0].startswith("preflight: ok: ")
    names = [f.name for f in _returned(first)]
    assert set(names) == {"log.txt", "status.json", "selftest.json", "benchmarks.tar.gz",
                          "findings.tar.gz", "reference-full.tar.gz"}
    status = json.loads((first / "status.json").read_text())["steps"]
    assert {k: v["state"] for k, v in status.items()} == {
        "preflight": "done", "selftest-core": "done", "steps-per-s": "done",
        "schedule": "done", "findings-01": "done", "selftest-more": "done",
        "benchmarks": "done", "reference-full": "unfinished"}  # paused at its first evaluation
    order = [log.index(f"== {step} (") for step in gpu_run.Plan.rehearsal().steps()]
    assert order == sorted(order)
    report = json.loads((first / "selftest.json").read_text())  # three groups, one report
    assert report["complete"] is True
    from reslab.tools.selftest import CHECKS
    assert [c["name"] for c in report["checks"]] == [c.name for c in CHECKS]
    assert "bench/schedule_time.json" in _members(first / "benchmarks.tar.gz")
    found = _members(first / "findings.tar.gz")  # where the CPU's references are, by device
    assert "results/findings-smoke-cpu/run.json" in found
    assert "results/findings-smoke-cpu/seed0/01/resnet56/history.json" in found
    full = _members(first / "reference-full.tar.gz")
    assert sum(m.endswith("checkpoint.pt") for m in full) == 2  # to continue from

    carried = tmp_path / "carried"  # what a session copies back and names in ``carry``
    shutil.copytree(first, carried)
    second = tmp_path / "out2"
    log = _call(second, tmp_path / "work2", "--rehearsal", "--carried", str(carried))
    for step in ("selftest-core", "schedule", "findings-01", "benchmarks"):
        assert f"== {step}: done in an earlier call" in log
    assert "resuming at step 2 of 8" in log
    _returned(second)
    with tarfile.open(second / "reference-full.tar.gz") as tar:
        run = next(m for m in tar.getmembers() if m.name.endswith("degradation/run.json"))
        record = json.load(tar.extractfile(run))
    assert set(record["steps_done"].values()) == {4}  # two steps further than the first call


@pytest.mark.parametrize("missing", ["cuda", "dataset"])
def test_the_preflight_stops_a_call_within_30_s_in_one_line(tmp_path, missing):
    """Without a CUDA device (here, unless this machine has one) or without its dataset, the
    call ends at once, saying why in one line."""
    if missing == "cuda":
        if torch.cuda.is_available():
            pytest.skip("this machine has a CUDA device")
        extra, why = (), "no CUDA device"
    else:  # the rehearsal passes on a CPU: only the dataset is missing
        extra, why = ("--rehearsal", "--dataset", f"imagefolder:{tmp_path / 'none'}"), (
            "no dataset imagefolder:")
    start = time.monotonic()
    log = _call(tmp_path / "out", tmp_path / "work", *extra, code=1)
    assert time.monotonic() - start < 30
    lines = log.splitlines()
    assert len(lines) == 1 and lines[0].startswith("preflight: STOP: ") and why in lines[0]
    assert {f.name for f in _returned(tmp_path / "out")} == {"log.txt", "status.json"}


@pytest.mark.slow
def test_a_child_killed_before_its_run_json_does_not_stop_the_later_steps(tmp_path):
    """Notebook 01's references on the quick budget are stopped at a 10 s limit, long before
    run.json: the step is unfinished and not returned, its traces are gone from the findings
    folder, and the next step runs and is returned."""
    plan = gpu_run.Plan.rehearsal()
    plan.findings_budget = "quick"
    plan.limits["findings-01"] = 10
    call = gpu_call.Call(tmp_path / "out", tmp_path / "work", 1500, gpu_run.RETURNED)
    gpu_run.run(call, plan, ["findings-01", "benchmarks"])
    assert {k: v["state"] for k, v in call.status["steps"].items()} == {
        "findings-01": "unfinished", "benchmarks": "done"}
    returned = call.finish()
    assert returned == ["benchmarks.tar.gz", "log.txt", "status.json"]
    assert "stopped at its limit (10 s)" in (tmp_path / "out" / "log.txt").read_text()
    assert not list((tmp_path / "work" / "results").glob("findings-*"))


def test_a_missing_or_half_written_run_json_reads_as_none(tmp_path):
    path = tmp_path / "run.json"
    assert gpu_call.read_json(path) is None
    path.write_text('{"complete": tr')  # a child killed while writing it
    assert gpu_call.read_json(path) is None
    path.write_text('{"complete": true}')
    assert gpu_call.read_json(path) == {"complete": True}


def test_child_output_is_decoded_leniently_and_a_progress_bar_is_one_line(tmp_path):
    """A bad byte does not stop the call, and a bar redrawn with \\r leaves its last state."""
    script = ("import sys; w = sys.stdout.buffer.write; w(b'bad \\xff byte\\n'); "
              "w(b'bar 1%\\rbar 50%\\rbar 100%\\n'); w(b'done\\n')")
    call = gpu_call.Call(tmp_path / "out", tmp_path / "work", 600)
    assert call.execute([sys.executable, "-c", script], 120) == 0
    call.finish()
    lines = (tmp_path / "out" / "log.txt").read_text().splitlines()[1:]
    assert lines == ["  bad \ufffd byte", "  bar 100%", "  done"]


def test_archives_leave_room_for_the_other_files_and_no_part_file_stays(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr(gpu_call, "PART_BYTES", 1000)
    files = []
    for k in range(4):
        f = tmp_path / "work" / f"net{k}" / "checkpoint.pt"
        f.parent.mkdir(parents=True)
        f.write_bytes(bytes(range(256)) * (3 + k))  # 768 bytes and more: one a part
        files.append(f)
    call = gpu_call.Call(tmp_path / "out", tmp_path / "work", 600, gpu_run.RETURNED)
    (tmp_path / "out" / "selftest.json.part").write_text("{")  # as a killed write leaves it
    (tmp_path / "out" / "notes.txt").write_text("")
    # 8 files: log.txt, status.json, selftest.json, benchmarks and findings (reserved),
    # notes.txt and the stale part: one place left for reference-full's 4 parts
    assert call.pack("reference-full", files) == ["reference-full.tar.gz"]
    assert _members(tmp_path / "out" / "reference-full.tar.gz") == ["net0/checkpoint.pt"]
    assert "3 of the largest files left out" in (tmp_path / "out" / "log.txt").read_text()
    assert call.finish() == ["log.txt", "notes.txt", "reference-full.tar.gz"]


def test_returned_files_are_split_to_stay_under_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_call, "PART_BYTES", 1000)
    files = []
    for k in range(3):
        f = tmp_path / "work" / f"net{k}" / "checkpoint.pt"
        f.parent.mkdir(parents=True)
        f.write_bytes(bytes(range(256)) * 3)  # 768 bytes: two do not fit in one part
        files.append(f)
    call = gpu_call.Call(tmp_path / "out", tmp_path / "work", 600)
    names = call.pack("reference-full", files)
    assert names == [f"reference-full-{k}.tar.gz" for k in (1, 2, 3)]
    members = sorted(m for n in names for m in _members(tmp_path / "out" / n))
    assert members == [f"net{k}/checkpoint.pt" for k in range(3)]
    assert not list((tmp_path / "out").glob("*.part"))


def test_the_headline_fits_even_when_every_earlier_step_takes_its_whole_limit():
    """The GPU plan's order by value, and limits that cannot cut ResNet-20's full schedule
    short: preflight, core, steps/s and the schedule together fit in the call (8.75 minutes,
    less the reserve for the last writes); the medium references 01, 02, 03 follow."""
    plan = gpu_run.Plan()
    assert plan.steps() == ["selftest-core", "steps-per-s", "schedule", "findings-01",
                            "findings-02", "findings-03", "selftest-more", "benchmarks",
                            "reference-full"]
    first = ("preflight", "selftest-core", "steps-per-s", "schedule")
    assert sum(plan.limit(s) for s in first) <= 60 * 8.75 - plan.reserve
    assert plan.limit("schedule") >= 250 + 30  # the estimate's top, and a start and decode
    assert plan.seeds == (0, 1, 2) and plan.findings_budget == "medium"
