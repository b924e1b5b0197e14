#!/usr/bin/env python3
"""The prepared GPU run: one call of at most 9 minutes on a lent GPU, its steps ordered by value.

A lent GPU gives a task 15 minutes in all, its start included: one call of about 9 minutes
(``timeout_s`` 540), and perhaps a second. So the call does first what matters most, and
what does not fit is cut from the end (the README's "On a lent GPU" says what each step is
expected to take):

1. ``preflight`` -- one line within seconds; without a CUDA device or without its dataset the
   call stops there (``scripts/gpu_preflight.py``);
2. ``selftest-core`` -- the selftest's correctness core: resume, seeds vs solo, graph vs
   eager, the trainer's own graph check, determinism;
3. ``steps-per-s`` -- eager vs graphed steps/s of ResNet-20, 56 and 110 (the selftest's);
4. ``schedule`` -- ResNet-20's full 64k schedule timed to the end
   (``benchmarks/schedule_time.py``, its JSON rewritten at every evaluation);
5. ``findings-01``, ``findings-02``, ``findings-03`` -- the medium references:
   ``python -m reslab findings --budget medium --seeds 0 1 2 --notebooks NN``, into
   ``results/findings-medium-gpu/`` as the CPU's go into ``findings-medium-cpu/``; a notebook
   that does not finish is not returned (it reruns);
6. only with time left: ``selftest-more`` (the other checks: memory, compile...),
   ``benchmarks`` (the remaining ones) and ``reference-full`` (Fig. 6's four nets on the full
   schedule, paused at an evaluation so that a later call continues them).

Every step runs as a child process with its own limit inside the call's and writes under the
work folder; as it ends, the call copies or packs what came of it into ``$OUT``
(``scripts/gpu_call.py``): ``log.txt``, ``status.json``, ``selftest.json``,
``benchmarks.tar.gz``, ``findings.tar.gz`` and ``reference-full[-k].tar.gz``, at most 8 files.
Archive members are named as in the repository (``results/findings-medium-gpu/...``).

A second call continues the first: copy what came back into ``.carry/gpu-returned/`` and pass
``--carried .carry/gpu-returned``; finished steps are skipped, unfinished ones run again.
``--rehearsal`` runs the same logic on a CPU, on shapes10, CI-sized (``tests/test_gpu_run.py``).

    python3 scripts/gpu_run.py prepare                    # here: copy cifar10-jpeg to .carry/
    python3 scripts/gpu_run.py run --minutes 8.75         # there, in the device call
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gpu_call import STOPPED, Call, copy, read_json, remove_parts, unpack

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".carry"  # ignored by git; named in the device call's ``carry``
RETURNED = ("log.txt", "status.json", "selftest.json", "benchmarks.tar.gz", "findings.tar.gz")
GPU_LIMITS = {"preflight": 30, "selftest-core": 130, "steps-per-s": 70, "schedule": 280}
SELFTEST_START = 20  # a selftest child's seconds outside its budget: its start, its last write
GROUPS = {"selftest-core": "core", "steps-per-s": "speed", "selftest-more": "more"}


@dataclass
class Plan:
    """What each step runs and its limit in seconds (a step without one runs as long as the
    call allows): GPU-sized, or the CPU rehearsal's."""

    dataset: str = "cifar10-jpeg"
    allow_cpu: bool = False  # the preflight's CPU allowance: the rehearsal's
    limits: dict[str, float] = field(default_factory=lambda: dict(GPU_LIMITS))
    schedule: list[str] = field(default_factory=lambda: ["--which", "resnet20"])
    findings_budget: str = "medium"
    seeds: tuple[int, ...] = (0, 1, 2)
    notebooks: tuple[str, ...] = ("01", "02", "03")
    benchmarks: list[tuple[str, list[str], float]] = field(default_factory=lambda: [
        ("trainer_throughput", [], 35), ("sweep_speed", [], 35), ("memory", [], 20),
        ("mac_throughput", [], 25)])
    models: list[str] = field(default_factory=list)  # Fig. 6's full set (default: all 4)
    full_budget: str = "full"
    full_pause: float | None = None  # pause the full set after this many seconds (None: as
    reserve: float = 15              # late as the call allows); the last writes

    @classmethod
    def rehearsal(cls) -> Plan:
        """The same steps on a CPU, CI-sized; limits loose enough for 2 busy cores (the
        preflight's is the GPU's)."""
        quick = ["--quick"]
        return cls(dataset="shapes10", allow_cpu=True, schedule=quick, findings_budget="smoke",
                   seeds=(0,), notebooks=("01",), benchmarks=[("memory", quick, 240)],
                   models=["plain20", "resnet20"], full_budget="smoke", full_pause=0,
                   reserve=5, limits={"preflight": GPU_LIMITS["preflight"],
                                      "selftest-core": 400, "steps-per-s": 200,
                                      "schedule": 300})

    def steps(self) -> list[str]:
        """The steps after the preflight, in order of value."""
        return ["selftest-core", "steps-per-s", "schedule",
                *(f"findings-{nb}" for nb in self.notebooks),
                "selftest-more", "benchmarks", "reference-full"]

    def limit(self, step: str) -> float:
        return self.limits.get(step, math.inf)


