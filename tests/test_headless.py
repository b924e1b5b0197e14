"""Headless notebook runs cannot stall: per-cell limits, whole-test limits, no lost replies."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from reslab.course import headless

NEVER_RETURNS = "import time\nwhile True:  # a cell that never returns\n    time.sleep(0.2)"


def _notebook(*sources: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


@pytest.mark.timeout(120)
def test_a_cell_that_never_returns_fails_naming_the_notebook_and_the_cell(tmp_path):
    nb = _notebook("x = 1", NEVER_RETURNS, "print('not reached')")
    with pytest.raises(headless.CellTimeout,
                       match=r"^stall\.ipynb: cell 1 ran past its 5 s limit .*import time$"):
        headless.execute(nb, "stall.ipynb", cwd=tmp_path, cell_limit=lambda cell: 5)
    assert nb.cells[0].execution_count == 1 and not nb.cells[2].outputs


@pytest.mark.timeout(180)
def test_nbval_fails_a_cell_that_never_returns_naming_the_notebook_and_the_cell(tmp_path):
    nbformat.write(_notebook("x = 1", NEVER_RETURNS), tmp_path / "stall.ipynb")
    done = subprocess.run([sys.executable, "-m", "pytest", "stall.ipynb", "--nbval-lax",
                           "--nbval-cell-timeout=5", "-p", "no:cacheprovider", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=150)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stall.ipynb::Cell 1" in done.stdout and "Timeout of 5 seconds" in done.stdout


@pytest.mark.timeout(120)
def test_a_test_that_hangs_fails_at_the_whole_test_limit(tmp_path):
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_hang():\n"
                                          "    time.sleep(10**6)\n\ndef test_next():\n"
                                          "    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "test_hang.py", "-o", "timeout=3",
                           "-p", "no:cacheprovider", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=100)
    assert "Timeout (>3.0s)" in done.stdout, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout  # ... and the suite goes on


def test_the_suite_runs_with_finite_limits(pytestconfig):
    assert 0 < float(pytestconfig.getini("timeout")) <= 1800
    assert 0 < int(pytestconfig.option.nbval_cell_timeout) <= headless.TRAINING_CELL_S


def test_training_cells_get_the_long_limit_and_widget_cells_the_short_one():
    from reslab.course.assignments import course_notebooks
    cells = {p.stem[:2]: nbformat.read(p, as_version=4).cells for p in course_notebooks()}
    experiment = next(c for c in cells["04"] if 'experiments.run("04"' in c.source)
    browser = next(c for c in cells["04"] if "widgets.response_browser(" in c.source)
    assert headless.cell_timeout(experiment) == headless.TRAINING_CELL_S
    assert headless.cell_timeout(browser) == headless.CELL_S
    assert headless.cell_timeout("print(1)") == headless.CELL_S


@pytest.mark.timeout(300)
def test_widgets_ask_a_headless_client_for_no_output_capture(tmp_path):
    """The lost reply of issue 17: an Output widget capturing with ``with out:`` makes nbclient
    write each captured output to the kernel on the shell socket while it waits there for the
    cell's reply, and that write can swallow the socket's wake-up. The kit's widgets hand their
    Output its outputs instead, so nbclient registers no capture at all."""
    from nbclient import NotebookClient

    hooks = []

    class Client(NotebookClient):
        def register_output_hook(self, msg_id, hook):
            hooks.append(msg_id)
            super().register_output_hook(msg_id, hook)

    nb = _notebook("from reslab.course import widgets", "widgets.model_explorer();",
                   "widgets.response_browser({'resnet20': [{'index': 1, 'layer': 'a', "
                   "'std': 1.0}]});", "widgets.survival_explorer();",
                   "widgets.phase_planner(400);", "widgets.StageOrderPicker(400)")
    Client(nb, timeout=120, kernel_name="python3",
           resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert hooks == []
    shown = [o for c in nb.cells for o in c.outputs]
    assert sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in shown) == 5
