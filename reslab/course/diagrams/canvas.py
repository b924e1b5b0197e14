"""The drawing primitives: a canvas in diagram units, boxes, arrows, the ⊕ node, a legend.

Diagrams are drawn top to bottom in the manner of He et al. 2016, Figs. 2, 3 and 5: weight
layers are boxes ("3×3 conv, 64"), other layers are notes on the arrows between them, and a
shortcut joins the branch at a ⊕. One unit of a diagram is ``SCALE`` inches and
:meth:`Canvas.finish` sizes the figure to what was drawn, so text keeps its size whatever is
drawn. The colours come from the course's one look (:mod:`reslab.course.style`).
"""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib import patches
from matplotlib.figure import Figure

from reslab.course.diagrams.views import Layer
from reslab.course.style import PALETTE, style

# One unit of a diagram is SCALE inches, so text keeps its size whatever is drawn.
SCALE = 0.45
FONT = 10
SMALL = 8
BOX_H = 0.55
CONV_FILL, CONV_EDGE = "#dceaf7", PALETTE[0]
FC_FILL, FC_EDGE = "#eeeeee", "#555555"
KIND_COLOURS = {"identity": "#444444", "zero-pad": PALETTE[2], "projection": PALETTE[3],
                "other": PALETTE[5]}
KIND_NAMES = {"identity": "identity shortcut", "zero-pad": "zero-pad shortcut (option A)",
              "projection": "projection shortcut (conv)", "other": "other shortcut"}
MIDDLE_COLOUR, ROOT_COLOUR = PALETTE[4], PALETTE[1]
R_COLOUR, T_COLOUR = PALETTE[0], PALETTE[1]


def text_size(text: str, fontsize: float) -> tuple[float, float]:
    """Approximate width and height of ``text`` in diagram units."""
    lines = text.split("\n")
    em = fontsize / 72 / SCALE
    return max(len(s) for s in lines) * 0.58 * em, len(lines) * 1.25 * em


