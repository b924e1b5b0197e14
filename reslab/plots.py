"""Figures in one consistent style: every axis labelled, the paper's figure named in the title.

Functions take plain data (histories, dicts of numbers) and return the matplotlib Figure.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

from reslab.history import History

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]


def style() -> None:
    """The kit's matplotlib style (called by every plotting function)."""
    matplotlib.rcParams.update({
        "figure.dpi": 80, "savefig.dpi": 100, "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 10,
        "axes.titlesize": 11, "legend.fontsize": 8, "legend.frameon": False})


def _pyplot():
    import matplotlib.pyplot as plt
    style()
    return plt


def _dataset_label(histories: Sequence[History]) -> str:
    names = sorted({h.meta.get("dataset", "?") for h in histories})
    return ", ".join(names)


def error_curves(histories: Mapping[str, History], title: str = "", ax=None,
                 x: str = "step", show_train: bool = True):
    """Training (dashed) and evaluation (solid) error against iterations, one colour per run.

    The style of He et al. 2016, Fig. 1 and Fig. 6.
    """
    plt = _pyplot()
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
    ax = ax or fig.add_subplot()
    for i, (label, h) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        xs = h.column(x)
        if show_train:
            ax.plot(xs, [100 * e for e in h.column("train_error")], "--", color=colour,
                    linewidth=1)
        split = h.meta.get("eval_split", "test")
        ax.plot(xs, [100 * e for e in h.column("eval_error")], "-", color=colour,
                linewidth=1.8, label=label)
    ax.set_xlabel("iterations" if x == "step" else x)
    ax.set_ylabel("error (%)")
    data = _dataset_label(list(histories.values()))
    split = next(iter(histories.values())).meta.get("eval_split", "test") if histories else ""
    ax.set_title(f"{title} ({data})\ndashed: training error, solid: {split} error")
    ax.legend()
    return fig


def degradation_figure(histories: Mapping[str, History], path: str | Path | None = None):
    """He et al. 2016, Fig. 6 style: plain nets (left) and ResNets (right) side by side."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    plain = {k: v for k, v in histories.items() if k.startswith("plain")}
    residual = {k: v for k, v in histories.items() if not k.startswith("plain")}
    error_curves(plain, "plain nets (He et al. 2016, Fig. 6 left)", ax=left)
    error_curves(residual, "ResNets (He et al. 2016, Fig. 6 middle)", ax=right)
    right.set_ylabel("")
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    return fig
