"""One block, top to bottom, as in He et al. 2016, Figs. 2 and 5.

:func:`draw_block_on` draws a block's branch (weight layers as boxes, BN and ReLU on the
arrows), the ⊕ of Eq. 1 and the shortcut on a lane beside the branch: a line for an identity,
a named box for zero-padding or a projection. On it stand the two lesson figures:

* :func:`draw_plain_vs_residual` -- a plain block beside a residual block (Fig. 2), with
  H(x), F(x) and F(x) + x;
* :func:`draw_basic_vs_bottleneck` -- a basic block beside a bottleneck block (Fig. 5).
"""
from __future__ import annotations

from dataclasses import replace

from matplotlib.figure import Figure
from torch import nn

from reslab.course.diagrams.canvas import (FONT, KIND_COLOURS, KIND_NAMES, SMALL, Canvas,
                                           box_width, chain, edge_down, sum_node, text_size)
from reslab.course.diagrams.views import Block, Shortcut, block_view, shape_text
from reslab.models.blocks import BasicBlock, Bottleneck


def shortcut_label_width(sc: Shortcut) -> float:
    """The width of the box that names a shortcut's module (none for an identity)."""
    return 0.0 if sc.kind == "identity" else text_size(sc.text, SMALL)[0] + 0.35


def shortcut_lane(cv: Canvas, sc: Shortcut, start: tuple[float, float],
                  end: tuple[float, float], lane: float) -> None:
    """A shortcut from ``start`` out to x = ``lane``, down, and into the ⊕ at ``end``; its
    module is named on the lane (a box for projections and zero-padding)."""
    colour = KIND_COLOURS[sc.kind]
    dashed = "--" if sc.kind == "zero-pad" else "-"
    cv.path([start[0], lane, lane, end[0] + 0.17], [start[1], start[1], end[1], end[1]],
            colour, dashed)
    mid = (start[1] + end[1]) / 2
    if sc.kind == "identity":
        cv.text(lane + 0.15, mid, sc.text, fontsize=SMALL, ha="left", colour=colour,
                style="italic")
    else:
        fill = "#fff3e6" if sc.kind == "projection" else "#eaf6ea"
        cv.box(lane, mid, shortcut_label_width(sc), text_size(sc.text, SMALL)[1] + 0.25,
               sc.text, edge=colour, fill=fill, fontsize=SMALL, linestyle=dashed)
    cv.key(KIND_NAMES[sc.kind], colour, dashed)


def _io_text(shape: tuple[int, ...], spatial: bool) -> str:
    """A block's input or output: C×H×W, or "C-d" as in the paper's Fig. 5."""
    if not shape:
        return ""
    return shape_text(shape) if spatial else f"{shape[0]}-d"


def draw_block_on(cv: Canvas, view: Block, x: float, y: float, spatial: bool = True,
                  math: bool = False, width: float | None = None) -> float:
    """A block from its input (top) to its output: branch boxes, ⊕ and shortcut lane.

    ``spatial``: label tensors C×H×W (else "C-d", as the paper's Fig. 5); ``math``: add
    Fig. 2's F(x), F(x) + x and H(x). Returns the lowest y drawn.
    """
    width = width or box_width(view.branch)
    cv.text(x, y, ("$x$: " if math else "") + _io_text(view.in_shape, spatial), va="bottom")
    y, notes = chain(cv, x, y - 0.12, view.branch[:view.split], width)
    split = edge_down(cv, x, y, notes, arrow=False) if notes else y
    y, notes = chain(cv, x, split, view.branch[view.split:], width)
    if math:
        label = r"$\mathcal{F}(x)$" if view.shortcut else r"$\mathcal{H}(x)$"
        cv.text(x - width / 2 - 0.2, (split + y) / 2, label, ha="right", fontsize=FONT + 1)
    if view.shortcut is not None:
        y = sum_node(cv, x, y, notes)
        lane = x + width / 2 + 0.5 + shortcut_label_width(view.shortcut) / 2
        shortcut_lane(cv, view.shortcut, (x, split), (x, y), lane)
        if math:
            cv.text(x - 0.3, y, r"$\mathcal{F}(x) + x$", ha="right", fontsize=FONT + 1)
        y, notes = y - 0.17, [layer.text for layer in view.after]
    y = edge_down(cv, x, y, notes)
    cv.text(x, y - 0.05, _io_text(view.out_shape, spatial), va="top")
    return y - 0.5


def panel_title(cv: Canvas, x: float, y: float, title: str, subtitle: str = "") -> float:
    """A panel's title (and subtitle) above ``y``; returns where the panel starts."""
    cv.text(x, y, title, fontsize=FONT + 1, va="bottom", fontweight="bold")
    if subtitle:
        cv.text(x, y - 0.1, subtitle, fontsize=SMALL, va="top", colour="#444444")
        return y - 0.1 - text_size(subtitle, SMALL)[1] - 0.45
    return y - 0.45


def draw_plain_vs_residual(residual: nn.Module | None = None,
                           plain: nn.Module | None = None) -> Figure:
    """A plain block beside a residual block (He et al. 2016, Fig. 2).

    ``residual`` and ``plain`` are blocks or whole models (then their first block that keeps
    its shape is drawn). Default: a basic block on 64 channels with an identity shortcut;
    without ``plain``, the residual block's own layers without its shortcut.

    >>> draw_plain_vs_residual(build_model("resnet20"), build_model("plain20"))
    >>> draw_plain_vs_residual(MyBlock(16, 16))     # a student's block, and without shortcut
    """
    res = block_view(residual if residual is not None else BasicBlock(64, 64, shortcut="A"))
    flat = block_view(plain) if plain is not None else replace(
        res, branch=res.branch + res.after, after=[], shortcut=None, split=0)
    cv = Canvas()
    width = max(box_width(res.branch), box_width(flat.branch))
    panels = ((flat, "plain block", "the layers fit H(x) directly"),
              (res, "residual block", "the layers fit F(x) = H(x) − x"))
    for i, (view, title, subtitle) in enumerate(panels):
        x = i * (width + 5.0)
        draw_block_on(cv, view, x, panel_title(cv, x, 0, title, subtitle), spatial=False,
                      math=True, width=width)
    return cv.finish("plain vs residual block (He et al. 2016, Fig. 2)")


def draw_basic_vs_bottleneck(basic: nn.Module | None = None,
                             bottleneck: nn.Module | None = None) -> Figure:
    """A basic block beside a bottleneck block (He et al. 2016, Fig. 5).

    Defaults are the paper's: 3×3,64 -> 3×3,64 on 64-d, and 1×1,64 -> 3×3,64 -> 1×1,256 on
    256-d. Pass blocks or models (their first block that keeps its shape) to draw others:
    every channel number is read from the block's convolutions.

    >>> draw_basic_vs_bottleneck(bottleneck=build_model("resnet50"))
    """
    views = (block_view(basic if basic is not None else BasicBlock(64, 64)),
             block_view(bottleneck if bottleneck is not None else Bottleneck(256, 64)))
    cv = Canvas()
    width = max(box_width(v.branch) for v in views)
    for i, (view, title) in enumerate(zip(views, ("basic block", "bottleneck block"))):
        x = i * (width + 5.5)
        convs = sum(layer.box for layer in view.branch)
        subtitle = f"{type(view.module).__name__}: {convs} weight layers"
        draw_block_on(cv, view, x, panel_title(cv, x, 0, title, subtitle), spatial=False,
                      width=width)
    return cv.finish("basic vs bottleneck block (He et al. 2016, Fig. 5)")