class Canvas:
    """One axes in diagram units; :meth:`finish` sizes the figure to what was drawn, so text
    has the same size in every diagram, and lays the legend out underneath."""

    def __init__(self) -> None:
        import matplotlib.pyplot as plt
        style()
        self.fig = plt.figure()
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.axis("off")
        self.lo, self.hi = [float("inf")] * 2, [float("-inf")] * 2
        self.legend: dict[str, tuple[str, str]] = {}

    def extend(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.lo = [min(self.lo[0], x0, x1), min(self.lo[1], y0, y1)]
        self.hi = [max(self.hi[0], x0, x1), max(self.hi[1], y0, y1)]

    def text(self, x: float, y: float, s: str, fontsize: float = FONT, ha: str = "center",
             va: str = "center", colour: str = "black", **kwargs) -> None:
        self.ax.text(x, y, s, fontsize=fontsize, ha=ha, va=va, color=colour, **kwargs)
        w, h = text_size(s, fontsize)
        if kwargs.get("rotation") == 90:
            w, h = h, w
        x0 = {"center": x - w / 2, "left": x, "right": x - w}[ha]
        y0 = {"center": y - h / 2, "top": y - h, "bottom": y, "baseline": y}[va]
        self.extend(x0, y0, x0 + w, y0 + h)

    def box(self, x: float, y: float, w: float, h: float, text: str = "",
            edge: str = CONV_EDGE, fill: str = CONV_FILL, fontsize: float = FONT,
            linestyle: str = "-", **kwargs) -> None:
        """A rounded box centred on (x, y)."""
        kwargs.setdefault("linewidth", 1.1)
        self.ax.add_patch(patches.FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
            facecolor=fill, edgecolor=edge, linestyle=linestyle, zorder=2, **kwargs))
        self.extend(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        if text:
            self.text(x, y, text, fontsize=fontsize, zorder=3)

    def path(self, xs: Sequence[float], ys: Sequence[float], colour: str = "black",
             linestyle: str = "-", width: float = 1.2, arrow: bool = True) -> None:
        """A polyline through the points, with an arrow head at its end (``arrow``)."""
        upto = len(xs) - 1 if arrow else len(xs)
        if upto >= 2:
            self.ax.plot(xs[:upto], ys[:upto], color=colour, linestyle=linestyle,
                         linewidth=width, zorder=1, solid_capstyle="butt")
        if arrow:
            self.ax.annotate("", xy=(xs[-1], ys[-1]), xytext=(xs[-2], ys[-2]), zorder=1,
                             arrowprops=dict(arrowstyle="-|>", color=colour, lw=width,
                                             linestyle=linestyle, shrinkA=0, shrinkB=0,
                                             mutation_scale=9))
        self.extend(min(xs), min(ys), max(xs), max(ys))

    def plus(self, x: float, y: float, r: float = 0.17, colour: str = "black") -> None:
        """The addition node ⊕."""
        self.ax.add_patch(patches.Circle((x, y), r, facecolor="white", edgecolor=colour,
                                         linewidth=1.1, zorder=2))
        self.ax.plot([x - r, x + r], [y, y], color=colour, linewidth=1.1, zorder=3)
        self.ax.plot([x, x], [y - r, y + r], color=colour, linewidth=1.1, zorder=3)
        self.extend(x - r, y - r, x + r, y + r)

    def key(self, label: str, colour: str, linestyle: str = "-") -> None:
        """Add an entry to the legend drawn under the diagram (once per label)."""
        self.legend.setdefault(label, (colour, linestyle))

    def _draw_legend(self) -> None:
        left, right = self.lo[0], max(self.hi[0], self.lo[0] + 8)
        x, y = left, self.lo[1] - 0.45
        for label, (colour, linestyle) in self.legend.items():
            width = 0.85 + text_size(label, SMALL)[0] + 0.6
            if x > left and x + width > right:
                x, y = left, y - 0.45
            self.path([x, x + 0.7], [y, y], colour, linestyle, width=1.8, arrow=False)
            self.text(x + 0.85, y, label, fontsize=SMALL, ha="left")
            x += width

    def finish(self, title: str = "") -> Figure:
        """Title on top, legend underneath, limits and figure size from what was drawn."""
        if self.legend:
            self._draw_legend()
        if title:
            self.text((self.lo[0] + self.hi[0]) / 2, self.hi[1] + 0.35, title,
                      fontsize=FONT + 1, va="bottom", fontweight="bold")
        margin = 0.3
        x0, y0 = self.lo[0] - margin, self.lo[1] - margin
        x1, y1 = self.hi[0] + margin, self.hi[1] + margin
        self.ax.set_xlim(x0, x1)
        self.ax.set_ylim(y0, y1)
        self.fig.set_size_inches((x1 - x0) * SCALE, (y1 - y0) * SCALE)
        return self.fig


def box_width(layers: Sequence[Layer], fontsize: float = FONT, least: float = 2.6) -> float:
    """One width for all the boxes of a column: the widest label's, and at least ``least``."""
    widths = [text_size(layer.text, fontsize)[0] for layer in layers if layer.box]
    return max([least, *[w + 0.5 for w in widths]])


def _box_colours(layer: Layer) -> dict[str, str]:
    conv = "conv" in layer.text
    return {"edge": CONV_EDGE if conv else FC_EDGE, "fill": CONV_FILL if conv else FC_FILL}


def edge_down(cv: Canvas, x: float, y: float, notes: Sequence[str], arrow: bool = True) -> float:
    """An arrow down from ``y`` with ``notes`` (BN, ReLU...) beside it; returns its end."""
    length = 0.66 if notes else 0.4
    cv.path([x, x], [y, y - length], arrow=arrow)
    if notes:
        cv.text(x + 0.15, y - length / 2, ", ".join(notes), fontsize=SMALL, ha="left",
                colour="#333333", style="italic")
    return y - length


def chain(cv: Canvas, x: float, y: float, layers: Sequence[Layer], width: float,
          notes: Sequence[str] = ()) -> tuple[float, list[str]]:
    """Weight layers as boxes from ``y`` down, other layers as notes on the arrows between.

    Returns the bottom of the last box and the notes still waiting for the next arrow.
    """
    pending = list(notes)
    for layer in layers:
        if not layer.box:
            pending.append(layer.text)
            continue
        y = edge_down(cv, x, y, pending)
        cv.box(x, y - BOX_H / 2, width, BOX_H, layer.text, **_box_colours(layer))
        y, pending = y - BOX_H, []
    return y, pending


def sum_node(cv: Canvas, x: float, y: float, notes: Sequence[str] = ()) -> float:
    """An arrow down into a ⊕; returns the ⊕'s centre."""
    y = edge_down(cv, x, y, notes) - 0.17
    cv.plus(x, y)
    return y
