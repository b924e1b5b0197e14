"""Student versions of the course notebooks, following nbgrader's conventions.

In the course notebooks every exercise's solution sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in a cell whose metadata marks it as an nbgrader solution cell, and the
check after it is an nbgrader test cell (graded, locked). Instructors who use nbgrader can
therefore generate and grade assignments with it. Without nbgrader (or nbformat),
``python -m reslab assignments --out DIR`` writes the student versions itself: each solution
is replaced by ``# YOUR CODE HERE`` and ``...`` (not ``raise NotImplementedError``: the
check in the graded cell then says what is missing before its assertion fails), the answer
notes of discussion questions (markdown solution cells) by ``YOUR ANSWER HERE``, and outputs
are cleared.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from reslab.paths import REPO_DIR

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_SOLUTION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*\n(?P<body>.*?)"
                       r"^[ \t]*### END SOLUTION[ \t]*(\n|$)", re.M | re.S)
STUB = "{indent}# YOUR CODE HERE\n{indent}...\n"
TEXT_STUB = "YOUR ANSWER HERE\n"  # nbgrader's stub for written answers (markdown cells)


def strip_solutions(source: str, where: str = "cell", stub: str = STUB) -> str:
    """``source`` with every solution region replaced by ``stub`` at the same indentation."""
    if source.count(BEGIN) != source.count(END):
        raise ValueError(f"{where}: unbalanced solution markers ({source.count(BEGIN)} "
                         f"'{BEGIN}' vs {source.count(END)} '{END}'); every '{BEGIN}' "
                         f"needs its '{END}'")
    return _SOLUTION.sub(lambda m: stub.format(indent=m["indent"]), source)


def solution_bodies(source: str) -> list[str]:
    """The code between each pair of solution markers (what students must write)."""
    return [m["body"] for m in _SOLUTION.finditer(source)]


def _text(source: str | list[str]) -> str:
    """A cell's source as one string (the notebook format allows a list of lines)."""
    return "".join(source) if isinstance(source, list) else source


def student_version(notebook: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """A copy of ``notebook`` (its JSON as a dict) with solutions stubbed, outputs cleared."""
    nb = copy.deepcopy(notebook)
    for i, cell in enumerate(nb.get("cells", [])):
        where = f"{name}, cell {i}"
        if cell.get("cell_type") == "code":
            source = strip_solutions(_text(cell.get("source", "")), where)
            cell["source"] = source.splitlines(keepends=True)
            cell["outputs"], cell["execution_count"] = [], None
        elif cell.get("cell_type") == "markdown":  # answer notes of discussion questions
            source = strip_solutions(_text(cell.get("source", "")), where, TEXT_STUB)
            cell["source"] = source.splitlines(keepends=True)
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook file's JSON; one ValueError line if it is not a notebook."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable notebook ({type(error).__name__}); "
                         "pass --notebooks with a folder of valid .ipynb files") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a notebook (no list of cells); pass --notebooks "
                         "with a folder of valid .ipynb files")
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
    """Write one student notebook per course notebook into ``out``; returns their paths.

    Plain JSON in and out (the ``json`` module, not nbformat): works with the base install.
    Every notebook is converted before the first is written, so a bad one writes nothing.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: use a folder for the student notebooks")
    students = {path.name: student_version(read_notebook(path), path.name)
                for path in course_notebooks(notebooks)}
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, nb in students.items():
            (out / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
            written.append(out / name)
    except OSError as error:
        raise ValueError(f"--out {out}: cannot write the student notebooks "
                         f"({error.strerror or type(error).__name__}); use a writable "
                         "folder") from None
    return written
