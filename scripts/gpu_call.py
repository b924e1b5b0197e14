"""The plumbing of one device call (``scripts/gpu_run.py``): its deadline, its children run
under time limits with their output in ``log.txt``, its record in ``status.json``, and the files
that come back.

A lent GPU returns only the files its command leaves in ``$OUT``: at most 8, each under
16 MiB, named in letters, digits, '.', '_' and '-'. So children never write there: they write
under the work folder, and the call copies or packs what they wrote into ``$OUT`` once they
are done, atomically, leaving no ``.part`` file behind and never more than 8 files.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FILES = 8  # what the device returns from $OUT
PART_BYTES = 15 * 2 ** 20  # under the 16 MiB a returned file may have
STOPPED = 124  # the exit code of a child stopped at its limit (or never started)
PART = ".part"  # the suffix of a file being written


class Call:
    """One device call: its deadline, its output and work folders, and its record of the steps.

    ``reserved``: the names of the files the call returns whatever happens (present or still to
    come), which the archives leave room for.
    """

    def __init__(self, out: Path, work: Path, seconds: float,
                 reserved: Sequence[str] = ()) -> None:
        self.out, self.work, self.reserved = out, work, list(reserved)
        self.deadline = time.monotonic() + seconds
        out.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        self.log = open(out / "log.txt", "a", buffering=1)  # noqa: SIM115 - lives with the call
        self.status: dict = {"steps": {}}
        self.last_line = ""  # the last line the last child printed

    def left(self) -> float:
        """Seconds left before the call's deadline."""
        return self.deadline - time.monotonic()

    def say(self, line: str, echo: bool = True) -> None:
        """Write ``line`` to ``log.txt`` (and print it, when ``echo``)."""
        if echo:
            print(line, flush=True)
        self.log.write(line + "\n")

    def note(self, step: str, **fields: object) -> None:
        """Record a step's state in ``status.json`` at once (atomically)."""
        self.status["steps"].setdefault(step, {}).update(fields)
        write_json(self.out / "status.json", self.status)

    def execute(self, argv: list[str], limit: float, env: dict[str, str] | None = None,
                echo: bool = True) -> int:
        """Run ``argv`` from the repo root for at most ``limit`` seconds (and never past the
        call's deadline), its output going to the log line by line (and printed, when
        ``echo``); its exit code, or :data:`STOPPED` when the limit stopped it or left it no
        time to start. The command line goes to the log only."""
        limit = min(limit, self.left())
        if limit < 5:
            self.say(f"$ {shlex.join(argv)}\n  skipped: {max(limit, 0):.0f} s left")
            return STOPPED
        self.say(f"$ {shlex.join(argv)}   (limit {limit:.0f} s)", echo=False)
        child = subprocess.Popen(argv, cwd=ROOT, env=child_env(env), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        stopped = threading.Event()

        def stop() -> None:  # the child and anything it started
            stopped.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)

        timer = threading.Timer(limit, stop)
        timer.start()
        self.last_line = ""
        for raw in child.stdout:  # the child flushes; pass its lines on as they come
            self.last_line = last_state(raw)
            self.say("  " + self.last_line, echo)
        child.wait()
        timer.cancel()
        if stopped.is_set():
            self.say(f"  stopped at its limit ({limit:.0f} s)", echo)
            return STOPPED
        return child.returncode

    def copy_back(self, source: Path, name: str) -> None:
        """Copy a child's file into ``$OUT`` as ``name`` (atomically)."""
        write_bytes(self.out / name, source.read_bytes())

    def room(self, name: str) -> int:
        """How many archives ``name`` (``name.tar.gz`` or ``name-<k>.tar.gz``) may be returned
        as: the other files returned, present or reserved, keep their places among the 8."""
        others = {p.name for p in self.out.iterdir() if p.is_file()} | set(self.reserved)
        return MAX_FILES - len({f for f in others if not archive_of(f, name)})

    def pack(self, name: str, files: list[Path]) -> list[str]:
        """Pack ``files`` (under the work folder, named relative to it) into as many archives
        as :meth:`room` allows; what does not fit (the largest files) is left out, and said."""
        parts = split(files)
        kept = parts[:max(self.room(name), 0)]
        if len(kept) < len(parts):
            left_out = sum(len(p) for p in parts[len(kept):])
            self.say(f"  {name}: {left_out} of the largest files left out (at most "
                     f"{MAX_FILES} files come back)")
        return pack(self.out, name, self.work, kept)

    def finish(self) -> list[str]:
        """End the call: no ``.part`` file stays in ``$OUT``; the names of the files that come
        back."""
        remove_parts(self.out)
        self.log.close()
        return sorted(p.name for p in self.out.iterdir() if p.is_file())


def child_env(extra: dict[str, str] | None) -> dict[str, str]:
    """A child's environment: unbuffered, the repo importable, plus ``extra``."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path, **(extra or {})}


def last_state(raw: bytes) -> str:
    """One line of a child's output as text: undecodable bytes replaced, and of a progress bar
    redrawn with ``\\r`` only its last state (so that ``log.txt`` gets one line per bar)."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return text.rsplit("\r", 1)[-1].rstrip()


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``; None when it is missing or cannot be read (a child
    killed before writing it, or while writing it)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` atomically: a reader never sees half a file."""
    part = path.with_name(path.name + PART)
    part.write_bytes(data)
    os.replace(part, path)


def write_json(path: Path, record: dict) -> None:
    write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())


def remove_parts(folder: Path) -> list[str]:
    """Remove the ``.part`` files a write stopped midway left in ``folder``; their names."""
    found = sorted(folder.glob(f"*{PART}"))
    for part in found:
        part.unlink(missing_ok=True)
    return [p.name for p in found]


def archive_of(file: str, name: str) -> bool:
    """Whether ``file`` is one of ``name``'s archives."""
    return re.fullmatch(rf"{re.escape(name)}(-\d+)?\.tar\.gz", file) is not None


def split(files: list[Path]) -> list[list[Path]]:
    """``files`` in groups of at most :data:`PART_BYTES` (one larger file alone), smallest
    files first."""
    parts: list[list[Path]] = [[]]
    size = 0
    for f in sorted(files, key=lambda f: f.stat().st_size):
        if parts[-1] and size + f.stat().st_size > PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(f)
        size += f.stat().st_size
    return parts if parts[0] else []


def pack(out: Path, name: str, root: Path, parts: list[list[Path]]) -> list[str]:
    """Write ``parts`` (files under ``root``) as ``out/<name>.tar.gz``, or as
    ``<name>-1.tar.gz``, ``<name>-2.tar.gz``... when there are several, in place of ``name``'s
    earlier archives; returns their names."""
    for old in out.iterdir():
        if archive_of(old.name, name):
            old.unlink()
    names = [f"{name}.tar.gz"] if len(parts) == 1 else [
        f"{name}-{k}.tar.gz" for k in range(1, len(parts) + 1)]
    for part_name, members in zip(names, parts):
        tmp = out / (part_name + PART)
        with tarfile.open(tmp, "w:gz") as tar:
            for f in members:
                tar.add(f, arcname=str(f.relative_to(root)))
        os.replace(tmp, out / part_name)
    return names


def unpack(archive: Path, into: Path) -> None:
    """Extract an archive an earlier call returned (plain files only)."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
