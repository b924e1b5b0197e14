"""The CUDA-only code reads only what the Run has (issue 27).

The selftest's GPU checks (``reslab/tools/selftest/cuda.py``, ``cuda_measures.py``) and the
whole-step graph (``reslab/training/fastpath.py``) run only on a GPU, so CPU CI never executes
most of their lines: a Run attribute renamed in a refactor would fail only on the next GPU.
Here their source is read (not run): every attribute they read from a run (``run.x``,
``r.x``, ``self.run.x``, ``step.run.x``) or from its whole step (``run.whole_step.x``) must
exist on a Run built on the CPU and on a :class:`~reslab.training.fastpath.WholeStep`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from reslab import training as T
from reslab.data import SHAPES10_CLASSES, ImageDataset, make_shapes10
from reslab.training import fastpath

ROOT = Path(__file__).resolve().parents[1]
CUDA_ONLY = [ROOT / "reslab" / "tools" / "selftest" / "cuda.py",
             ROOT / "reslab" / "tools" / "selftest" / "cuda_measures.py",
             ROOT / "reslab" / "training" / "fastpath.py"]
RUN_NAMES = {"run", "r", "graphed", "eager"}  # what these files call a Run


def _is_run(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in RUN_NAMES) or (
        isinstance(node, ast.Attribute) and node.attr == "run")


def reads(source: str) -> dict[str, set[str]]:
    """``{"run": attributes read from a run, "whole_step": from its whole step}``."""
    found: dict[str, set[str]] = {"run": set(), "whole_step": set()}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        if _is_run(node.value):
            found["run"].add(node.attr)
        elif isinstance(node.value, ast.Attribute) and node.value.attr == "whole_step" \
                and _is_run(node.value.value):
            found["whole_step"].add(node.attr)
    return found


@pytest.fixture(scope="module")
def run_and_step() -> tuple[T.Run, fastpath.WholeStep]:
    x, y = make_shapes10(96, seed=0)
    data = ImageDataset("shapes10", x[:64], y[:64], x[64:], y[64:], SHAPES10_CLASSES, "tiny")
    config = T.config_from("smoke", model="resnet", model_options={"depth": 8,
                           "widths": (4, 8, 8)}, batch_size=32, device="cpu")
    run = T.Run("tiny", config, data, torch.device("cpu"), None, whole_step=fastpath.WholeStep)
    return run, run.whole_step


def test_every_run_attribute_the_cuda_only_code_reads_exists(run_and_step):
    run, step = run_and_step
    found = {"run": set(), "whole_step": set()}
    for path in CUDA_ONLY:
        for kind, names in reads(path.read_text()).items():
            found[kind] |= names
    assert {"whole_step", "model", "optimizer", "step_tensors"} <= found["run"]  # it reads
    assert {"graph", "eager"} <= found["whole_step"]
    assert sorted(n for n in found["run"] if not hasattr(run, n)) == []
    assert sorted(n for n in found["whole_step"] if not hasattr(step, n)) == []


def test_a_read_of_a_missing_attribute_is_found(run_and_step):
    run, step = run_and_step
    found = reads("def check(run, runs):\n    a = run.whole_step.graph_pool\n"
                  "    return [r.old_field for r in runs], self.run.label\n")
    assert found == {"run": {"whole_step", "old_field", "label"}, "whole_step": {"graph_pool"}}
    assert [n for n in sorted(found["run"]) if not hasattr(run, n)] == ["old_field"]
    assert [n for n in found["whole_step"] if not hasattr(step, n)] == ["graph_pool"]
