"""What the notebooks store from the committed results: the findings ledger and the figures a
reader sees without running anything (``scripts/refresh_stored.py``)."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reslab.course import ledger, stored_figures
from reslab.course.assignments import student_version

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[1-8]_*.ipynb"))


def _cells(path: Path, mark: str) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c.get("metadata", {}).get("reslab", {}).get("stored") == mark]


def test_every_notebook_01_to_08_is_covered():
    assert [p.name[:2] for p in NOTEBOOKS] == list(stored_figures.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_stored_ledger_is_what_the_committed_json_gives(path):
    (cell,) = _cells(path, "ledger")
    assert "".join(cell["source"]) == ledger.cell(path.name[:2]), (
        f"{path.name}: run python scripts/refresh_stored.py")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_stored_figure_was_drawn_from_the_committed_results(path):
    (cell,) = _cells(path, "figure")
    figure = stored_figures.figure_for(path.name[:2])
    mark = cell["metadata"]["reslab"]
    assert mark["sources"] == [p.relative_to(stored_figures.results_dir()).as_posix()
                               for p in figure.sources]
    assert mark["sha256"] == figure.digest(), (
        f"{path.name}: its stored figure was drawn from other data than results/ holds now: "
        "run python scripts/refresh_stored.py")
    (name, data), = cell["attachments"].items()
    assert f"(attachment:{name})" in "".join(cell["source"])
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_notebooks_stay_under_a_megabyte(path):
    assert path.stat().st_size < 1_000_000


def test_a_changed_result_changes_the_digest(tmp_path, monkeypatch):
    source = tmp_path / "findings-quick-cpu" / "seed0" / "02" / "resnet20" / "history.json"
    source.parent.mkdir(parents=True)
    source.write_text('{"records": []}')
    monkeypatch.setenv("RESLAB_RESULTS", str(tmp_path))
    before = stored_figures.digest((source,))
    source.write_text('{"records": [1]}')
    assert stored_figures.digest((source,)) != before


def test_figures_survive_the_student_version():
    """``reslab assignments`` clears outputs; the stored figures are attachments, and stay."""
    path = NOTEBOOKS[0]
    nb = json.loads(path.read_text())
    student = student_version(nb, path.name)
    kept = [c for c in student["cells"] if c.get("attachments")]
    assert kept and kept[0]["attachments"] == _cells(path, "figure")[0]["attachments"]


def test_nbconvert_renders_the_stored_figure_as_an_image(tmp_path):
    """nbviewer renders with nbconvert: the attachment becomes an inline PNG."""
    pytest.importorskip("nbconvert")
    done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--output-dir",
                           str(tmp_path), str(NOTEBOOKS[3])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    html = next(tmp_path.glob("*.html")).read_text()
    assert 'src="data:image/png;base64,' in html and "attachment:kit-04.png" not in html


def test_every_row_against_the_paper_says_why():
    unexplained = [r.claim for r in ledger.rows() if r.against
                   and ledger.reason(r) == "not explained yet"]
    assert not unexplained


def test_the_readers_column_is_filled_from_their_findings():
    from reslab.course.lessons.finding import Finding
    row = ledger.rows("02")[0]
    mine = Finding("02", row.claim, row.paper, row.metric, -3.5, True)
    table = ledger.markdown("02", [mine])
    assert "| -3.50 ✓ |" in table
    assert "run the notebook" in ledger.markdown("02")


def test_the_medium_column_says_not_run_without_a_set(tmp_path, monkeypatch):
    quick = tmp_path / "findings-quick-cpu"
    quick.mkdir()
    quick.joinpath("findings.json").write_text(json.dumps([{
        "notebook": "02", "claim": "option A beats the plain net", "paper": "p", "metric":
        "test error a - b (points)", "values": {"0": -1.0, "1": 2.0}, "holds": {"0": True,
                                                                           "1": False}}]))
    monkeypatch.setenv("RESLAB_RESULTS", str(tmp_path))
    (row,) = ledger.rows("02")
    assert row.kit["kit, quick"] == "1 of 2 (mean +0.50)"
    assert row.kit["kit, medium"] == "not run"
    assert row.against == ["quick"]


EMPTY_NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.mark.parametrize("name, text", [("notes.txt", "x"), ("01_broken.ipynb", "{not json"),
                                        ("09_extra.ipynb", "{}"),
                                        ("01_empty.ipynb", EMPTY_NOTEBOOK)])
def test_refresh_stored_refuses_a_wrong_path_in_one_line_and_keeps_the_file(tmp_path, name,
                                                                            text):
    path = tmp_path / name
    path.write_text(text)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "refresh_stored.py"),
                           str(path)], capture_output=True, text=True)
    assert done.returncode != 0 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("refresh_stored: ") and path.read_text() == text