# The steps: each returns whether it is done (False: a later call runs it again) -------------

def preflight(call: Call, plan: Plan) -> bool:
    """One line, within the preflight's limit: can this call do its work?"""
    argv = [sys.executable, "scripts/gpu_preflight.py", "--dataset", plan.dataset]
    code = call.execute(argv + (["--allow-cpu"] if plan.allow_cpu else []),
                        plan.limit("preflight"), echo=False)
    line = call.last_line
    if code == STOPPED:
        line = f"preflight: STOP: no answer within {plan.limit('preflight'):.0f} s"
    elif not line.startswith("preflight: "):
        line = f"preflight: STOP: exit code {code}: {line}"
    call.say(line)
    call.note("preflight", state="done" if code == 0 else "stopped", line=line)
    return code == 0


def selftest(call: Call, plan: Plan, step: str) -> bool:
    """One group of the selftest's checks, into the one report (``selftest.json``)."""
    limit = min(plan.limit(step), call.left())
    report = call.work / "selftest.json"
    code = call.execute([sys.executable, "-m", "reslab", "selftest", "--out", str(report),
                         "--budget-seconds", f"{max(limit - SELFTEST_START, 10):.0f}",
                         "--group", GROUPS[step]], limit)
    if report.exists():
        call.copy_back(report, "selftest.json")
    return code in (0, 1)  # 1: a check failed, which the report says; the step is done


def pack_benchmarks(call: Call) -> None:
    folder = call.work / "bench"
    if folder.exists():
        call.pack("benchmarks", sorted(folder.glob("*.json")))


def benchmark(call: Call, plan: Plan, name: str, extra: list[str], limit: float) -> bool:
    """Run ``benchmarks/<name>.py`` unless an earlier call finished it; whether complete."""
    result = call.work / "bench" / f"{name}.json"
    record = read_json(result)
    if record is None or not record.get("complete", True):
        call.execute([sys.executable, f"benchmarks/{name}.py", "--dataset", plan.dataset,
                      "--out", str(result), *extra], limit)
        pack_benchmarks(call)
        record = read_json(result)  # guarded: a benchmark killed before it wrote is None
    return record is not None and record.get("complete", True)


def schedule(call: Call, plan: Plan, step: str) -> bool:
    """ResNet-20's full schedule: the call's headline number."""
    return benchmark(call, plan, "schedule_time", plan.schedule, plan.limit(step))


def benchmarks(call: Call, plan: Plan, step: str) -> bool:
    """The remaining benchmarks, each with its own limit."""
    return all([benchmark(call, plan, name, extra, limit)
                for name, extra, limit in plan.benchmarks])


def findings(call: Call, plan: Plan, step: str) -> bool:
    """One notebook's medium references over the seeds; returned only once finished. An
    unfinished notebook's traces are removed from the findings folder (the later notebooks'
    archives leave it out); its checkpoints stay, for a call on the same machine."""
    notebook = step.removeprefix("findings-")
    results, finished = call.work / "results", call.work / "findings-finished"
    mirror(results, finished, plan.findings_budget)
    argv = [sys.executable, "-m", "reslab", "findings", "--budget", plan.findings_budget,
            "--seeds", *map(str, plan.seeds), "--notebooks", notebook, "--dataset",
            plan.dataset, "--quiet"]
    code = call.execute(argv, plan.limit(step), env={"RESLAB_RESULTS": str(results),
                                                      "RESLAB_RUNS": str(call.work / "runs")})
    folder = next(results.glob(f"findings-{plan.findings_budget}-*"), None)
    if code == 0 and folder is not None and read_json(folder / "run.json") is not None:
        call.pack("findings", sorted(p for p in folder.rglob("*") if p.is_file()))
        return True
    mirror(finished, results, plan.findings_budget)
    call.say(f"  notebook {notebook} unfinished: not returned; a later call runs it again")
    return False


def mirror(source: Path, target: Path, budget: str) -> None:
    """Make ``target``'s findings folders of ``budget`` what ``source``'s are (none if none)."""
    pattern = f"findings-{budget}-*"
    for old in target.glob(pattern) if target.exists() else []:
        shutil.rmtree(old)
    for folder in source.glob(pattern) if source.exists() else []:
        shutil.copytree(folder, target / folder.name)


