#!/usr/bin/env python3
"""The prepared GPU run: one call of at most 9 minutes on a lent GPU that brings results back.

A lent GPU machine runs one command at a time, at most 10 minutes each, starts bare (no
``../shared``, no registry, no jupyter) and goes back 30 s after a call; only files under
``$OUT`` come back, at most 8 of them, each under 16 MiB. So this script, in order:

1. ``selftest`` -- ``python -m reslab selftest`` with a time budget for the whole of it;
2. ``benchmarks`` -- the GPU benchmarks, named one by one (not ``cpu_step.py``), the full
   ResNet-20 schedule first;
3. ``reference-medium`` -- He et al.'s four nets of Fig. 6 (plain/residual, 20/56 layers) on
   cifar10-jpeg on the ``medium`` budget, with Fig. 7's responses measured on the GPU;
4. ``reference-full`` -- the same nets on the paper's full schedule with whatever time is
   left, paused cleanly at an evaluation (a checkpoint) so that a later call continues it.

Each step writes to ``$OUT`` as soon as it finishes: ``log.txt`` (everything printed,
flushed line by line), ``status.json`` (each step's state and seconds), ``selftest.json``
(rewritten after every check), ``benchmarks.tar.gz`` and ``reference-{medium,full}[-k].tar.gz``
(the histories and, while a set is unfinished, its checkpoints, split to stay under 15 MiB a
file). Every step runs as a child process with its own time limit inside the call's.

A second call continues the first: copy what came back into ``.carry/gpu-returned/`` and
pass ``--carried .carry/gpu-returned``; finished steps are skipped and unfinished training
resumes from its checkpoints. ``--rehearsal`` runs the same logic on a CPU, on shapes10,
CI-sized (``tests/test_gpu_run.py``). See the README's "On a lent GPU" for the two calls.

    python3 scripts/gpu_run.py prepare                    # here: copy cifar10-jpeg to .carry/
    python3 scripts/gpu_run.py run --minutes 8.5          # there, in the device call
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".carry"  # ignored by git; named in the device call's ``carry``
PART_BYTES = 15 * 2 ** 20  # under the 16 MiB a returned file may have
STEPS = ("selftest", "benchmarks", "reference-medium", "reference-full")


@dataclass
class Plan:
    """What each step runs and how long it may take (seconds), GPU-sized or rehearsal-sized."""

    dataset: str = "cifar10-jpeg"
    selftest_seconds: float = 140
    benchmarks: list[tuple[str, list[str], float]] = field(default_factory=lambda: [
        ("schedule_time", ["--which", "resnet20"], 100),
        ("trainer_throughput", [], 35), ("sweep_speed", [], 35), ("memory", [], 20),
        ("mac_throughput", [], 25)])
    models: list[str] = field(default_factory=list)  # the degradation set's (default: all 4)
    medium_budget: str = "medium"
    full_budget: str = "full"
    medium_seconds: float = 110
    full_pause: float | None = None  # pause the full set after this many seconds (None: as
    reserve: float = 20              # late as the call allows); packing and the last writes

    @classmethod
    def rehearsal(cls) -> Plan:
        """The same steps on a CPU, CI-sized; limits loose enough for 2 busy cores."""
        quick = ["--quick"]
        return cls(dataset="shapes10", selftest_seconds=240, medium_budget="smoke",
                   full_budget="smoke", medium_seconds=240, full_pause=0, reserve=5,
                   benchmarks=[("schedule_time", quick, 120), ("memory", quick, 120)],
                   models=["plain20", "resnet20"])


class Call:
    """One device call: its deadline, its output folder and its record of the steps."""

    def __init__(self, out: Path, work: Path, minutes: float, plan: Plan) -> None:
        self.out, self.work, self.plan = out, work, plan
        self.deadline = time.monotonic() + 60 * minutes - plan.reserve
        out.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        self.log = open(out / "log.txt", "a", buffering=1)  # noqa: SIM115 - lives with the call
        self.status: dict = {"steps": {}}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.log.write(line + "\n")

    def note(self, step: str, **fields) -> None:
        """Record a step's state in ``status.json`` at once (atomically)."""
        self.status["steps"].setdefault(step, {}).update(fields)
        write_json(self.out / "status.json", self.status)

    def execute(self, argv: list[str], limit: float) -> int:
        """Run ``argv`` from the repo root for at most ``limit`` seconds, its output going to
        the log line by line; its exit code (124 when the limit stopped it)."""
        limit = min(limit, self.left())
        if limit < 5:
            self.say(f"$ {' '.join(argv)}\n  skipped: {limit:.0f} s left")
            return 124
        self.say(f"$ {' '.join(argv)}   (limit {limit:.0f} s)")
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, start_new_session=True)
        stopped = threading.Event()

        def stop() -> None:  # the child and anything it started
            stopped.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)

        timer = threading.Timer(limit, stop)
        timer.start()
        for line in child.stdout:  # the child flushes; pass its lines on as they come
            self.say("  " + line.rstrip())
        child.wait()
        timer.cancel()
        if stopped.is_set():
            self.say(f"  stopped at its limit ({limit:.0f} s)")
            return 124
        return child.returncode


