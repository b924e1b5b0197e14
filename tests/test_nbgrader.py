"""A real nbgrader round trip (the ``nbgrader`` package from PyPI), with no grading variable.

``generate_assignment`` from a course notebook (02: three auto-graded exercises), then
``autograde`` of four submissions: the untouched student version, all solutions, one
exercise left unanswered, and an untouched one whose answer cell edits ``os.environ``. Each
must score exactly what its answers earn. ``nbgrader validate`` fails wrong work.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "02_shortcuts"
ASSIGNMENT = "ps02"
# Cell limits of reslab.course.headless (as an instructor's config would set them); the whole round
# trip (generate, then autograde four submissions of 02) has the module's pytest-timeout.
CONFIG = """from reslab.course.headless import cell_timeout
c = get_config()
c.CourseDirectory.course_id = "reslab"
c.CourseDirectory.root = {root!r}
c.Execute.timeout_func = cell_timeout
c.ExecutePreprocessor.timeout_func = cell_timeout
c.AutogradeApp.create_student = True
"""
pytestmark = pytest.mark.timeout(1200)


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RESLAB_GRADING"}
    env.update(RESLAB_BUDGET="smoke", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)


def _cells_by_id(nb: dict) -> dict[str, dict]:
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"]
            if "grade_id" in c["metadata"].get("nbgrader", {})}


def _submit(course: Path, student: str, nb: dict) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{NOTEBOOK}.ipynb").write_text(json.dumps(nb), encoding="utf-8")


def _with_answers(release: dict, source: dict, answered: set[str]) -> dict:
    """The student version with the solution cells in ``answered`` filled in."""
    nb = json.loads(json.dumps(release))
    solutions = _cells_by_id(source)
    for grade_id, cell in _cells_by_id(nb).items():
        if grade_id in answered:
            cell["source"] = solutions[grade_id]["source"]
    return nb


def _score(course: Path, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return nb.score, nb.max_score


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Generate the assignment and autograde the four submissions once for all tests."""
    course = tmp_path_factory.mktemp("course")
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course)))
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / f"{NOTEBOOK}.ipynb", course / "source" / ASSIGNMENT)
    done = _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    release = json.loads((course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text())
    source = json.loads((course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text())
    exercises = {g for g, c in _cells_by_id(source).items()
                 if c["metadata"]["nbgrader"].get("solution")}
    tamper = _with_answers(release, source, set())
    cell = _cells_by_id(tamper)["ex02-option-a"]
    cell["source"] = ['import os\n', 'os.environ.pop("RESLAB_GRADING", None)\n',
                      'os.environ["RESLAB_GRADING"] = "0"\n'] + cell["source"]
    submissions = {"untouched": release, "solutions": _with_answers(release, source, exercises),
                   "no_option_b": _with_answers(release, source, exercises - {"ex02-option-b"}),
                   "tamper": tamper}
    for student, nb in submissions.items():
        _submit(course, student, nb)
    done = _nbgrader(course, "autograde", ASSIGNMENT, "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    return {"course": course, "submissions": submissions,
            "scores": {s: _score(course, s) for s in submissions}}


def test_generated_assignment_hides_solutions(graded):
    release = graded["submissions"]["untouched"]
    text = json.dumps(release)
    assert "BEGIN SOLUTION" not in text and "self.bn(self.conv(x))" not in text
    checks = [c for c in release["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert len(checks) == 3 and all("assert verdict" in "".join(c["source"]) for c in checks)


def test_generated_assignment_keeps_the_stored_figure(graded):
    """nbgrader clears outputs; the figure of the kit's committed run is a Markdown
    attachment, and the student's release keeps it."""
    release = graded["submissions"]["untouched"]
    kept = [c for c in release["cells"] if c.get("attachments")]
    assert kept and all("image/png" in a for c in kept for a in c["attachments"].values())


def test_autograde_scores_untouched_zero_solutions_full_one_unanswered_full_minus_one(graded):
    scores = graded["scores"]
    assert scores["untouched"] == (0, 3), scores
    assert scores["solutions"] == (3, 3), scores
    assert scores["no_option_b"] == (2, 3), scores


def test_editing_the_environment_in_an_answer_cell_earns_nothing(graded):
    assert graded["scores"]["tamper"] == (0, 3), graded["scores"]


def test_feedback_has_no_traceback_into_the_library(graded):
    course = graded["course"]
    nb = json.loads((course / "autograded" / "untouched" / ASSIGNMENT /
                     f"{NOTEBOOK}.ipynb").read_text())
    graded_cells = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    errors = [o for c in graded_cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert len(errors) == 3 and all(e["ename"] == "AssertionError" for e in errors)
    assert not any("reslab/" in line for e in errors for line in e["traceback"]), errors
    printed = "".join("".join(o.get("text", "")) for c in graded_cells for o in c["outputs"])
    assert "✗" in printed


def test_validate_fails_wrong_work(graded):
    course = graded["course"]
    folder = course / "submitted" / "no_option_b" / ASSIGNMENT
    done = _nbgrader(course, "validate", str(folder / f"{NOTEBOOK}.ipynb"))
    assert "Success! Your notebook passes all the tests." not in done.stdout, done.stdout
    assert "AssertionError" in done.stdout + done.stderr
