"""Whole networks: the stages with measured tensor shapes, and the shortcut levels above the
blocks.

* :func:`draw_stages` -- stem, stages and head top to bottom with the shape between each
  (He et al. 2016, Fig. 3 and Sec. 4.2: 16×32×32 -> 32×16×16 -> 64×8×8 on CIFAR); each stage
  shows at most three of its blocks, each with its shortcut.
* :func:`draw_architecture` -- the same for any model, with one block drawn in full beside it
  (:mod:`~reslab.course.diagrams.block`, or RiR's two streams,
  :mod:`~reslab.course.diagrams.rir`), ResResNet's shortcut round every stage (Gelda et al.
  2016, Sec. III.A) and RoR's root-, middle- and final-level shortcuts (Zhang et al. 2017,
  Fig. 1). What differs by family is read from :mod:`~reslab.course.diagrams.families`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib import patches
from matplotlib.figure import Figure
from torch import nn

from reslab.course.diagrams.block import draw_block_on, panel_title
from reslab.course.diagrams.canvas import (CONV_EDGE, FONT, KIND_COLOURS, KIND_NAMES,
                                           MIDDLE_COLOUR, ROOT_COLOUR, SMALL, Canvas,
                                           box_width, chain, edge_down, sum_node, text_size)
from reslab.course.diagrams.families import caption, family
from reslab.course.diagrams.rir import STREAM_W, STREAM_X, draw_streams_on, generalized_convs
from reslab.course.diagrams.views import (Block, Net, block_view, is_network, read_block,
                                          read_net, shape_text)


@dataclass
class _Lanes:
    """x positions in a network column: blocks, their shortcuts, stage and root shortcuts."""

    x: float
    block_w: float

    @property
    def block(self) -> float:
        return self.x + self.block_w / 2 + 0.45

    @property
    def middle(self) -> float:
        return self.block + 0.65

    @property
    def root(self) -> float:
        return self.middle + 0.65


def _mini_block(cv: Canvas, view: Block, lanes: _Lanes, y: float, highlight: bool) -> float:
    """One block as a single box with its shortcut beside it; returns the y below it."""
    x, split = lanes.x, y - 0.1
    y = edge_down(cv, x, y, [])
    text = " → ".join(layer.short for layer in view.branch if layer.box)
    cv.box(x, y - 0.22, lanes.block_w, 0.44, text, fontsize=SMALL,
           edge="black" if highlight else CONV_EDGE, linewidth=2.2 if highlight else 1.1)
    y -= 0.44
    sc = view.shortcut
    if sc is None:
        return y
    y = edge_down(cv, x, y, []) - 0.14
    cv.plus(x, y, 0.14)
    colour, dashed = KIND_COLOURS[sc.kind], "--" if sc.kind == "zero-pad" else "-"
    cv.path([x, lanes.block, lanes.block, x + 0.14], [split, split, y, y], colour, dashed)
    if sc.kind == "projection":
        cv.box(lanes.block, (split + y) / 2, 0.22, 0.32, edge=colour, fill="#fff3e6")
    cv.key(KIND_NAMES[sc.kind], colour, dashed)
    return y - 0.14


def _shown_blocks(count: int) -> list[int | None]:
    """Indices of the blocks drawn for a stage of ``count``; ``None`` marks the ellipsis."""
    return list(range(count)) if count <= 3 else [0, 1, None, count - 1]


def _draw_stage(cv: Canvas, net: Net, i: int, lanes: _Lanes, y: float,
                expand: tuple[int, int] | None) -> float:
    """Stage ``i`` in a frame: at most three of its blocks, its name and its block count."""
    stage, top = net.stages[i], y
    for j in _shown_blocks(len(stage)):
        if j is None:
            cv.text(lanes.x, y - 0.3, "⋮", fontsize=FONT + 3)
            y -= 0.6
            continue
        y = _mini_block(cv, read_block(stage[j], net.trace), lanes, y, expand == (i, j))
    frame_x = lanes.x - lanes.block_w / 2 - 0.2
    cv.ax.add_patch(patches.FancyBboxPatch(
        (frame_x, y - 0.1), lanes.block + 0.2 - frame_x, top - y + 0.05,
        boxstyle="round,pad=0,rounding_size=0.12", facecolor="#f5f5f5",
        edgecolor="#bbbbbb", linewidth=0.8, zorder=0))
    name = f"stage {i + 1}\n{len(stage)} × {type(stage[0]).__name__}"
    cv.text(frame_x - 0.15, (top + y) / 2, name, fontsize=SMALL, ha="right")
    return y - 0.1


LEVEL_NAMES = {"root": "root-level shortcut", "middle": "middle-level shortcut (per stage)",
               "stage": "stage shortcut (per stage)"}


def _level(cv: Canvas, sc: Shortcut, lane: float, x: float, top: float, bottom: float,
           colour: str, name: str) -> None:
    """A shortcut above the blocks (a stage's or the root), from ``top`` round to a ⊕."""
    dashed = "--" if sc.kind == "zero-pad" else "-"
    cv.path([x, lane, lane, x + 0.17], [top, top, bottom, bottom], colour, dashed, width=1.5)
    cv.text(lane + 0.13, (top + bottom) / 2, f"{name}: {sc.text}".replace("\n", " "),
            fontsize=SMALL - 0.5, ha="left", rotation=90, colour=colour)
    cv.key(LEVEL_NAMES[name], colour, dashed)


def _levels(cv: Canvas, net: Net, i: int, lanes: _Lanes, top: float, y: float,
            root_top: float) -> float:
    """Stage ``i``'s middle-level (stage) shortcut and, after the last stage, the root's."""
    middle = net.middle[i] if net.middle else None
    if middle is not None:
        y = sum_node(cv, lanes.x, y)
        _level(cv, middle, lanes.middle, lanes.x, top, y, MIDDLE_COLOUR,
               family(net.model).stage_level)
        y -= 0.17
    if net.root is not None and i == len(net.stages) - 1:
        y = sum_node(cv, lanes.x, y)
        _level(cv, net.root, lanes.root, lanes.x, root_top, y, ROOT_COLOUR, "root")
        y -= 0.17
    return y


def _shape_edge(cv: Canvas, x: float, y: float, shape: tuple[int, ...],
                notes: Sequence[str], length: float = 0.44) -> float:
    """A line labelled with the tensor shape it carries (measured by the trace); longer
    where stage or root shortcuts leave it, below the labels."""
    cv.text(x - 0.2, y - 0.22, shape_text(shape), fontsize=SMALL + 0.5, ha="right",
            fontweight="bold")
    if notes:
        cv.text(x + 0.15, y - 0.22, ", ".join(notes), fontsize=SMALL, ha="left",
                colour="#333333", style="italic")
    cv.path([x, x], [y, y - length], arrow=False)
    return y - length


def _draw_network(cv: Canvas, net: Net, x: float, y: float,
                  expand: tuple[int, int] | None = None) -> float:
    """Input, stem, stages (with the shapes between them), head and output, top to bottom."""
    shorts = [" → ".join(la.short for la in read_block(s[0], net.trace).branch if la.box)
              for s in net.stages]
    lanes = _Lanes(x, max(2.4, *[text_size(s, SMALL)[0] + 0.4 for s in shorts]))
    stem_w = box_width([*net.stem, *net.head])
    cv.text(x, y, f"input {shape_text(net.input_shape)}", va="bottom")
    y, notes = chain(cv, x, y - 0.1, net.stem, stem_w)
    length = 0.95 if net.root is not None or any(net.middle) else 0.44
    root_top = y - 0.5
    for i in range(len(net.stages)):
        y = _shape_edge(cv, x, y, net.stem_shape if i == 0 else net.stage_shapes[i - 1],
                        notes, length)
        stage_y = y
        y = _draw_stage(cv, net, i, lanes, y, expand)
        y_sum = _levels(cv, net, i, lanes, stage_y + 0.18, y, root_top)
        notes = [la.text for la in net.stage_activation] if y_sum != y else []
        y = y_sum
    y = _shape_edge(cv, x, y, net.stage_shapes[-1], notes)
    y, notes = chain(cv, x, y, net.head, stem_w)
    y = edge_down(cv, x, y, notes)
    cv.text(x, y - 0.05, f"output {shape_text(net.output_shape)}", va="top")
    return y - 0.5


def _title(model: nn.Module) -> str:
    """The figure's title: the model's name and depth, then its family's caption."""
    name = getattr(model, "reslab_name", type(model).__name__)
    depth = getattr(model, "depth", None)
    return f"{name}{f', {depth} layers' if depth else ''}\n{caption(model)}"


def draw_stages(model: nn.Module, input_shape: Sequence[int] | None = None) -> Figure:
    """A network's stages, top to bottom, with the tensor shape between each (He et al. 2016,
    Fig. 3 and Sec. 4.2: 16×32×32 -> 32×16×16 -> 64×8×8 on CIFAR).

    Shapes are measured by running a dummy image through the model
    (:func:`~reslab.course.diagrams.views.tensor_shapes`); each stage shows at most three of
    its blocks, each with its shortcut.

    >>> draw_stages(build_model("resnet56"))
    """
    cv = Canvas()
    _draw_network(cv, read_net(model, input_shape), 0.0, 0.0)
    return cv.finish(_title(model))


def draw_architecture(model: nn.Module, input_shape: Sequence[int] | None = None,
                      expand: tuple[int, int] | None = None) -> Figure:
    """Any reslab model, drawn from its modules: stages with measured shapes, one block in full.

    * CIFAR and ImageNet ResNets, plain nets, Pre-ResNets, WRNs (He et al. 2016, Fig. 3):
      stem, stages ("n × block", at most three drawn, each with its shortcut), head.
    * ResResNet (Gelda et al. 2016): also the shortcut round each stage.
    * RoR (Zhang et al. 2017, Fig. 1): root-level, middle-level and final-level shortcuts.
    * RiR (Targ et al. 2016, Figs. 1-2): the block in full shows the two streams.

    ``expand=(stage, block)`` picks the block drawn in full (default: the first block of the
    second stage, where dimensions grow). A module without ``.stages`` is drawn as a block.

    >>> draw_architecture(build_model("ror3_resnet110"))
    """
    if not is_network(model):
        cv = Canvas()
        draw_block_on(cv, block_view(model), 0.0, 0.0)
        return cv.finish(type(model).__name__)
    net, cv = read_net(model, input_shape), Canvas()
    expand = expand or ((1, 0) if len(net.stages) > 1 else (0, 0))
    _draw_network(cv, net, 0.0, 0.0, expand)
    block, right = net.stages[expand[0]][expand[1]], cv.hi[0]
    title = (f"stage {expand[0] + 1}, block {expand[1] + 1}",
             f"{type(block).__name__}, drawn in full")
    if generalized_convs(block):
        x = right + STREAM_X + STREAM_W / 2 + 2.2
        draw_streams_on(cv, block, net.trace, x, panel_title(cv, x, 0.0, *title))
    else:
        view = read_block(block, net.trace)
        x = right + box_width(view.branch) / 2 + 1.0
        draw_block_on(cv, view, x, panel_title(cv, x + 1.0, 0.0, *title))
    return cv.finish(_title(model))
