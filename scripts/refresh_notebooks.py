#!/usr/bin/env python
"""Execute the course notebooks on the smoke budget and store only their checked outputs.

Cells marked ``# NBVAL_CHECK_OUTPUT`` keep the output they produce now (CI compares against it
with ``pytest --nbval-lax``); every other cell is stored without output, so the notebooks stay
small and readers see their own results, not ours. Prints each notebook's run time and size.

    python scripts/refresh_notebooks.py                    # every notebook
    python scripts/refresh_notebooks.py notebooks/02_shortcuts.ipynb
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
MARK = "# NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    os.environ["RESLAB_BUDGET"] = "smoke"
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.lstrip().startswith(MARK):
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "display_data"]
        else:
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)  # widget state: large, and meaningless without a kernel
    nbformat.write(nb, path)
    print(f"{path.name}: {seconds:.0f} s on the smoke budget, {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for p in paths:
        refresh(p)
