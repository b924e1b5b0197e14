"""Colab: installing reslab into its stock runtime changes nothing already installed, the
widget notebooks run on its ipywidgets 7, and the setup cell never waits for a dialog.

``colab-packages.txt`` is the package set taken as Colab's (where and when it was read is in its
header). pip's own resolver decides what an install would do, on Python 3.13 (Colab's) where
this machine has it. The setup cell runs in a real kernel with a stand-in ``google.colab``
module, and real pip and git, which may use only local repositories here (no network).
"""
from __future__ import annotations

import json
import os
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


# The notebooks with widgets. CI runs the two that build the most widgets (01, 07) to keep
# within its 20 minutes; RESLAB_COLAB_WIDGETS=all runs all four.
WIDGET_NOTEBOOKS = ["01_degradation.ipynb", "07_ror.ipynb"]
MORE_WIDGET_NOTEBOOKS = ["04_layer_responses.ipynb", "08_successive_training.ipynb"]
ALL_WIDGET_NOTEBOOKS = os.environ.get("RESLAB_COLAB_WIDGETS") == "all"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def colab_ipywidgets(tmp_path_factory) -> Path:
    """A folder holding Colab's ipywidgets with its widgetsnbextension and ipython-genutils
    (their other requirements are the test venv's): put on a kernel's PYTHONPATH, it shadows
    the venv's ipywidgets 8 without a second torch."""
    pins, target = colab_set(), tmp_path_factory.mktemp("colab-ipywidgets")
    packages = [f"{name}=={pins[name]}" for name in
                ("ipywidgets", "widgetsnbextension", "ipython-genutils")]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(target), *packages], check=True, timeout=300)
    return target


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS + [
    pytest.param(name, marks=pytest.mark.skipif(not ALL_WIDGET_NOTEBOOKS, reason=(
        "CI runs the two notebooks with the most widgets; RESLAB_COLAB_WIDGETS=all runs it")))
    for name in MORE_WIDGET_NOTEBOOKS])
def test_widget_notebooks_run_on_colabs_ipywidgets(name, colab_ipywidgets, tmp_path,
                                                   monkeypatch):
    """The notebook runs under nbclient (smoke budget) in a kernel whose ipywidgets is Colab's,
    and its widgets are displayed."""
    import nbformat

    from reslab.course.headless import execute
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(colab_ipywidgets), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import ipywidgets\nprint(ipywidgets.__version__)"))
    execute(nb, name, cwd=tmp_path)
    assert nb.cells[-1].outputs[0]["text"].strip() == colab_set()["ipywidgets"]
    shown = [o for cell in nb.cells for o in cell.get("outputs", [])
             if WIDGET_VIEW in o.get("data", {})]
    assert shown, f"{name} displayed no widget"


STAND_IN_COLAB = """import sys, types
colab, drive = types.ModuleType("google.colab"), types.ModuleType("google.colab.drive")
drive.mounted = []
drive.mount = drive.mounted.append
colab.drive = drive
sys.modules.update({"google.colab": colab, "google.colab.drive": drive})"""
WHAT_HAPPENED = """import os, sys
print(sys.modules["google.colab.drive"].mounted, os.environ.pop("RESLAB_RUNS", None))"""


def pyproject_version() -> str:
    return re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(),
                     flags=re.M)[1]


@pytest.fixture(scope="module")
def setup_runs(tmp_path_factory) -> list:
    """Notebook 01's setup cell on a stand-in Colab, as is and with the form field ticked; each
    install fails as with no network (git may only use local repositories)."""
    import nbformat

    from reslab.course.colab import setup_source
    from reslab.course.headless import execute
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GIT_ALLOW_PROTOCOL", "file")
        env.setenv("GIT_TERMINAL_PROMPT", "0")
        env.delenv("RESLAB_RUNS", raising=False)
        setup = setup_source("01_degradation.ipynb")
        ticked = setup.replace("keep_runs_on_drive = False", "keep_runs_on_drive = True", 1)
        assert ticked != setup
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in
                                             (STAND_IN_COLAB, setup, WHAT_HAPPENED, ticked,
                                              WHAT_HAPPENED)])
        execute(nb, "setup", cwd=tmp_path_factory.mktemp("setup"), allow_errors=True)
    return nb.cells


def printed(cell) -> list[str]:
    return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream"
                   ).splitlines()


def failure(cell) -> list[str]:
    return [line for o in cell.outputs if o["output_type"] == "error" for line in o["traceback"]]


@pytest.mark.slow
def test_the_setup_cell_mounts_nothing_unless_the_form_field_is_ticked(setup_runs):
    assert printed(setup_runs[2]) == ["[] None"]
    assert printed(setup_runs[1])[0].startswith("reslab: runs are kept on this runtime's disk "
                                                "and vanish with the runtime")
    assert printed(setup_runs[4]) == ["['/content/drive'] /content/drive/MyDrive/reslab/runs"]
    assert not any("vanish" in line for line in printed(setup_runs[3]))


@pytest.mark.slow
def test_a_failed_install_ends_with_one_line_naming_the_pinned_url(setup_runs):
    from reslab.course.colab import REPOSITORY
    url = f"git+https://github.com/{REPOSITORY}@v{pyproject_version()}"
    for cell in (setup_runs[1], setup_runs[3]):
        assert len(failure(cell)) == 1 and url in failure(cell)[0], cell.outputs
    assert len(printed(setup_runs[1])) == 1 and printed(setup_runs[3]) == []
