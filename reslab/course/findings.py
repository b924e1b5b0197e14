"""The papers' findings, read off the default experiments' results, and the findings table.

Each :class:`Finding` is one comparison a paper makes (e.g. "plain-56 has higher training error
than plain-20", He et al. 2016, Fig. 6), the value the reader's own run gives, and whether that
value points the paper's way. Notebooks print them under "What to notice";
``python -m reslab findings`` runs every default experiment for several seeds and writes the
table that the notebooks' prose is checked against (:mod:`reslab.tools.run_findings`).

Each notebook's findings are written beside its experiment in its lesson module under
:mod:`reslab.course.lessons`; this module indexes them by notebook, under the names they have
always had here, with :class:`Finding` and its helpers from :mod:`reslab.course.lessons.finding`.
"""
from __future__ import annotations

from collections.abc import Callable

from reslab.course.lessons.bottlenecks import findings as bottlenecks
from reslab.course.lessons.degradation import START_CONVERGING
from reslab.course.lessons.degradation import findings as degradation
from reslab.course.lessons.experiment import Result
from reslab.course.lessons.finding import (CHANCE_LOSS, CONVERGING_ERROR, Finding, chance_share,
                                           final, format_value, notes)
from reslab.course.lessons.responses import findings as responses
from reslab.course.lessons.resresnet import findings as resresnet
from reslab.course.lessons.rir import findings as rir
from reslab.course.lessons.ror import findings as ror
from reslab.course.lessons.shortcuts import findings as shortcuts
from reslab.course.lessons.successive import COMPARABLE_POINTS
from reslab.course.lessons.successive import findings as successive

__all__ = ["Finding", "format_value", "final", "chance_share", "notes", "findings", "show",
           "READERS", "degradation", "shortcuts", "bottlenecks", "responses", "resresnet",
           "rir", "ror", "successive", "CHANCE_LOSS", "CONVERGING_ERROR", "START_CONVERGING",
           "COMPARABLE_POINTS"]

READERS: dict[str, Callable[[Result], list[Finding]]] = {
    "01": degradation, "02": shortcuts, "03": bottlenecks, "04": responses, "05": resresnet,
    "06": rir, "07": ror, "08": successive}


def findings(result: Result) -> list[Finding]:
    """The findings of one notebook's default experiment."""
    return READERS[result.notebook](result)


def show(result: Result) -> None:
    """Print a notebook's findings, and notes on runs near chance, as "What to notice"."""
    for finding in findings(result):
        print("-", finding.line())
    for note in notes(result):
        print("-", note)
