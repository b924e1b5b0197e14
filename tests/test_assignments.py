"""Assignments: nbgrader conventions in the course notebooks, student versions that run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reslab.course.assignments import (course_notebooks, solution_bodies, strip_solutions,
                                       write_assignments)

ROOT = Path(__file__).resolve().parents[1]


def test_strip_solutions_keeps_indentation_and_code_around():
    source = ("def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n"
              "    ### END SOLUTION\n\nanswer = None\n### BEGIN SOLUTION\nanswer = 3\n"
              "### END SOLUTION\nprint(answer)")
    student = strip_solutions(source)
    assert "return x + y" not in student and "answer = 3" not in student
    assert "    # YOUR CODE HERE\n    ...\n" in student and "\n# YOUR CODE HERE\n...\n" in student
    assert student.startswith("def f(x):\n    y = 1\n") and student.endswith("print(answer)")
    compile(student, "student", "exec")
    with pytest.raises(ValueError, match="unbalanced solution markers"):
        strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_every_course_notebook_has_an_exercise_in_nbgrader_form():
    for path in course_notebooks():
        nb = nbformat.read(path, as_version=4)
        solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                 and not c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]
        assert solutions and tests, f"{path.name} has no exercise"
        assert all(solution_bodies(c.source) for c in solutions), path.name
        assert all("checks." in c.source and c.metadata["nbgrader"]["points"] > 0
                   for c in tests), path.name
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
               if "grade_id" in c.metadata.get("nbgrader", {})]
        assert len(ids) == len(set(ids)), f"{path.name}: grade_ids must be unique"


def test_every_notebook_starts_with_colab_badge_and_colab_only_install():
    from reslab.course import colab
    for path in course_notebooks():
        nb = nbformat.read(path, as_version=4)
        assert nb.cells[0].source.splitlines()[0] == colab.badge(path.name), path.name
        assert f"github/{colab.REPOSITORY}/blob/{colab.REF}/notebooks/{path.name}" in \
            nb.cells[0].source
        setup = nb.cells[1].source
        assert nb.cells[1].cell_type == "code" and setup == colab.setup_source(path.name)
        assert '"google.colab" in sys.modules' in setup and "RESLAB_RUNS" in setup
        assert f"git+https://github.com/{colab.REPOSITORY}@{colab.REF}" in setup
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert colab.badge("00_setup.ipynb") in readme.splitlines()


def test_notebooks_install_the_release_tag_of_pyprojects_version():
    import re

    from reslab.course import colab
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(),
                        flags=re.M)[1]
    assert colab.REF == f"v{version}", "run scripts/set_repository.py --ref v" + version


def test_set_repository_rewrites_every_badge_and_install_cell(tmp_path):
    """scripts/set_repository.py on a copy of the kit: one repository and ref everywhere."""
    import shutil
    copy = tmp_path / "kit"
    shutil.copytree(ROOT / "reslab", copy / "reslab")
    shutil.copytree(ROOT / "notebooks", copy / "notebooks")
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    shutil.copy(ROOT / "README.md", copy / "README.md")
    run = [sys.executable, str(copy / "scripts" / "set_repository.py")]
    assert subprocess.run(run + ["--check"], capture_output=True).returncode == 0
    done = subprocess.run(run + ["someone/resnets", "--ref", "v1.2.0"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    colab_py = (copy / "reslab" / "course" / "colab.py").read_text()
    assert 'REPOSITORY = "someone/resnets"' in colab_py and 'REF = "v1.2.0"' in colab_py
    for path in [*(copy / "notebooks").glob("0*.ipynb"), copy / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert "github/someone/resnets/blob/v1.2.0/notebooks/" in text, path.name
        assert "reslab-course" not in text, path.name
    for path in (copy / "notebooks").glob("0*.ipynb"):
        assert "git+https://github.com/someone/resnets@v1.2.0" in path.read_text(encoding="utf-8")
    assert subprocess.run(run + ["--check"], capture_output=True).returncode == 0


def test_colab_cpu_runtime_says_what_the_budget_takes(capsys, monkeypatch):
    import torch

    from reslab.course import colab
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("RESLAB_BUDGET", "quick")
    colab.runtime_advice("01")
    printed = capsys.readouterr().out
    assert "no GPU" in printed and "'quick' budget takes about" in printed
    assert "Change runtime type" in printed and "hours" in printed


def test_assignments_command_writes_student_notebooks_without_solutions(tmp_path):
    result = subprocess.run([sys.executable, "-m", "reslab", "assignments", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    originals = course_notebooks()
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in originals]
    for path in originals:
        course = nbformat.read(path, as_version=4)
        student = nbformat.read(tmp_path / path.name, as_version=4)
        text = json.dumps([c.source for c in student.cells])
        assert "BEGIN SOLUTION" not in text and "YOUR CODE HERE" in text
        elsewhere = json.dumps([c.source for c in course.cells if not solution_bodies(c.source)])
        for cell in course.cells:
            for body in solution_bodies(cell.source):
                for line in body.strip().splitlines():
                    if line.strip() and not line.strip().startswith("#") and \
                            json.dumps(line)[1:-1] not in elsewhere:  # not also given outside
                        assert line not in text, f"{path.name}: solution line left: {line}"
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def student_versions(tmp_path_factory) -> dict[str, Path]:
    """The student version of every course notebook, written once for the tests below."""
    return {p.name: p for p in write_assignments(tmp_path_factory.mktemp("students"))}


# Per notebook (cells have reslab.course.headless's per-cell limits): the slowest, 01, took 422 s
# from a cold runs folder with the machine's load average near 10; about 60 s on a quiet one.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", [p.name for p in course_notebooks()])
def test_student_notebooks_stop_at_a_failing_graded_cell_with_the_report_first(
        name, student_versions):
    """Each student notebook runs (smoke budget, errors allowed): every graded cell shows the
    check's ✗ report, then fails with an AssertionError raised in the cell itself -- no
    traceback into reslab/. Training runs are shared with the course notebooks' (same
    configs), so this costs little beyond the notebooks' own CI run."""
    from reslab.course.headless import execute
    path = student_versions[name]
    nb = execute(nbformat.read(path, as_version=4), name, cwd=path.parent, allow_errors=True)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            printed = "".join(o.get("text", "") for o in cell.outputs)
            assert "not yet right" in printed and "✗" in printed, (name, printed)
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            assert [e["ename"] for e in errors] == ["AssertionError"], (name, errors)
            assert not any("reslab/" in line for line in errors[0]["traceback"])


def test_markdown_answer_notes_are_left_out_of_student_versions(tmp_path):
    for path in write_assignments(tmp_path):
        student = json.loads(path.read_text(encoding="utf-8"))
        for cell in student["cells"]:
            if cell["cell_type"] == "markdown" and cell["metadata"].get("nbgrader", {}).get(
                    "solution"):
                text = "".join(cell["source"])
                assert "YOUR ANSWER HERE" in text and "Answer notes" not in text, path.name


def test_graded_cells_assert_the_check_result_and_read_no_variable():
    for path in course_notebooks():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                assert meta.get("locked") and cell.source.rstrip().endswith(
                    'assert verdict, "not yet right: see the ✗ lines above"'), path.name
        assert "RESLAB_GRADING" not in path.read_text(encoding="utf-8"), path.name
