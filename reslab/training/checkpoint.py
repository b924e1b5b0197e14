"""Checkpoints that survive being killed at any moment, and that never run code when loaded.

Safe to load: every file is read with ``torch.load(..., weights_only=True)``, which refuses
anything but tensors and plain data (a checkpoint holds its config as a dict, its history as
JSON-compatible data and RNG states as tensors). A file whose pickle would call a function is
refused with one line; nothing in it runs.

Safe to stop: a checkpoint is written to a temporary file, fsynced, and *verified* -- loaded
back, checked for every key and for NaN/inf -- before it is promoted by a rename (atomic on
POSIX). Only a verified ``checkpoint.pt`` is kept as ``checkpoint.prev.pt``, so a damaged
newest file never replaces a good older one. A kill at any moment leaves at least one good
checkpoint; stale temporary files of killed writers are removed by :func:`clean_stale_temps`.
A full disk is one line saying so, and that the previous checkpoint is intact.
"""
from __future__ import annotations

import errno
import io
import json
import os
import pickle
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch.torch_version import TorchVersion

from reslab.training.finite import first_nonfinite, named_tensors

LATEST, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"
KEYS = ("reslab_checkpoint", "label", "config", "step", "warming", "model", "model_build",
        "optimizer", "rng", "history")
# the keys of a batch of seeds trained together (reslab.training.seeds), marked "kind": "seeds"
SEED_KEYS = ("reslab_checkpoint", "kind", "step", "configs", "warming", "params", "buffers",
             "momentum", "histories", "rng")
TEMP = re.compile(r"^\..+\.tmp\d+$")  # what atomic_write_bytes names its temporary files
# Checkpoints written before reslab stored str(torch.__version__) hold a TorchVersion, a str
# subclass without code of its own: the one non-plain type that weights_only may read.
torch.serialization.add_safe_globals([TorchVersion])


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, incomplete, non-finite or not a reslab one."""


class UnsafeCheckpoint(CheckpointError):
    """A checkpoint holds pickled code or objects: refused, never executed."""


class WriteFailed(RuntimeError):
    """A file could not be written (e.g. the disk is full); the previous file is intact."""


def atomic_write_bytes(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write(file)`` on a temporary file, fsync it, then rename it to ``path``."""
    buffer = io.BytesIO()
    write(buffer)
    path = Path(path)
    tmp = _temp_name(path)
    try:
        write_file(tmp, buffer.getvalue())
        os.replace(tmp, path)
    except OSError as error:
        _remove(tmp)
        raise WriteFailed(f"could not write {path}: {_reason(error)}; the previous "
                          f"{path.name} is unchanged") from None


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_bytes(path, lambda f: f.write(json.dumps(data, indent=1).encode()))


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it (a full disk raises OSError ENOSPC here): the
    first step of every write, where a test may make the disk fill up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _reason(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "the disk is full"
    return error.strerror or type(error).__name__


def save_checkpoint(folder: Path, state: dict[str, Any]) -> Path:
    """Save ``state`` as ``folder/checkpoint.pt`` after verifying it; keep the former one.

    The new file is promoted only once it loads back safely, complete and finite; the former
    ``checkpoint.pt`` becomes ``checkpoint.prev.pt`` only if it is itself good.
    """
    folder = Path(folder)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    tmp = _temp_name(folder / LATEST)
    try:
        write_file(tmp, buffer.getvalue())
        load_checkpoint(tmp)  # verify before promoting: raises CheckpointError
        promote(tmp, folder)
    except OSError as error:
        found = last_good(folder)
        kept = (f"the previous checkpoint {found[0]} (step {found[1]:,}) is intact" if found
                else "no earlier checkpoint was written")
        raise WriteFailed(f"could not write the checkpoint of step {state.get('step')} to "
                          f"{folder}: {_reason(error)}; {kept}. Free some space, then resume "
                          "the run") from None
    except CheckpointError as error:
        raise CheckpointError(f"the checkpoint of step {state.get('step')} was not written: "
                              f"{error}") from None
    finally:
        _remove(tmp)
    return folder / LATEST


def promote(tmp: Path, folder: Path) -> None:
    """``checkpoint.pt`` -> ``checkpoint.prev.pt`` if it is good, then ``tmp`` -> latest (the
    last step of :func:`save_checkpoint`, after ``tmp`` was verified)."""
    latest = folder / LATEST
    if latest.exists() and is_good(latest):
        os.replace(latest, folder / PREVIOUS)
    os.replace(tmp, latest)
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable (POSIX; elsewhere renames are left to the file system)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_VERIFIED: dict[tuple[int, int, int, int], int] = {}  # file identity -> step


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint file safely (``weights_only=True``) and check it.

    Raises :class:`CheckpointError` (one line) if the file is missing, damaged, incomplete
    or holds NaN/inf, and :class:`UnsafeCheckpoint` if it holds pickled code or objects.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    identity = _identity(path)
    state = _safe_load(path, map_location)
    if not isinstance(state, dict) or "reslab_checkpoint" not in state:
        raise CheckpointError(f"{path} is not a reslab training checkpoint (it holds no "
                              "'reslab_checkpoint' entry); pass a run folder written by reslab")
    missing = [k for k in (SEED_KEYS if state.get("kind") == "seeds" else KEYS)
               if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: {', '.join(missing)} missing "
                              f"(a reslab checkpoint holds {', '.join(KEYS)}){_hint(path)}")
    tensors = ({k: state[k] for k in ("params", "buffers", "momentum")}
               if state.get("kind") == "seeds" else
               {"model": state["model"], "optimizer": state["optimizer"]})
    bad = first_nonfinite(named_tensors(tensors))
    if bad is not None:
        raise CheckpointError(f"checkpoint {path} holds NaN or infinite values ({bad}); "
                              f"only finite checkpoints can be used{_hint(path)}")
    _VERIFIED[identity] = int(state["step"])
    return state


def _safe_load(path: Path, map_location: str | torch.device) -> Any:
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; anything else is not ours
        raise _damaged(path, "not a torch checkpoint archive")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)|Unsupported operand",
                          str(error))
        if not found:
            raise _damaged(path, type(error).__name__) from None
        what = found.group(1) or "objects other than tensors and plain data"
        raise UnsafeCheckpoint(
            f"checkpoint {path} holds pickled code or objects ({what}), not only tensors and "
            "plain data; it was not loaded and nothing in it ran. Use a checkpoint written by "
            "reslab, from someone you trust") from None
    except Exception as error:  # truncated archive, unreadable file
        raise _damaged(path, type(error).__name__) from None


