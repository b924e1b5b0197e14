"""The verdict every check returns, and the helpers all checks share.

Each check prints one line per finding (✓ right, ✗ wrong: what is wrong and a hint) and
returns a :class:`CheckResult`, which is *falsy* when something is wrong. A check never raises
and reads no environment variable. The graded test cell of an exercise asserts the result::

    verdict = checks.some_check(answer)
    assert verdict, "not yet right: see the ✗ lines above"

so the ``AssertionError`` is raised in the notebook's own (locked) cell: nbgrader's autograder
takes the points and ``nbgrader validate`` fails, the student sees the ✓/✗ report first, and
no traceback leads into these modules. For counting and value exercises a check never prints
the expected value, only what is wrong with the answer given.

Helpers for any check: :func:`not_done` (a stub left as ``...``), :func:`runs` /
:func:`missing` (call the reader's function, record an exception), :func:`module_from` and
:func:`same_model_outputs` (a reader's module plugged into a library model, compared with the
library's own on one seed; never prints the reference's values).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class CheckResult:
    """What a check found: ``passed`` and one message per finding; falsy when not passed."""

    name: str
    passed: bool = True
    messages: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str, expected=None, got=None, hint: str = "") -> bool:
        """Record one finding; ``expected``/``got`` are shown when it is wrong."""
        if ok:
            self.messages.append(f"✓ {what}")
        else:
            self.passed = False
            parts = ([f"expected {expected}"] if expected is not None else []) + (
                [f"got {got}"] if got is not None else [])
            detail = ": " + ", ".join(parts) if parts else ""
            self.messages.append(f"✗ {what}{detail}" + (f" -- hint: {hint}" if hint else ""))
        return ok

    def report(self) -> CheckResult:
        """Print the verdict and every finding; return ``self`` (never raises)."""
        verdict = "all checks passed" if self.passed else "not yet right"
        print(f"{self.name}: {verdict}")
        for m in self.messages:
            print(f"  {m}")
        return self

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult({self.name!r}, passed={self.passed})"


def not_done(result: CheckResult, value) -> bool:
    """A stub left as ``...``/None: say so once instead of failing every finding."""
    if value is None or value is Ellipsis:
        result.expect(False, "an answer is given", "your code", "nothing (the stub is still "
                      "there)", "replace the `...` in the exercise cell")
        return True
    return False


FAILED = object()  # what runs returns when the student's function raised


def runs(result: CheckResult, fn: Callable, *args):
    """Call ``fn``; on an exception record it (with its message) and return ``FAILED``."""
    try:
        return fn(*args)
    except Exception as error:  # noqa: BLE001 - shown to the student
        result.expect(False, "the function runs", "a result",
                      f"{type(error).__name__}: {str(error)[:160]}")
        return FAILED


def missing(result: CheckResult, value) -> bool:
    """The call raised, or returned a stub's nothing: either way there is nothing to check."""
    return value is FAILED or not_done(result, value)


def module_from(result: CheckResult, factory: Callable, *args) -> nn.Module | None:
    """``factory(*args)`` if it runs and returns a module; otherwise record why and ``None``."""
    module = runs(result, factory, *args)
    if missing(result, module):
        return None
    if not result.expect(isinstance(module, nn.Module), f"{args} gives an nn.Module",
                         "an nn.Module", type(module).__name__, "subclass torch.nn.Module"):
        return None
    return module


def same_model_outputs(result: CheckResult, what: str, build: Callable[..., nn.Module],
                       hook: dict, hint: str) -> None:
    """Build the model with and without the reader's ``hook`` from one seed; compare outputs."""
    from reslab.models.analysis import count_params

    torch.manual_seed(0)
    want_model = build().eval()
    torch.manual_seed(0)
    got_model = runs(result, lambda: build(**hook).eval())
    if missing(result, got_model):
        return
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        got = runs(result, got_model, x)  # a reader's module may fail inside the net
        if missing(result, got):
            return
        same = count_params(got_model) == count_params(want_model) and torch.allclose(
            got, want_model(x), atol=1e-5)
    result.expect(same, what, "the library's outputs", "other outputs or parameters", hint)
