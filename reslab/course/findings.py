"""The papers' findings, read off the default experiments' results, and the findings table.

Each :class:`Finding` is one comparison a paper makes (e.g. "plain-56 has higher training error
than plain-20", He et al. 2016, Fig. 6), the value the reader's own run gives, and whether that
value points the paper's way. Notebooks print them under "What to notice";
``python -m reslab findings`` runs every default experiment for several seeds and writes the
table that the notebooks' prose is checked against (:mod:`reslab.tools.run_findings`).

Each notebook's findings are written beside its experiment in its lesson module under
:mod:`reslab.course.lessons` (:class:`Finding` and its helpers in
:mod:`reslab.course.lessons.finding`); this module indexes them by notebook for
:func:`findings` and :func:`show`, which is what the notebooks call.
"""
from __future__ import annotations

from collections.abc import Callable

from reslab.course.lessons import (bottlenecks, degradation, responses, resresnet, rir, ror,
                                   shortcuts, successive)
from reslab.course.lessons.experiment import Result
from reslab.course.lessons.finding import Finding, notes

__all__ = ["findings", "show", "READERS"]

READERS: dict[str, Callable[[Result], list[Finding]]] = {
    "01": degradation.findings, "02": shortcuts.findings, "03": bottlenecks.findings,
    "04": responses.findings, "05": resresnet.findings, "06": rir.findings,
    "07": ror.findings, "08": successive.findings}


def findings(result: Result) -> list[Finding]:
    """The findings of one notebook's default experiment."""
    return READERS[result.notebook](result)


def show(result: Result) -> None:
    """Print a notebook's findings, and notes on runs near chance, as "What to notice"."""
    for finding in findings(result):
        print("-", finding.line())
    for note in notes(result):
        print("-", note)