def _damaged(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is corrupted or truncated ({why}){_hint(path)}")


def _hint(path: Path) -> str:
    previous = path.with_name(PREVIOUS)
    if path.name == LATEST and previous.exists() and is_good(previous):
        return f"; the previous checkpoint {previous} is intact and can be loaded instead"
    return "; remove it to start over, or use a checkpoint written by reslab"


def is_good(path: Path) -> bool:
    """Whether ``path`` is a safe, complete, finite checkpoint (remembered once verified)."""
    path = Path(path)
    try:
        if _identity(path) in _VERIFIED:
            return True
        load_checkpoint(path)
        return True
    except (OSError, CheckpointError):
        return False


def last_good(folder: Path) -> tuple[Path, int] | None:
    """The newest good checkpoint in ``folder`` and its step, or None."""
    for name in (LATEST, PREVIOUS):
        path = Path(folder) / name
        if path.exists() and is_good(path):
            return path, _VERIFIED[_identity(path)]
    return None


def describe_last_good(folder: Path | None, which: str = "last good") -> str:
    """``"the last good checkpoint (step N) is kept in PATH"``, or that there is none."""
    found = last_good(folder) if folder is not None else None
    if found is None:
        return "no checkpoint was written"
    return f"the {which} checkpoint (step {found[1]:,}) is kept in {found[0]}"


def load_latest(folder: Path, map_location: str | torch.device = "cpu",
                warn: Callable[[str], Any] = print) -> dict[str, Any] | None:
    """The newest good checkpoint in ``folder`` (None if there is none).

    A damaged newest checkpoint is reported through ``warn`` and the previous one is used
    (if a kill fell between the two renames of a save, there is only the previous one). A
    checkpoint holding pickled code is refused outright (:class:`UnsafeCheckpoint`).
    """
    folder = Path(folder)
    latest, previous = folder / LATEST, folder / PREVIOUS
    if not latest.exists():
        return load_checkpoint(previous, map_location) if previous.exists() else None
    try:
        return load_checkpoint(latest, map_location)
    except UnsafeCheckpoint:
        raise
    except CheckpointError as error:
        if not previous.exists():
            raise
        warn(f"reslab: {error}; resuming from the previous checkpoint")
        return load_checkpoint(previous, map_location)


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove temporary files left by killed or failed writes (``.NAME.tmp<pid>``).

    Call it only while holding the run folder's lock: then no other writer can own them.
    """
    folder = Path(folder)
    stale = [p for p in folder.glob(".*.tmp*") if TEMP.match(p.name) and p.is_file()]
    for path in stale:
        _remove(path)
    return stale
