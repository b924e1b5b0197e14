"""Checkpoints that survive being killed at any moment.

Writes go to a temporary file that is renamed over the old one (atomic on POSIX), and the
checkpoint before it is kept as ``checkpoint.prev.pt``: a crash mid-write leaves the previous
file intact, and a corrupted newest file still leaves the one before it loadable.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

LATEST, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or not a reslab checkpoint."""


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file, fsync it, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_bytes(path, lambda f: f.write(json.dumps(data, indent=1).encode()))


def save_checkpoint(folder: Path, state: dict[str, Any]) -> Path:
    """Save ``state`` as ``folder/checkpoint.pt``, keeping the former one as the previous."""
    folder = Path(folder)
    latest = folder / LATEST
    if latest.exists():
        os.replace(latest, folder / PREVIOUS)
    atomic_write_bytes(latest, lambda f: torch.save(state, f))
    return latest


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint file; a damaged file raises :class:`CheckpointError` saying so."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # truncated zip, garbage bytes, unpickling errors
        previous = path.with_name(PREVIOUS)
        hint = (f"; the previous checkpoint {previous} is intact and can be loaded instead"
                if path.name == LATEST and previous.exists() and _loads(previous) else "")
        raise CheckpointError(f"checkpoint {path} is corrupted or truncated "
                              f"({type(error).__name__}){hint}") from None
    if not isinstance(state, dict) or "reslab_checkpoint" not in state:
        raise CheckpointError(f"{path} is not a reslab training checkpoint")
    return state


def _loads(path: Path) -> bool:
    try:
        torch.load(path, map_location="cpu", weights_only=False)
        return True
    except Exception:
        return False


def load_latest(folder: Path, map_location: str | torch.device = "cpu",
                warn=print) -> dict[str, Any] | None:
    """The newest loadable checkpoint in ``folder`` (None if there is none).

    A corrupted newest checkpoint is reported through ``warn`` and the previous one is used.
    """
    folder = Path(folder)
    if not (folder / LATEST).exists() and not (folder / PREVIOUS).exists():
        return None
    try:
        return load_checkpoint(folder / LATEST, map_location)
    except CheckpointError as error:
        if not (folder / PREVIOUS).exists():
            raise
        warn(f"reslab: {error}; resuming from the previous checkpoint")
        return load_checkpoint(folder / PREVIOUS, map_location)