def reference_full(call: Call, plan: Plan, step: str) -> bool:
    """Train (or continue) Fig. 6's set on the full schedule, paused at an evaluation before
    the call ends; pack its histories, and its checkpoints while it is unfinished."""
    runs, results = call.work / step / "runs", call.work / step / "results"
    pause = plan.full_pause if plan.full_pause is not None else max(call.left() - 45, 1)
    argv = [sys.executable, "scripts/reference_runs.py", "degradation", "--budget",
            plan.full_budget, "--dataset", plan.dataset, "--runs", str(runs), "--results",
            str(results), "--pause-after", str(pause)]
    call.execute(argv + (["--models", *plan.models] if plan.models else []), plan.limit(step))
    folder = next(results.glob(f"*-{plan.full_budget}-degradation"), None) if (
        results.exists()) else None
    record = read_json(folder / "run.json") if folder else None  # None: killed before it
    complete = bool(record and record.get("complete"))
    files = sorted(folder.rglob("*.json")) if folder else []
    if not complete and runs.exists():  # what a later call needs to continue
        files += sorted(runs.rglob("checkpoint.pt")) + sorted(runs.rglob("history.json"))
    if files:
        call.pack(step, files)
    return complete


def step_function(step: str) -> Callable[[Call, Plan, str], bool]:
    if step in GROUPS:
        return selftest
    if step.startswith("findings-"):
        return findings
    return {"schedule": schedule, "benchmarks": benchmarks,
            "reference-full": reference_full}[step]


def run(call: Call, plan: Plan, steps: list[str]) -> None:
    """The steps in order, each skipped when an earlier call finished it or no time is left."""
    for step in steps:
        if call.status["steps"].get(step, {}).get("state") == "done":
            call.say(f"== {step}: done in an earlier call")
            continue
        if call.left() < 5:
            call.say(f"== {step}: skipped, the call's time is spent")
            call.note(step, state="skipped")
            continue
        call.say(f"== {step} ({call.left():.0f} s left in this call)")
        remove_parts(call.out)
        start = time.monotonic()
        call.note(step, state="running")
        done = step_function(step)(call, plan, step)
        call.note(step, state="done" if done else "unfinished",
                  seconds=round(time.monotonic() - start, 1))


def unpack_carried(call: Call, carried: Path) -> None:
    """Put an earlier call's returned files back: its status, its selftest report (which the
    selftest's later groups add to), and its archives' contents under the work folder."""
    call.status = read_json(carried / "status.json") or call.status
    if (carried / "selftest.json").exists():
        copy(carried / "selftest.json", call.work / "selftest.json")
        call.copy_back(carried / "selftest.json", "selftest.json")
    for archive in sorted(carried.glob("*.tar.gz")):
        unpack(archive, call.work)
        call.copy_back(archive, archive.name)
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
    print(f"copied {source} to {target}; call the device with carry ['.carry'], timeout_s "
          "540 and:\n  bash scripts/gpu_run.sh")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["prepare", "run"])
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT"),
                        help="where results go (default $OUT)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/reslab-gpu-run"),
                        help="checkpoints and results before packing")
    parser.add_argument("--minutes", type=float, default=8.75, help="the call's own limit")
    parser.add_argument("--carried", type=Path, help="the files an earlier call returned")
    parser.add_argument("--steps", nargs="+", help="only these steps (default: all, in order)")
    parser.add_argument("--dataset", help="instead of the plan's (cifar10-jpeg; shapes10)")
    parser.add_argument("--rehearsal", action="store_true", help="CPU, shapes10, CI-sized")
    args = parser.parse_args(argv)
    if args.action == "prepare":
        prepare()
        return 0
    if args.out is None:
        parser.error("--out is needed where $OUT is not set")
    plan = Plan.rehearsal() if args.rehearsal else Plan()
    plan.dataset = args.dataset or plan.dataset
    unknown = set(args.steps or []) - set(plan.steps())
    if unknown:
        parser.error(f"no step {', '.join(sorted(unknown))}; the steps: {plan.steps()}")
    if not args.rehearsal:
        os.environ.setdefault("RESLAB_CIFAR10_JPEG", str(CARRY / "cifar10-jpeg"))
    call = Call(args.out, args.work, 60 * args.minutes - plan.reserve, reserved=RETURNED)
    if args.carried:
        unpack_carried(call, args.carried)
    ready = preflight(call, plan)
    if ready:
        run(call, plan, args.steps or plan.steps())
        call.say(f"== end: {json.dumps(call.status['steps'])}")
    call.finish()
    return 0 if ready else 1


if __name__ == "__main__":
    sys.exit(main())
