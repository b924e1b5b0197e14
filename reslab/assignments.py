"""Student versions of the course notebooks, following nbgrader's conventions.

In the course notebooks every exercise's solution sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in a cell whose metadata marks it as an nbgrader solution cell, and the
check after it is an nbgrader test cell (graded, locked). Instructors who use nbgrader can
therefore generate and grade assignments with it. Without nbgrader,
``python -m reslab assignments --out DIR`` writes the student versions itself: each solution
is replaced by ``# YOUR CODE HERE`` and ``...`` (not ``raise NotImplementedError``, so a
student notebook still runs to the end and the checks say what is missing), and outputs are
cleared.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from reslab.paths import REPO_DIR

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_SOLUTION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*\n(?P<body>.*?)"
                       r"^[ \t]*### END SOLUTION[ \t]*(\n|$)", re.M | re.S)
STUB = "{indent}# YOUR CODE HERE\n{indent}...\n"


def strip_solutions(source: str, where: str = "cell") -> str:
    """``source`` with every solution region replaced by a stub at the same indentation."""
    if source.count(BEGIN) != source.count(END):
        raise ValueError(f"{where}: unbalanced solution markers ({source.count(BEGIN)} "
                         f"'{BEGIN}' vs {source.count(END)} '{END}')")
    return _SOLUTION.sub(lambda m: STUB.format(indent=m["indent"]), source)


def solution_bodies(source: str) -> list[str]:
    """The code between each pair of solution markers (what students must write)."""
    return [m["body"] for m in _SOLUTION.finditer(source)]


def student_version(notebook: nbformat.NotebookNode, name: str = "notebook"):
    """A copy of ``notebook`` with solutions stubbed out and all outputs cleared."""
    nb = copy.deepcopy(notebook)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{name}, cell {i}")
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


def course_notebooks(folder: Path | None = None) -> list[Path]:
    """The numbered course notebooks (``notebooks/NN_*.ipynb``)."""
    folder = Path(folder) if folder else REPO_DIR / "notebooks"
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ValueError(f"no course notebooks (NN_name.ipynb) in {folder}; pass --notebooks "
                         "with the folder of a reslab checkout")
    return paths


def write_assignments(out: Path, notebooks: Path | None = None) -> list[Path]:
    """Write one student notebook per course notebook into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in course_notebooks(notebooks):
        nb = student_version(nbformat.read(path, as_version=4), path.name)
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written
