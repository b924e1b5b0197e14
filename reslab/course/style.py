"""The course's one look, shared by its figures (:mod:`reslab.course.plots`) and its
architecture diagrams (:mod:`reslab.course.diagrams`): the colours, in order, and the
matplotlib settings."""
from __future__ import annotations

import matplotlib

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]


def style() -> None:
    """The kit's matplotlib style (called by every plotting function)."""
    matplotlib.rcParams.update({
        "figure.dpi": 80, "savefig.dpi": 100, "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 10,
        "axes.titlesize": 11, "legend.fontsize": 8, "legend.frameon": False})
