#!/usr/bin/env python
"""Rewrite what the notebooks store from the committed results: figures and the ledger.

    python scripts/refresh_stored.py            # rewrite notebooks 01-08

``tests/test_stored.py`` fails when a notebook's stored ledger or figure sources differ from
what the committed results give.

Each notebook 01-08 stores

* a Markdown cell whose attachment is the figure of the kit's committed run
  (:mod:`reslab.course.stored_figures`), with the SHA-256 of its source JSON in the cell's
  metadata; it sits just before the cell that runs the notebook's experiment, so the reader's
  own figure comes below it;
* at its end, its rows of the findings ledger (:mod:`reslab.course.ledger`) as a Markdown
  cell, followed by a code cell that fills in the reader's column.

Cells are found again by their ``metadata["reslab"]`` mark, so a rerun replaces them in place.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reslab.course import ledger, stored_figures  # noqa: E402

SHOW = "from reslab.course import ledger\n\nledger.show(result)   # your run beside the kit's"


def _marked(nb, mark: str) -> int | None:
    return next((i for i, c in enumerate(nb.cells)
                 if c.metadata.get("reslab", {}).get("stored") == mark), None)


def _figure_cell(figure: stored_figures.StoredFigure) -> nbformat.NotebookNode:
    name = f"kit-{figure.notebook}.png"
    text = (f"**The kit's own run, stored in this notebook** (you see it without running "
            f"anything): {figure.caption}. Your own run's figure comes below when you run the "
            f"next cells.\n\n![the kit's committed run, notebook {figure.notebook}]"
            f"(attachment:{name})")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.attachments = {name: {"image/png": base64.b64encode(figure.png()).decode()}}
    cell.metadata["reslab"] = {"stored": "figure", "sha256": figure.digest(),
                               "sources": [p.relative_to(stored_figures.results_dir())
                                           .as_posix() for p in figure.sources]}
    return cell


def _put(nb, mark: str, cells: list, before: int) -> None:
    """Replace the cells marked ``mark`` (and the one after, for the ledger) or insert."""
    at = _marked(nb, mark)
    if at is not None:
        for old, new in zip(nb.cells[at:at + len(cells)], cells):
            new.id = old.id   # a refresh changes content, not identity
        nb.cells[at:at + len(cells)] = cells
    else:
        nb.cells[before:before] = cells


def _experiment_cell(nb, notebook: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                and f'experiments.run("{notebook}"' in c.source)


def _end(nb) -> int:
    last = nb.cells[-1]
    return len(nb.cells) - (1 if last.source.startswith("**Next:**") else 0)


def refreshed(path: Path):
    nb = nbformat.read(path, as_version=4)
    notebook = path.name[:2]
    figure = stored_figures.figure_for(notebook)
    if figure is not None:
        _put(nb, "figure", [_figure_cell(figure)], _experiment_cell(nb, notebook))
    table = nbformat.v4.new_markdown_cell(ledger.cell(notebook))
    table.metadata["reslab"] = {"stored": "ledger"}
    show = nbformat.v4.new_code_cell(SHOW)
    _put(nb, "ledger", [table, show], _end(nb))
    return nb


def _checked(path: Path) -> Path:
    """``path`` if it names one of the course's notebooks 01-08; else exit with one line."""
    if not (path.is_file() and re.fullmatch(r"0[1-8]_\w+\.ipynb", path.name)):
        sys.exit(f"refresh_stored: {path} is not one of the course's notebooks "
                 "(notebooks/01_*.ipynb ... 08_*.ipynb)")
    return path


def _write(nb, path: Path) -> None:
    """Write ``nb`` over ``path`` in one step: a failure leaves the old notebook whole."""
    tmp = path.with_name(path.name + ".tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="paths (default: notebooks 01-08)")
    args = parser.parse_args()
    paths = [_checked(Path(p)) for p in args.notebooks] or sorted(
        (ROOT / "notebooks").glob("0[1-8]_*.ipynb"))
    for path in paths:
        try:
            nb = refreshed(path)
        except (StopIteration, nbformat.reader.NotJSONError, ValueError) as err:
            sys.exit(f"refresh_stored: {path} is not a course notebook this script can refresh"
                     f" ({type(err).__name__}: no experiment cell, or not a notebook)")
        _write(nb, path)
        print(f"{path.name}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
