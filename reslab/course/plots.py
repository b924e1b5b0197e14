"""Figures in one consistent style: every axis labelled, the paper's figure named in the title.

Functions take plain data (histories, dicts of numbers) and return the matplotlib Figure.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from reslab.course.style import PALETTE, style
from reslab.training.history import History


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

    The style of He et al. 2016, Fig. 6 ("dashed lines denote training error, and bold lines
    denote testing error"; its Fig. 1 draws the two in separate panels).
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
    head = textwrap.fill(f"{title} ({data})", 64)   # a long title wraps, not clipped
    ax.set_title(f"{head}\ndashed: training error, solid: {split} error")
    ax.legend()
    return fig


def loss_curves(histories: Mapping[str, History], title: str = "", ax=None):
    """Training loss against iterations, with chance level (ln 10 for 10 classes) marked."""
    import math
    plt = _pyplot()
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
    ax = ax or fig.add_subplot()
    for i, (label, h) in enumerate(histories.items()):
        ax.plot(h.column("step"), h.column("train_loss"), "-o", markersize=3,
                color=PALETTE[i % len(PALETTE)], label=label)
    ax.axhline(math.log(10), color="grey", linestyle=":", label="chance (ln 10)")
    ax.set_xlabel("iterations")
    ax.set_ylabel("training loss (mean since the last point)")
    ax.set_title(f"{title} ({_dataset_label(list(histories.values()))})")
    ax.legend(fontsize=8)
    return fig


def degradation_figure(histories: Mapping[str, History], path: str | Path | None = None,
                       references: Mapping[str, History] | None = None):
    """He et al. 2016, Fig. 6 style: plain nets (left) and ResNets (right) side by side.

    ``references`` (committed reference runs) are drawn as thick faint lines behind.
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    plain = {k: v for k, v in histories.items() if k.startswith("plain")}
    residual = {k: v for k, v in histories.items() if not k.startswith("plain")}
    error_curves(plain, "plain nets (He et al. 2016, Fig. 6 left)", ax=left)
    error_curves(residual, "ResNets (He et al. 2016, Fig. 6 middle)", ax=right)
    references = references or {}
    reference_curves(left, {k: v for k, v in references.items() if k.startswith("plain")},
                     "kit reference")
    reference_curves(right, {k: v for k, v in references.items()
                             if not k.startswith("plain")}, "kit reference")
    right.set_ylabel("")
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    return fig


def reference_curves(ax, references: Mapping[str, History], label_prefix: str = "kit") -> None:
    """Draw committed reference runs faintly on ``ax`` (solid eval error), labelled by source."""
    for i, (label, h) in enumerate(references.items()):
        ax.plot(h.column("step"), [100 * e for e in h.column("eval_error")], "-",
                color=PALETTE[i % len(PALETTE)], alpha=0.35, linewidth=3,
                label=f"{label} ({label_prefix})")
    if references:
        ax.legend()


