"""RiR: a residual stream r and a transient stream t (Targ et al. 2016, Figs. 1-2).

Each generalized residual layer is drawn as Eq. 1 reads: four convolutions r→r, t→r, r→t,
t→t, the identity on r only, then BN and ReLU per stream; RiR's outer ResNet shortcut runs
round the layers of a block (Fig. 1d).

* :func:`draw_rir_block` -- one block of a RiR or ResNet Init net, its two streams (Fig. 1);
* :func:`draw_rir_architectures` -- one block of each net of Fig. 2: CNN, ResNet, ResNet Init
  and RiR.

:func:`draw_streams_on` also draws the block in full of
:func:`~reslab.course.diagrams.network.draw_architecture` for these nets.
"""
from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure
from torch import nn

from reslab.course.diagrams.block import (draw_block_on, panel_title, shortcut_label_width,
                                          shortcut_lane)
from reslab.course.diagrams.canvas import (KIND_COLOURS, R_COLOUR, SMALL, T_COLOUR, Canvas,
                                           edge_down, sum_node)
from reslab.course.diagrams.families import RIR_NAMES
from reslab.course.diagrams.trace import Trace
from reslab.course.diagrams.views import (Shortcut, find_block, read_block, read_layers,
                                          shape_text)
from reslab.models.rir import GeneralizedResidualConv


STREAM_X, STREAM_W = 1.55, 2.3  # each stream's offset from the centre, and its width


def generalized_convs(block: nn.Module) -> list[GeneralizedResidualConv]:
    """The generalized residual layers inside ``block`` (none: draw it as a plain block)."""
    return [m for m in block.modules() if isinstance(m, GeneralizedResidualConv)]


def _stream_boxes(cv: Canvas, x: float, y: float, r: int, t: int,
                  shape: tuple[int, ...]) -> float:
    """The r and t tensors side by side under ``y``; returns the y below them."""
    size = "".join(f"×{s}" for s in shape)
    for dx, name, chans, colour, fill in ((-STREAM_X, "r", r, R_COLOUR, "#dceaf7"),
                                          (STREAM_X, "t", t, T_COLOUR, "#fbe1e1")):
        cv.box(x + dx, y - 0.23, STREAM_W, 0.46, f"{name}: {chans}{size}", edge=colour,
               fill=fill, fontsize=SMALL)
    return y - 0.46


def _cross(cv: Canvas, x: float, top: float, bottom: float) -> None:
    """The four convolutions r→r, t→r, r→t, t→t of a generalized residual block (Eq. 1)."""
    xs = (x - STREAM_X, x + STREAM_X)
    for src, dst in ((0, 0), (1, 1), (0, 1), (1, 0)):
        colour = (R_COLOUR, T_COLOUR)[src]
        x1 = xs[dst] + (0 if src == dst else 0.12 if src > dst else -0.12)
        cv.path([xs[src], x1], [top, bottom + (0 if src == dst else 0.12)], colour)
        frac = 0.4 if src == dst else 0.75
        lx, ly = xs[src] + (x1 - xs[src]) * frac, top + (bottom - top) * frac
        ha = "center" if src != dst else ("right", "left")[src]
        lx += 0 if src != dst else (-0.1, 0.1)[src]
        cv.text(lx, ly, f"{'rt'[src]}→{'rt'[dst]}", fontsize=SMALL, ha=ha, colour=colour,
                bbox=dict(facecolor="white", edgecolor="none", pad=0.4))


def _stream_layer(cv: Canvas, x: float, y: float, conv: GeneralizedResidualConv,
                  notes: str, out_shape: tuple[int, ...]) -> float:
    """One generalized residual block: four cross convolutions, the identity on r, then
    BN-ReLU per stream. Returns the y below its output tensors."""
    xs, bottom = (x - STREAM_X, x + STREAM_X), y - 1.7
    _cross(cv, x, y, bottom + 0.17)
    lane = xs[0] - STREAM_W / 2 - 0.45
    colour = KIND_COLOURS["identity"]
    cv.path([xs[0] - STREAM_W / 2, lane, lane, xs[0] - 0.17],
            [y + 0.23, y + 0.23, bottom, bottom], colour, "--")
    cv.text(lane - 0.1, (y + bottom) / 2, "identity\n(r only)", fontsize=SMALL, ha="right",
            colour=colour, style="italic")
    for x_s in xs:
        cv.plus(x_s, bottom)
        edge_down(cv, x_s, bottom - 0.17, [notes])
    r = conv.residual_channels
    y = _stream_boxes(cv, x, bottom - 0.17 - 0.66, r, conv.out_channels - r, out_shape)
    cv.key("residual stream r", R_COLOUR)
    cv.key("transient stream t", T_COLOUR)
    return y


