"""Checks made at the edges (the command line, :class:`~reslab.training.config.TrainConfig`,
the model builders): each bad input is one ``ValueError`` line.

Every message names the offending value and says what would be accepted. The trainer calls
the checks below when a :class:`~reslab.training.config.TrainConfig` is made (its
``check_config``), :func:`check_device` when it picks the device, :func:`check_output_folder` before it locks a
run folder and :func:`check_data` once the dataset is loaded; the command line calls the
same functions before it loads any data, so a mistake costs seconds, not a training period.
"""
from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

DEVICES = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def check_choice(option: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` naming the valid values when ``value`` is not one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{option} must be one of {valid} (got {value!r})")


def check_probability(option: str, value: float, *, open_low: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` lies in [0, 1] (or (0, 1] with ``open_low``)."""
    low_ok = value > 0 if open_low else value >= 0
    if not (low_ok and value <= 1):
        bound = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{option} must be a probability in {bound} (got {value!r})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(name: str, value: Any, low: float = 0.0, strict: bool = True) -> None:
    """``value`` must be a finite number above ``low`` (or at least ``low``)."""
    ok = _is_number(value) and math.isfinite(value) and (
        value > low if strict else value >= low)
    if not ok:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise ValueError(f"{name} must be a finite number {bound} (got {value!r})")


def check_count(name: str, value: Any, low: int = 1, optional: bool = False) -> None:
    """``value`` must be a whole number >= ``low`` (or None when ``optional``)."""
    if optional and value is None:
        return
    if not _is_int(value) or value < low:
        also = " or None" if optional else ""
        raise ValueError(f"{name} must be a whole number >= {low}{also} (got {value!r})")


def check_positive_whole(name: str, value: Any) -> None:
    """``value`` must be a positive whole number (a count of iterations, images, classes)."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive whole number (got {value!r})")


def parse_device(name: Any) -> torch.device | None:
    """``name`` as a device (None for "auto"), without asking whether this machine has it."""
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device {name!r} is not a device: use {DEVICES}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported by reslab: use {DEVICES}")
    return device


def check_device(name: str) -> torch.device | None:
    """``name`` as a device this machine has (None for "auto"); else one ValueError line."""
    device = parse_device(name)
    if device is None or device.type == "cpu":
        return device
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r}: this machine has no MPS (Apple GPU) device; "
                         "use 'cpu' or 'auto'")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {name!r} was asked for but torch sees no CUDA GPU; use "
                             "'cpu' or 'auto'")
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {name!r} does not exist: this machine has {count} CUDA "
                             f"GPU(s), cuda:0 to cuda:{count - 1}")
    return device


def check_output_folder(folder: str | Path) -> None:
    """``folder`` must be a writable folder, or a path where one can be made."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output folder {folder} is a file: use a folder (an existing one, or "
                         "a path where one can be made)")
    existing = next(p for p in [folder, *folder.parents] if p.exists())
    if not existing.is_dir():
        raise ValueError(f"output folder {folder} cannot be made: {existing} is a file; use a "
                         "path under a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ValueError(f"output folder {folder} is not writable ({existing}: "
                         f"{error.strerror or type(error).__name__}); use a writable "
                         "folder") from None


def check_data(config: Any, data: Any) -> None:
    """The config must fit the dataset: classes, channels, and a batch no larger than it."""
    needed = int(max(data.train_labels.max(), data.eval_labels.max())) + 1
    classes = config.model_options.get("num_classes", data.num_classes)
    if not _is_int(classes) or classes < needed:
        raise ValueError(f"num_classes={classes!r} does not fit {data.name}: its labels go up "
                         f"to {needed - 1}; use num_classes={max(needed, data.num_classes)} "
                         "(or leave it out)")
    channels = config.model_options.get("in_channels", data.in_channels)
    if channels != data.in_channels:
        raise ValueError(f"in_channels={channels!r} does not fit {data.name}: its images have "
                         f"{data.in_channels} channel(s); leave in_channels out")
    images = len(data.train_labels)
    if config.batch_size > images:
        raise ValueError(f"batch_size={config.batch_size} is larger than the {images:,} "
                         f"training images of {data.name}: use a batch of at most {images:,} "
                         "(or more training images)")
