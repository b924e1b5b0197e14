"""Colab's stock runtime: installing reslab there changes nothing that is already installed.

``colab-packages.txt`` is the package set taken as Colab's (where and when it was read is in its
header). pip's own resolver decides what an install would do, on Python 3.13 (Colab's) where
this machine has it.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
COLAB_SET = ROOT / "colab-packages.txt"


def colab_set() -> dict[str, str]:
    """Colab's packages as ``{canonical name: version}``."""
    pins = (line.split("==") for line in COLAB_SET.read_text().splitlines()
            if line and not line.startswith("#"))
    return {canonicalize_name(name): version for name, version in pins}


def not_on_colab() -> set[str]:
    """Packages Colab's own packages require but its freeze lacks (``# not on Colab:``)."""
    return {canonicalize_name(name) for name in
            re.findall(r"^# not on Colab: ([\w.-]+)", COLAB_SET.read_text(), flags=re.M)}


def python313() -> str:
    """A Python 3.13 with pip on this machine (pyenv's included), else this interpreter."""
    found = [shutil.which("python3.13")]
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        found += sorted(str(p) for p in Path(root).glob("versions/3.13*/bin/python3.13"))
    for python in filter(None, found):
        if subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0:
            return python
    return sys.executable


def requirers(report: list[dict]) -> dict[str, set[str]]:
    """For each package of a pip install report, the packages of the report that require it."""
    by: dict[str, set[str]] = {}
    for item in report:
        for spec in item["metadata"].get("requires_dist", []):
            by.setdefault(canonicalize_name(Requirement(spec).name), set()).add(
                canonicalize_name(item["metadata"]["name"]))
    return by


def torchs_cuda(name: str, required_by: dict[str, set[str]]) -> bool:
    """One of the CUDA libraries PyPI's torch asks for (Colab's torch brings its own; see the
    set's header): named ``nvidia-*`` or ``cuda-*`` and required by torch or by another one."""
    def cuda(n: str) -> bool:
        return n.startswith(("nvidia-", "cuda-"))
    return cuda(name) and all(r == "torch" or cuda(r) for r in required_by[name])


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> tuple[str, list[dict]]:
    """pip's report of ``pip install --dry-run --ignore-installed -c colab-packages.txt .``."""
    python = python313()
    report = tmp_path_factory.mktemp("pip") / "report.json"
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--dry-run",
                           "--ignore-installed", "--report", str(report), "-c", str(COLAB_SET),
                           "."], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{python}: {done.stderr[-3000:]}"
    return python, json.loads(report.read_text())["install"]


@pytest.mark.slow
def test_installing_reslab_into_colabs_set_installs_reslab_alone(dry_run):
    """Every package pip would install is reslab, or one Colab has at that very version --
    or a gap in Colab's own set, or one of PyPI's CUDA wheels for torch (set aside: Colab's
    torch is the cu128 build with its own, and pip keeps it)."""
    python, report = dry_run
    pins, gaps, required_by = colab_set(), not_on_colab(), requirers(report)
    added = []
    for item in report:
        name, version = canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]
        if name == "reslab":
            assert item["requested"]
        elif name in pins:
            assert version == pins[name], f"{name} {version}: Colab has {pins[name]}"
        elif name in gaps:
            assert "reslab" not in required_by[name] and required_by[name] & set(pins), name
        elif not torchs_cuda(name, required_by):
            added.append(f"{name} {version} (required by {', '.join(sorted(required_by[name]))})")
    assert not added, f"{python}: installing reslab into Colab's set adds " + "; ".join(added)


@pytest.mark.slow
def test_colabs_set_holds_what_reslab_touches_and_no_more(dry_run):
    _, report = dry_run
    reached = {canonicalize_name(item["metadata"]["name"]) for item in report}
    assert set(colab_set()) <= reached, set(colab_set()) - reached
    reslab = next(i for i in report if i["metadata"]["name"] == "reslab")
    asked = {canonicalize_name(Requirement(s).name) for s in reslab["metadata"]["requires_dist"]
             if "extra ==" not in s}
    assert asked <= set(colab_set()) and {"torch", "torchvision", "ipywidgets"} <= asked