def _outer_shortcut(cv: Canvas, sc: Shortcut, x: float, top: float, y_sum: float) -> None:
    """RiR's outer ResNet shortcut, from the block's input round to the ⊕ on its output."""
    right = x + STREAM_X + STREAM_W / 2
    lane = right + 0.5 + shortcut_label_width(sc) / 2
    shortcut_lane(cv, sc, (right, top), (x, y_sum), lane)
    cv.text(right + 0.1, top + 0.08, "outer shortcut", fontsize=SMALL, va="bottom",
            ha="left", colour=KIND_COLOURS[sc.kind])


def draw_streams_on(cv: Canvas, block: nn.Module, trace: Trace, x: float, y: float) -> float:
    """A block of generalized residual layers as two streams, with RiR's outer shortcut if
    it has one (Targ et al. 2016, Fig. 1). Returns the lowest y drawn."""
    view = read_block(block, trace)
    layers = [m for m in block.modules() if isinstance(m, nn.Sequential) and len(m)
              and isinstance(m[0], GeneralizedResidualConv)]
    wide = 2 * STREAM_X + STREAM_W
    cv.box(x, y - 0.25, wide, 0.5, f"x = [r; t]: {shape_text(view.in_shape)}",
           edge="#555555", fill="white")
    top = y - 0.25
    for dx in (-STREAM_X, STREAM_X):
        cv.path([x + dx] * 2, [y - 0.5, y - 0.9])
    half = layers[0][0].in_channels // 2
    y = _stream_boxes(cv, x, y - 0.9, half, layers[0][0].in_channels - half, view.in_shape[1:])
    for layer in layers:
        notes = ", ".join(la.text for la in read_layers(trace.leaves(layer)) if not la.box)
        y = _stream_layer(cv, x, y, layer[0], notes, trace.of(layer).out_shape[1:])
    for dx in (-STREAM_X, STREAM_X):
        cv.path([x + dx] * 2, [y, y - 0.4])
    cv.box(x, y - 0.65, wide, 0.5, f"[r; t]: {shape_text(view.out_shape)}", edge="#555555",
           fill="white")
    y -= 0.9
    if view.shortcut is not None:
        y = sum_node(cv, x, y)
        _outer_shortcut(cv, view.shortcut, x, top, y)
        y -= 0.17
    y = edge_down(cv, x, y, [la.text for la in view.after])
    cv.text(x, y - 0.05, shape_text(view.out_shape), va="top")
    return y - 0.5


def draw_rir_block(block: nn.Module | None = None) -> Figure:
    """One RiR block: the residual stream r (with its identity) and the transient stream t,
    the four cross convolutions r→r, t→r, r→t, t→t of each generalized residual layer, and
    the outer ResNet shortcut round the layers (Targ et al. 2016, Fig. 1 and Eq. 1).

    ``block``: a RiR (or ResNet Init) block or model; default ``build_model("rir32")``, whose
    first block is drawn.

    >>> draw_rir_block(build_model("rir18w"))
    """
    from reslab.models import build_model
    module, trace = find_block(block if block is not None else build_model("rir32"), False)
    if not generalized_convs(module):
        raise ValueError("draw_rir_block draws generalized residual layers (RiR or ResNet "
                         "Init); this block has none: use draw_architecture")
    cv = Canvas()
    y = panel_title(cv, 0.0, 0.0, type(module).__name__,
                    "each layer (Eq. 1): r' = σ(r→r + t→r + r),  t' = σ(r→t + t→t),  σ: BN, ReLU")
    draw_streams_on(cv, module, trace, 0.0, y)
    return cv.finish("RiR: residual and transient streams (Targ et al. 2016, Fig. 1)")


def draw_rir_architectures(models: Mapping[str, nn.Module] | None = None) -> Figure:
    """One block of each net of Targ et al. 2016, Fig. 2: CNN, ResNet (outer shortcut),
    ResNet Init (two streams) and RiR (both).

    Default: the 32-layer nets ``cnn32``, ``rir_resnet32``, ``resnet_init32`` and ``rir32``.

    >>> draw_rir_architectures()
    """
    from reslab.models import build_model
    if models is None:
        models = {RIR_NAMES[a]: build_model(n) for a, n in (
            ("cnn", "cnn32"), ("resnet", "rir_resnet32"), ("resnet_init", "resnet_init32"),
            ("rir", "rir32"))}
    cv, x = Canvas(), 0.0
    for label, model in models.items():
        block, trace = find_block(model, transition=False)
        if generalized_convs(block):
            x += STREAM_X + STREAM_W / 2 + 1.6
            draw_streams_on(cv, block, trace, x, panel_title(cv, x, 0.0, label))
        else:
            x += 1.6
            draw_block_on(cv, read_block(block, trace), x, panel_title(cv, x, 0.0, label))
        x = cv.hi[0] + 1.0
    return cv.finish("CNN, ResNet, ResNet Init and RiR blocks (Targ et al. 2016, Fig. 2)")