def write_json(path: Path, record: dict) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(part, path)


def pack(out: Path, name: str, root: Path, files: list[Path]) -> list[str]:
    """Pack ``files`` (paths under ``root``) into ``out/<name>.tar.gz``, or into
    ``<name>-1.tar.gz``, ``<name>-2.tar.gz``... when they exceed one part; returns the names."""
    for old in out.glob(f"{name}*.tar.gz"):
        old.unlink()
    parts: list[list[Path]] = [[]]
    size = 0
    for f in sorted(files, key=lambda f: f.stat().st_size):
        if parts[-1] and size + f.stat().st_size > PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(f)
        size += f.stat().st_size
    names = [f"{name}.tar.gz"] if len(parts) == 1 else [
        f"{name}-{k}.tar.gz" for k in range(1, len(parts) + 1)]
    for part_name, members in zip(names, parts):
        tmp = out / f".{part_name}.part"
        with tarfile.open(tmp, "w:gz") as tar:
            for f in members:
                tar.add(f, arcname=str(f.relative_to(root)))
        os.replace(tmp, out / part_name)
    return names


# The steps -------------------------------------------------------------------------------

def selftest(call: Call) -> bool:
    budget = call.plan.selftest_seconds
    code = call.execute([sys.executable, "-m", "reslab", "selftest", "--out",
                         str(call.out / "selftest.json"), "--budget-seconds",
                         str(max(budget - 25, 10))], budget)
    return code in (0, 1)  # 1: a check failed, which the report says; the step is done


def benchmarks(call: Call) -> bool:
    folder = call.work / "bench"
    done = True
    for name, extra, limit in call.plan.benchmarks:
        out = folder / f"{name}.json"
        if out.exists() and json.loads(out.read_text()).get("complete", True):
            continue  # finished in an earlier call
        code = call.execute([sys.executable, f"benchmarks/{name}.py", "--dataset",
                             call.plan.dataset, "--out", str(out), *extra], limit)
        done &= code == 0
        if folder.exists():
            pack(call.out, "benchmarks", call.work, sorted(folder.glob("*.json")))
    return done