def compare_with_paper(yours: Mapping[str, float], paper: Mapping[str, float], title: str,
                       ylabel: str = "test error (%)", your_label: str = "your run",
                       paper_label: str = "paper"):
    """Grouped bars: the reader's numbers beside the paper's, one group per model."""
    plt = _pyplot()
    names = list(dict.fromkeys([*paper, *yours]))
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(names) + 2), 3.6))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [paper.get(n, float("nan")) for n in names], 0.4,
           label=paper_label, color="#999999")
    ax.bar([x + 0.2 for x in xs], [yours.get(n, float("nan")) for n in names], 0.4,
           label=your_label, color=PALETTE[0])
    ax.set_xticks(list(xs), names, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def responses_figure(responses: Mapping[str, Sequence[dict]], title_note: str = ""):
    """He et al. 2016, Fig. 7: std of each 3x3 layer's response, in layer order and sorted."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6))
    for i, (label, rows) in enumerate(responses.items()):
        stds = [r["std"] for r in rows]
        style_ = "--" if label.startswith("plain") else "-"
        colour = PALETTE[i % len(PALETTE)]
        top.plot(range(1, len(stds) + 1), stds, style_, color=colour, label=label)
        bottom.plot(range(1, len(stds) + 1), sorted(stds, reverse=True), style_, color=colour,
                    label=label)
    values = [r["std"] for rows in responses.values() for r in rows if r["std"] > 0]
    if values and max(values) / min(values) > 100:  # one exploding net would flatten the rest
        top.set_yscale("log")
        bottom.set_yscale("log")
    top.set_title(f"layer responses (He et al. 2016, Fig. 7){title_note}")
    top.set_xlabel("layer index (original order)")
    bottom.set_xlabel("layer index (sorted by magnitude)")
    for ax in (top, bottom):
        ax.set_ylabel("std")
        if responses:
            ax.legend(ncol=3)
    fig.tight_layout()
    return fig


def feature_maps(tensors: Mapping[str, torch.Tensor], title: str, columns: int = 16):
    """Each channel of one image's feature maps as a small picture, one row block per tensor.

    Used to show what option A does: the shortcut's extra channels are all zeros.
    """
    plt = _pyplot()
    rows = sum((t.shape[0] + columns - 1) // columns for t in tensors.values())
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.55, rows * 0.75 + 0.6))
    axes = axes.reshape(rows, columns)
    row = 0
    for label, t in tensors.items():
        lo, hi = float(t.min()), float(t.max())
        for c in range(((t.shape[0] + columns - 1) // columns) * columns):
            ax = axes[row + c // columns, c % columns]
            ax.axis("off")
            if c < t.shape[0]:
                ax.imshow(t[c].cpu(), cmap="viridis", vmin=lo, vmax=hi)
            if c % columns == 0:
                ax.set_title(f"{label}, channels {c}-{min(c + columns, t.shape[0]) - 1}",
                             fontsize=7, loc="left")
        row += (t.shape[0] + columns - 1) // columns
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def ablation_figure(rows: Sequence[dict], title_note: str = ""):
    """RiR (Targ et al. 2016), Fig. 3: accuracy after zeroing one stream of one layer."""
    plt = _pyplot()
    base = next(r["accuracy"] for r in rows if r["stream"] == "none")
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for offset, stream, colour in ((-0.2, "residual", PALETTE[0]), (0.2, "transient", PALETTE[1])):
        picked = [r for r in rows if r["stream"] == stream]
        ax.bar([r["layer"] + offset for r in picked], [100 * r["accuracy"] for r in picked], 0.4,
               color=colour, label=f"{stream} stream zeroed")
    ax.axhline(100 * base, color="black", linewidth=1, linestyle="--", label="no ablation")
    ax.set_xlabel("generalized layer")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"stream ablation (Targ et al. 2016, Fig. 3){title_note}")
    ax.legend()
    fig.tight_layout()
    return fig


def survival_curves(curves: Mapping[str, Sequence[float]], title: str = ""):
    """Survival probability of each residual block, one line per labelled curve."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for i, (label, probs) in enumerate(curves.items()):
        ax.plot(range(1, len(probs) + 1), probs, ".-", color=PALETTE[i % len(PALETTE)],
                label=label)
    ax.set_xlabel("residual block (input to output)")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.05)
    ax.set_title(title or "stochastic depth (Huang et al. 2016): linear decay to p_L")
    ax.legend()
    fig.tight_layout()
    return fig


def survival_figure(models: Mapping[str, torch.nn.Module]):
    """Each block's stochastic-depth survival probability in ``models`` (used by RoR)."""
    from reslab.models import StochasticDepth
    return survival_curves({label: [m.survival_prob for m in model.modules()
                                    if isinstance(m, StochasticDepth)]
                            for label, model in models.items()})


def phase_curves(schedules: Mapping[str, Mapping[str, History]],
                 baseline: Mapping[str, History] | None = None):
    """Successive training (Gelda et al. 2016, Fig. 10): each schedule's phases end to end.

    Test error against cumulative iterations; a dotted line marks each phase change.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (label, phases) in enumerate(schedules.items()):
        offset, xs, ys = 0, [], []
        for h in phases.values():
            xs += [offset + s for s in h.column("step")]
            ys += [100 * e for e in h.column("eval_error")]
            offset += h.config["iterations"]
            ax.axvline(offset, color=PALETTE[i], linestyle=":", linewidth=0.8)
        ax.plot(xs, ys, "-", color=PALETTE[i], label=label)
    for label, h in (baseline or {}).items():
        ax.plot(h.column("step"), [100 * e for e in h.column("eval_error")], "-",
                color="black", label=f"{label} (trained at once)")
    ax.set_xlabel("iterations (all phases)")
    ax.set_ylabel("test error (%)")
    ax.set_title("successive block training (Gelda et al. 2016, Sec. III.B)")
    ax.legend()
    fig.tight_layout()
    return fig


def draw_architecture(model: torch.nn.Module, **options):
    """The model's architecture diagram, drawn from its modules (He et al. 2016, Fig. 3 style).

    The same as :func:`reslab.course.diagrams.draw_architecture`, here beside the other figures
    (imported here: a curve figure does not need the diagrams' ten modules).
    """
    from reslab.course import diagrams
    return diagrams.draw_architecture(model, **options)
