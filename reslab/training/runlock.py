"""One writer per run folder: a lock file that refuses a second training into the same folder.

The lock is ``.reslab.lock`` in the run folder, held with ``fcntl.flock`` (``msvcrt.locking``
on Windows) and recording the holder's pid and command. The operating system releases it
when its process dies, so a lock left by a killed run never blocks a resume: the file is
there, but nobody holds it. While the lock is held, temporary files of killed writers are
stale and are removed. On release the lock file (and a run folder that stayed empty) goes.
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from reslab.training import distributed
from reslab.training.checkpoint import clean_stale_temps
from reslab.validate import check_output_folder

LOCK = ".reslab.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class FolderInUse(ValueError):
    """Another live process is writing into the run folder."""


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _holder(path: Path) -> str:
    """What the lock file says about its holder, in words."""
    try:
        info = json.loads(path.read_text())
        return (f"pid {info['pid']}, started {info['started']}: "
                f"{info['command']}")
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def _open_locked(path: Path) -> int:
    """A descriptor of ``path`` that this process holds the lock of; raises FolderInUse."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise FolderInUse(f"{path.parent} is being written by another reslab process "
                              f"({_holder(path)}); wait for it to finish or stop it, or "
                              "choose another output folder")
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed the file between our open and our lock: retry


@contextmanager
def run_folder_lock(folder: Path) -> Iterator[Path]:
    """Hold ``folder``'s lock (creating the folder), cleaning stale temporary files."""
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    fd = _open_locked(path)
    try:
        record = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "command": " ".join(sys.argv) or "python"}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(record).encode())
        clean_stale_temps(folder)
        yield folder
    finally:
        _release(fd, path, folder if created else None)


def _release(fd: int, path: Path, created: Path | None) -> None:
    try:
        path.unlink()  # while still locked: a waiting process then retries on a new file
    except OSError:
        pass
    os.close(fd)
    if created is not None:
        try:
            created.rmdir()  # only if empty: a run that failed before writing anything
        except OSError:
            pass


@contextmanager
def hold_run_folders(folders: Iterable[Path | None]) -> Iterator[None]:
    """Check and lock every run folder (main process only; ``None``: nothing on disk)."""
    with ExitStack() as stack:
        if distributed.current_process().is_main:
            for folder in folders:
                if folder is not None:
                    check_output_folder(folder)
                    stack.enter_context(run_folder_lock(folder))
        yield


def guard_run_folders(fit: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``fit(configs, labels, folders, ...)``: its folders are locked while it runs."""
    signature = inspect.signature(fit)

    @functools.wraps(fit)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        folders = signature.bind(*args, **kwargs).arguments["folders"]
        with hold_run_folders(folders):
            return fit(*args, **kwargs)

    return guarded