def reference(call: Call, step: str, budget: str, limit: float, pause: bool) -> bool:
    """Train (or continue) the degradation set of ``step`` on ``budget``; pack its histories
    and responses, and its checkpoints while it is unfinished. True when it is complete."""
    runs, results = call.work / step / "runs", call.work / step / "results"
    argv = [sys.executable, "scripts/reference_runs.py", "degradation", "--budget", budget,
            "--dataset", call.plan.dataset, "--runs", str(runs), "--results", str(results)]
    if call.plan.models:
        argv += ["--models", *call.plan.models]
    if pause:  # stop at an evaluation before the limit, with time to store the set
        seconds = call.plan.full_pause
        if seconds is None:
            seconds = max(min(limit, call.left()) - 45, 1)
        argv += ["--pause-after", str(seconds)]
    call.execute(argv, limit)
    folder = next(results.glob(f"*-{budget}-degradation"), None) if results.exists() else None
    complete = folder is not None and json.loads(
        (folder / "run.json").read_text()).get("complete", False)
    files = sorted(folder.rglob("*.json")) if folder else []
    if not complete and runs.exists():  # what a later call needs to continue
        files += sorted(runs.rglob("checkpoint.pt")) + sorted(runs.rglob("history.json"))
    if files:
        pack(call.out, step, call.work, files)
    return complete


def run(call: Call, only: list[str]) -> None:
    plan = call.plan
    for step in only:
        if call.status["steps"].get(step, {}).get("state") == "done":
            call.say(f"== {step}: done in an earlier call")
            continue
        call.say(f"== {step} ({call.left():.0f} s left in this call)")
        start = time.monotonic()
        call.note(step, state="running")
        if step == "selftest":
            done = selftest(call)
        elif step == "benchmarks":
            done = benchmarks(call)
        elif step == "reference-medium":
            done = reference(call, step, plan.medium_budget, plan.medium_seconds, pause=False)
        else:
            done = reference(call, step, plan.full_budget, call.left(), pause=True)
        call.note(step, state="done" if done else "unfinished",
                  seconds=round(time.monotonic() - start, 1))


def unpack_carried(call: Call, carried: Path) -> None:
    """Put an earlier call's returned files back: its status, its selftest report, and the
    contents of its archives under the work folder (checkpoints, histories, benchmarks)."""
    if (carried / "status.json").exists():
        call.status = json.loads((carried / "status.json").read_text())
    for name in ("selftest.json", "log.txt"):
        if (carried / name).exists() and not (call.out / name).exists():
            shutil.copy(carried / name, call.out / name)
    for archive in sorted(carried.glob("*.tar.gz")):
        with tarfile.open(archive) as tar:
            tar.extractall(call.work, filter="data")
        shutil.copy(archive, call.out / archive.name)
    call.say(f"carried from an earlier call: {sorted(p.name for p in carried.iterdir())}")


def prepare() -> None:
    """Here, before the call: copy cifar10-jpeg into ``.carry/`` (it lives in ../shared,
    which does not travel) and print the call to make."""
    sys.path.insert(0, str(ROOT))
    from reslab.data.sources import cifar10_jpeg_places
    source = next(p for p in cifar10_jpeg_places() if (p / "train.npz").exists())
    target = CARRY / "cifar10-jpeg"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("train.npz", "test.npz", "README.md"):
        if (source / name).exists():
            shutil.copy(source / name, target / name)
    print(f"copied {source} to {target}; call the device with carry ['.carry'] and:\n"
          "  bash scripts/gpu_run.sh")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["prepare", "run"])
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT"),
                        help="where results go (default $OUT)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/reslab-gpu-run"),
                        help="checkpoints and results before packing")
    parser.add_argument("--minutes", type=float, default=8.5, help="the call's own limit")
    parser.add_argument("--carried", type=Path, help="the files an earlier call returned")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--rehearsal", action="store_true", help="CPU, shapes10, CI-sized")
    args = parser.parse_args(argv)
    if args.action == "prepare":
        prepare()
        return 0
    if args.out is None:
        parser.error("--out is needed where $OUT is not set")
    if not args.rehearsal:
        os.environ.setdefault("RESLAB_CIFAR10_JPEG", str(CARRY / "cifar10-jpeg"))
    call = Call(args.out, args.work, args.minutes,
                Plan.rehearsal() if args.rehearsal else Plan())
    if args.carried:
        unpack_carried(call, args.carried)
    run(call, args.steps)
    call.say(f"== end: {json.dumps(call.status['steps'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
