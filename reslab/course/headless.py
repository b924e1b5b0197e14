"""Running notebooks without a browser (nbclient, nbconvert, nbgrader): time limits per cell.

A notebook executed headless waits for each cell's reply; a cell that never returns would
hold a test, a CI job or an instructor's autograding run forever. :func:`cell_timeout` gives
every cell a limit sized to the course's slowest real cells on two busy CPU cores (smoke
budget, cold runs folder, measured for issue 17: the longest training cell took 262 s with
the machine's load average near 10, the longest other cell 12 s): cells that train get
``TRAINING_CELL_S``, every other cell ``CELL_S``. :func:`execute` runs a notebook with those
limits and, on a timeout, fails with one line naming the notebook, the cell and its limit.

For nbgrader, the same limits go into ``nbgrader_config.py``::

    from reslab.course.headless import cell_timeout
    c.Execute.timeout_func = cell_timeout
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CELL_S = 120
TRAINING_CELL_S = 600

# A cell trains if it calls one of the kit's training entry points.
_TRAINS = re.compile(r"\b(experiments\.\w+|train\w*|sweep|fit|run)\(")


class CellTimeout(RuntimeError):
    """A notebook cell ran past its limit; the message names the notebook and the cell."""


def trains(source: str) -> bool:
    """Whether a cell's source calls a training entry point (``experiments.*``, ``train``…)."""
    return bool(_TRAINS.search(source))


def cell_timeout(cell: Any) -> int:
    """The limit in seconds for one cell (an nbformat cell, or its source)."""
    source = cell if isinstance(cell, str) else cell.get("source", "")
    return TRAINING_CELL_S if trains(source) else CELL_S


def _describe(nb: Any, index: int, name: str, limit) -> str:
    cell = nb.cells[index]
    first = next((line for line in cell.source.splitlines()
                  if line.strip() and not line.startswith("#")), "")
    return (f"{name}: cell {index} ran past its {limit(cell)} s limit "
            f"(reslab.course.headless): {first.strip()[:80]}")


def execute(nb: Any, name: str, cwd: str | Path, allow_errors: bool = False,
            cell_limit=cell_timeout, **options) -> Any:
    """Execute ``nb`` (an nbformat notebook, in place) in a fresh ``python3`` kernel.

    ``name`` labels messages, ``cwd`` is the kernel's working directory, ``cell_limit`` maps a
    cell to its limit in seconds. Raises :class:`CellTimeout` naming the cell that ran past its
    limit; other options go to ``nbclient.NotebookClient``.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    running: dict[str, int] = {}

    def started(cell, cell_index) -> None:
        running["index"] = cell_index

    client = NotebookClient(nb, timeout_func=cell_limit, kernel_name="python3",
                            allow_errors=allow_errors, on_cell_execute=started,
                            resources={"metadata": {"path": str(cwd)}}, **options)
    try:
        client.execute()
    except CellTimeoutError:
        raise CellTimeout(_describe(nb, running["index"], name, cell_limit)) from None
    return nb
