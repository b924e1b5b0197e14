"""Validation helpers shared by every builder: one clear line for every bad option."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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
