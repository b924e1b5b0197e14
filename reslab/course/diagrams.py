"""Architecture diagrams drawn from the model objects themselves (matplotlib only).

Nothing here is a fixed picture. One forward pass of a dummy batch, with hooks on every
module, records which layers run, in which order and on which tensor shapes; the drawings read
the layers, the shortcut modules (:mod:`reslab.models.shortcuts`) and the shapes from that
trace. Any depth, width, block or shortcut option is drawn as it was built (operations called
as functions, such as ``F.relu``, are not modules and are not drawn).

* :func:`draw_plain_vs_residual` -- a plain and a residual block (He et al. 2016, Fig. 2).
* :func:`draw_shortcut_options` -- options A, B and C (He et al. 2016, Sec. 3.3), with
  option A's zero-padded channels drawn channel by channel.
* :func:`draw_basic_vs_bottleneck` -- basic and bottleneck blocks (He et al. 2016, Fig. 5).
* :func:`draw_stages` -- a network's stages with measured tensor shapes (Fig. 3, Sec. 4.2).
* :func:`draw_rir_block`, :func:`draw_rir_architectures` -- RiR's residual and transient
  streams (Targ et al. 2016, Figs. 1 and 2).
* :func:`draw_architecture` -- any model: stages with shapes, the stage-level shortcuts of
  ResResNet (Gelda et al. 2016), RoR's root, middle and final levels (Zhang et al. 2017,
  Fig. 1), and one block expanded (two streams for RiR).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
from matplotlib import patches
from matplotlib.figure import Figure
from torch import nn

from reslab.models.blocks import BasicBlock, Bottleneck, StochasticDepth
from reslab.models.imagenet import ImageNetResNet
from reslab.models.multilevel import MultilevelNet
from reslab.models.preact import PreActResNet
from reslab.models.rir import GeneralizedResidualConv, RiRNet
from reslab.models.ror import RoR
from reslab.models.shortcuts import ZeroPadShortcut
from reslab.course.style import PALETTE, style

# ---------------------------------------------------------------------------------------------
# Style: one unit of a diagram is SCALE inches, so text keeps its size whatever is drawn.
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


# ---------------------------------------------------------------------------------------------
# Reading a model: a trace of one forward pass.

@dataclass
class _Call:
    """One module call of the traced forward pass (shapes without the batch dimension).

    ``in_id`` and ``out_id`` are the Python ids of its input and output tensors: they tell
    which layer's output a shortcut reads.
    """

    order: int
    module: nn.Module
    in_shape: tuple[int, ...]
    in_id: int
    out_shape: tuple[int, ...] = ()
    out_id: int = -1


def _first(value):
    return value[0] if isinstance(value, (tuple, list)) and value else value


def _shape(value) -> tuple[int, ...]:
    value = _first(value)
    return tuple(value.shape[1:]) if isinstance(value, torch.Tensor) else ()


def _is_leaf(module: nn.Module) -> bool:
    return next(module.children(), None) is None


class _Trace:
    """Every module call of ``module(x)`` in call order, recorded with forward hooks.

    The module runs once in eval mode without gradients (BN statistics are not touched) and
    is put back in its previous mode.
    """

    def __init__(self, module: nn.Module, x: torch.Tensor) -> None:
        self.calls: list[_Call] = []
        stack: list[_Call] = []

        def before(mod: nn.Module, args) -> None:
            stack.append(_Call(len(self.calls), mod, _shape(args), id(_first(args))))
            self.calls.append(stack[-1])

        def after(mod: nn.Module, args, out) -> None:
            call = stack.pop()
            call.out_shape, call.out_id = _shape(out), id(_first(out))

        handles = [h for m in module.modules() for h in (
            m.register_forward_pre_hook(before), m.register_forward_hook(after))]
        was_training = module.training
        try:
            module.eval()
            with torch.no_grad():
                module(x)
        finally:
            module.train(was_training)
            for handle in handles:
                handle.remove()
        self.by_id: dict[int, list[_Call]] = {}
        for call in self.calls:
            self.by_id.setdefault(id(call.module), []).append(call)

    def of(self, module: nn.Module | None) -> _Call | None:
        """The first call of ``module`` (``None`` if it never ran)."""
        calls = self.by_id.get(id(module)) if module is not None else None
        return calls[0] if calls else None

    def leaves(self, module: nn.Module) -> list[_Call]:
        """Calls of the leaf modules inside ``module``, in call order."""
        found = [c for m in module.modules() if _is_leaf(m) for c in self.by_id.get(id(m), [])]
        return sorted(found, key=lambda c: c.order)


def _dummy_input(model: nn.Module, input_shape: Sequence[int] | None) -> torch.Tensor:
    """One all-zero image of the size the model was built for (ImageNet: 224, else 32)."""
    if input_shape is None:
        size = getattr(model, "input_size", None) or (
            224 if isinstance(model, ImageNetResNet) else 32)
        input_shape = (getattr(model, "in_channels", 3), size, size)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.zeros(1, *input_shape, device=device, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# What is drawn: layers, shortcuts, blocks and whole networks, read from the trace.

@dataclass
class _Layer:
    """A layer as drawn: weight layers (conv, fc) are boxes, the rest notes on the arrows."""

    text: str
    short: str
    box: bool


@dataclass
class _Shortcut:
    """A shortcut as drawn: its kind, its label and the shapes it maps."""

    kind: str  # "identity", "zero-pad", "projection" or "other"
    text: str
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()


@dataclass
class _Block:
    """One residual (or plain) block: its branch, what follows the addition, its shortcut."""

    module: nn.Module
    branch: list[_Layer]
    after: list[_Layer]
    shortcut: _Shortcut | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    split: int = 0  # the shortcut leaves after this many branch layers (pre-activation: 2)


@dataclass
class _Net:
    """A staged network: stem, stages (their blocks and shapes), head, extra shortcut levels."""

    model: nn.Module
    trace: _Trace
    input_shape: tuple[int, ...]
    stem: list[_Layer]
    stem_shape: tuple[int, ...]
    stages: list[nn.Module]
    stage_shapes: list[tuple[int, ...]]
    head: list[_Layer]
    output_shape: tuple[int, ...]
    middle: list[_Shortcut | None] = field(default_factory=list)
    root: _Shortcut | None = None
    stage_activation: list[_Layer] = field(default_factory=list)


def _conv_layer(m: nn.Conv2d) -> _Layer:
    k, s = m.kernel_size[0], m.stride[0]
    stride = f", /{s}" if s > 1 else ""
    gen = "gen. " if isinstance(m, GeneralizedResidualConv) else ""
    return _Layer(f"{k}×{k} {gen}conv, {m.out_channels}{stride}",
                  f"{'gen ' if gen else ''}{k}×{k}, {m.out_channels}{stride}", True)


def _layer(m: nn.Module) -> _Layer | None:
    """How one leaf module is drawn (``None``: not drawn, e.g. an identity or a flatten)."""
    if isinstance(m, nn.Conv2d):
        return _conv_layer(m)
    if isinstance(m, nn.Linear):
        return _Layer(f"fc {m.out_features}", f"fc {m.out_features}", True)
    if isinstance(m, nn.MaxPool2d):
        k, s = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride))
        return _Layer(f"{k}×{k} max pool, /{s}", "max pool", False)
    if isinstance(m, StochasticDepth):
        p = m.survival_prob
        return _Layer(f"drop (p={p:.2f})", "drop", False) if p < 1 else None
    if isinstance(m, nn.Dropout):
        return _Layer(f"dropout {m.p:g}", "dropout", False) if m.p > 0 else None
    if isinstance(m, nn.Identity | nn.Flatten):
        return None
    names = {nn.BatchNorm2d: "BN", nn.ReLU: "ReLU", nn.AdaptiveAvgPool2d: "avg pool",
             nn.AvgPool2d: "avg pool", nn.GroupNorm: "GN"}
    name = names.get(type(m), type(m).__name__)
    return _Layer(name, name, False)


def _layers(calls: Sequence[_Call]) -> list[_Layer]:
    return [layer for c in calls if (layer := _layer(c.module)) is not None]


def _shortcut_kind(module: nn.Module | None) -> str | None:
    """``None`` (no shortcut: a plain block), "identity", "zero-pad" (option A),
    "projection" (any shortcut with a convolution, e.g. a student's) or "other"."""
    if module is None:
        return None
    if isinstance(module, nn.Identity):
        return "identity"
    if isinstance(module, ZeroPadShortcut):
        return "zero-pad"
    if any(isinstance(m, nn.Conv2d) for m in module.modules()):
        return "projection"
    return "other"


def _shortcut(module: nn.Module | None, call: _Call | None) -> _Shortcut | None:
    """A shortcut module as drawn; ``call`` (its traced call) gives its shapes."""
    kind = _shortcut_kind(module)
    if kind is None or call is None:
        return None
    if kind == "identity":
        text = "identity"
    elif kind == "zero-pad":
        extra = module.out_channels - module.in_channels
        sub = f"subsample /{module.stride}\n" if module.stride > 1 else ""
        text = f"{sub}+ {extra} zero channels"
    else:  # a projection's layers ("1×1 conv, 32, /2 + BN"), or the module's class
        layers = [la.text for m in module.modules() if _is_leaf(m) and (la := _layer(m))]
        text = " + ".join(layers) or type(module).__name__
    return _Shortcut(kind, text, call.in_shape, call.out_shape)


def _block(block: nn.Module, trace: _Trace) -> _Block:
    """Read one block from the trace: branch layers, post-addition layers, shortcut.

    With a shortcut, the activations after the branch's last weight or normalisation layer
    act on the sum (post-activation blocks); a plain block keeps them in its branch.
    """
    module = getattr(block, "shortcut", None)
    skip = {id(m) for m in module.modules()} if module is not None else set()
    calls = [c for c in trace.leaves(block) if id(c.module) not in skip]
    branch = _layers(calls)
    after: list[_Layer] = []
    sc = _shortcut(module, trace.of(module))
    while sc is not None and branch and branch[-1].text == "ReLU":
        after.insert(0, branch.pop())
    call = trace.of(block)
    view = _Block(block, branch, after, sc, call.in_shape, call.out_shape)
    if sc is not None:
        view.split = _split(calls, trace.of(module))
    return view


def _split(branch: Sequence[_Call], shortcut: _Call) -> int:
    """How many drawn branch layers run before the tensor the shortcut reads: 0 when it reads
    the block's input, 2 when it reads BN-ReLU's output (pre-activation projections)."""
    producers = [c for c in branch if c.order < shortcut.order and c.out_id == shortcut.in_id]
    if not producers:
        return 0
    return len(_layers([c for c in branch if c.order <= producers[-1].order]))


def _net(model: nn.Module, input_shape: Sequence[int] | None = None) -> _Net:
    """Trace ``model`` (anything with ``.stages``) and read its stem, stages, head and levels."""
    x = _dummy_input(model, input_shape)
    trace = _Trace(model, x)
    stages = list(model.stages)
    inside = {id(m) for part in (*stages, getattr(model, "middle", None),
                                 getattr(model, "root", None),
                                 getattr(model, "stage_activation", None))
              if part is not None for m in part.modules()}
    first, last = trace.of(stages[0]).order, trace.leaves(stages[-1])[-1].order
    leaves = [c for c in trace.calls if _is_leaf(c.module) and id(c.module) not in inside]
    stem = [c for c in leaves if c.order < first]
    net = _Net(model, trace, tuple(x.shape[1:]), _layers(stem),
               trace.of(stages[0]).in_shape, stages,
               [trace.of(s).out_shape for s in stages],
               _layers([c for c in leaves if c.order > last]), trace.calls[0].out_shape)
    if isinstance(model, MultilevelNet):
        net.middle = [_shortcut(m, trace.of(m)) for m in model.middle]
        net.root = _shortcut(model.root, trace.of(model.root))
        net.stage_activation = _layers(trace.by_id.get(id(model.stage_activation), [])[:1])
    return net


def tensor_shapes(model: nn.Module,
                  input_shape: Sequence[int] | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """The shapes drawn by :func:`draw_stages`, measured with forward hooks on a dummy image.

    ``[("input", (3, 32, 32)), ("stem", (16, 32, 32)), ("stage 1", (16, 32, 32)), ...,
    ("output", (10,))]`` -- without the batch dimension.
    """
    net = _net(model, input_shape)
    stages = [(f"stage {i + 1}", s) for i, s in enumerate(net.stage_shapes)]
    return [("input", net.input_shape), ("stem", net.stem_shape), *stages,
            ("output", net.output_shape)]


def shape_text(shape: Sequence[int]) -> str:
    """``(16, 32, 32)`` -> ``"16×32×32"`` (channels × height × width), as the diagrams write it."""
    return "×".join(str(s) for s in shape)


def shortcut_option(model: nn.Module) -> str | None:
    """The shortcut option a model's blocks were built with: "A", "B", "C" or ``None`` (plain).

    Read from the shortcut modules: any zero-padding means A; projections everywhere mean C;
    projections only somewhere mean B; identities only are A (and B: nothing grows).
    """
    kinds = [_shortcut_kind(getattr(b, "shortcut", None)) for b in _all_blocks(model)]
    if all(k is None for k in kinds):
        return None
    if "zero-pad" in kinds:
        return "A"
    if all(k == "projection" for k in kinds):
        return "C"
    return "B" if "projection" in kinds else "A"


def _all_blocks(model: nn.Module) -> list[nn.Module]:
    return [block for stage in model.stages for block in stage]


def _is_network(module: nn.Module) -> bool:
    return hasattr(module, "stages")


def _find_block(module: nn.Module, transition: bool) -> tuple[nn.Module, _Trace]:
    """A block to draw and the trace that measured it.

    From a staged network (traced whole, so shapes are the real ones): its first block
    whose shape changes (``transition``) or its first that keeps it. Any other module is
    a block already, traced alone on an 8x8 input.
    """
    if not _is_network(module):
        return module, _Trace(module, _dummy_block_input(module))
    trace = _Trace(module, _dummy_input(module, None))
    blocks = _all_blocks(module)
    for b in blocks:
        call = trace.of(b)
        if (call.in_shape != call.out_shape) == transition:
            return b, trace
    return blocks[0], trace


def _dummy_block_input(block: nn.Module) -> torch.Tensor:
    """An all-zero 8x8 input with the channels of the block's first conv or BN."""
    first = next(m for m in block.modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d))
    channels = first.in_channels if isinstance(first, nn.Conv2d) else first.num_features
    param = next(block.parameters())
    return torch.zeros(1, channels, 8, 8, device=param.device, dtype=param.dtype)


def _block_view(module: nn.Module, transition: bool = False) -> _Block:
    """The drawn view of a block, or of a network's first (``transition``) block."""
    block, trace = _find_block(module, transition)
    return _block(block, trace)


# ---------------------------------------------------------------------------------------------
# Drawing primitives.

def _text_size(text: str, fontsize: float) -> tuple[float, float]:
    """Approximate width and height of ``text`` in diagram units."""
    lines = text.split("\n")
    em = fontsize / 72 / SCALE
    return max(len(s) for s in lines) * 0.58 * em, len(lines) * 1.25 * em


class _Canvas:
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
        w, h = _text_size(s, fontsize)
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
            width = 0.85 + _text_size(label, SMALL)[0] + 0.6
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


def _box_width(layers: Sequence[_Layer], fontsize: float = FONT, least: float = 2.6) -> float:
    widths = [_text_size(layer.text, fontsize)[0] for layer in layers if layer.box]
    return max([least, *[w + 0.5 for w in widths]])


def _box_colours(layer: _Layer) -> dict[str, str]:
    conv = "conv" in layer.text
    return {"edge": CONV_EDGE if conv else FC_EDGE, "fill": CONV_FILL if conv else FC_FILL}


def _edge(cv: _Canvas, x: float, y: float, notes: Sequence[str], arrow: bool = True) -> float:
    """An arrow down from ``y`` with ``notes`` (BN, ReLU...) beside it; returns its end."""
    length = 0.66 if notes else 0.4
    cv.path([x, x], [y, y - length], arrow=arrow)
    if notes:
        cv.text(x + 0.15, y - length / 2, ", ".join(notes), fontsize=SMALL, ha="left",
                colour="#333333", style="italic")
    return y - length


def _chain(cv: _Canvas, x: float, y: float, layers: Sequence[_Layer], width: float,
           notes: Sequence[str] = ()) -> tuple[float, list[str]]:
    """Weight layers as boxes from ``y`` down, other layers as notes on the arrows between.

    Returns the bottom of the last box and the notes still waiting for the next arrow.
    """
    pending = list(notes)
    for layer in layers:
        if not layer.box:
            pending.append(layer.text)
            continue
        y = _edge(cv, x, y, pending)
        cv.box(x, y - BOX_H / 2, width, BOX_H, layer.text, **_box_colours(layer))
        y, pending = y - BOX_H, []
    return y, pending


def _sum_node(cv: _Canvas, x: float, y: float, notes: Sequence[str] = ()) -> float:
    """An arrow down into a ⊕; returns the ⊕'s centre."""
    y = _edge(cv, x, y, notes) - 0.17
    cv.plus(x, y)
    return y


# ---------------------------------------------------------------------------------------------
# One block, top to bottom, as in He et al. 2016, Figs. 2 and 5.

def _shortcut_label_width(sc: _Shortcut) -> float:
    return 0.0 if sc.kind == "identity" else _text_size(sc.text, SMALL)[0] + 0.35


def _shortcut_lane(cv: _Canvas, sc: _Shortcut, start: tuple[float, float],
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
        cv.box(lane, mid, _shortcut_label_width(sc), _text_size(sc.text, SMALL)[1] + 0.25,
               sc.text, edge=colour, fill=fill, fontsize=SMALL, linestyle=dashed)
    cv.key(KIND_NAMES[sc.kind], colour, dashed)


def _io_text(shape: tuple[int, ...], spatial: bool) -> str:
    if not shape:
        return ""
    return shape_text(shape) if spatial else f"{shape[0]}-d"


def _draw_block(cv: _Canvas, view: _Block, x: float, y: float, spatial: bool = True,
                math: bool = False, width: float | None = None) -> float:
    """A block from its input (top) to its output: branch boxes, ⊕ and shortcut lane.

    ``spatial``: label tensors C×H×W (else "C-d", as the paper's Fig. 5); ``math``: add
    Fig. 2's F(x), F(x) + x and H(x). Returns the lowest y drawn.
    """
    width = width or _box_width(view.branch)
    cv.text(x, y, ("$x$: " if math else "") + _io_text(view.in_shape, spatial), va="bottom")
    y, notes = _chain(cv, x, y - 0.12, view.branch[:view.split], width)
    split = _edge(cv, x, y, notes, arrow=False) if notes else y
    y, notes = _chain(cv, x, split, view.branch[view.split:], width)
    if math:
        label = r"$\mathcal{F}(x)$" if view.shortcut else r"$\mathcal{H}(x)$"
        cv.text(x - width / 2 - 0.2, (split + y) / 2, label, ha="right", fontsize=FONT + 1)
    if view.shortcut is not None:
        y = _sum_node(cv, x, y, notes)
        lane = x + width / 2 + 0.5 + _shortcut_label_width(view.shortcut) / 2
        _shortcut_lane(cv, view.shortcut, (x, split), (x, y), lane)
        if math:
            cv.text(x - 0.3, y, r"$\mathcal{F}(x) + x$", ha="right", fontsize=FONT + 1)
        y, notes = y - 0.17, [layer.text for layer in view.after]
    y = _edge(cv, x, y, notes)
    cv.text(x, y - 0.05, _io_text(view.out_shape, spatial), va="top")
    return y - 0.5


def _panel_title(cv: _Canvas, x: float, y: float, title: str, subtitle: str = "") -> float:
    """A panel's title (and subtitle) above ``y``; returns where the panel starts."""
    cv.text(x, y, title, fontsize=FONT + 1, va="bottom", fontweight="bold")
    if subtitle:
        cv.text(x, y - 0.1, subtitle, fontsize=SMALL, va="top", colour="#444444")
        return y - 0.1 - _text_size(subtitle, SMALL)[1] - 0.45
    return y - 0.45


# ---------------------------------------------------------------------------------------------
# Focused figures for the lessons.

def draw_plain_vs_residual(residual: nn.Module | None = None,
                           plain: nn.Module | None = None) -> Figure:
    """A plain block beside a residual block (He et al. 2016, Fig. 2).

    ``residual`` and ``plain`` are blocks or whole models (then their first block that keeps
    its shape is drawn). Default: a basic block on 64 channels with an identity shortcut;
    without ``plain``, the residual block's own layers without its shortcut.

    >>> draw_plain_vs_residual(build_model("resnet20"), build_model("plain20"))
    >>> draw_plain_vs_residual(MyBlock(16, 16))     # a student's block, and without shortcut
    """
    res = _block_view(residual if residual is not None else BasicBlock(64, 64, shortcut="A"))
    flat = _block_view(plain) if plain is not None else replace(
        res, branch=res.branch + res.after, after=[], shortcut=None, split=0)
    cv = _Canvas()
    width = max(_box_width(res.branch), _box_width(flat.branch))
    panels = ((flat, "plain block", "the layers fit H(x) directly"),
              (res, "residual block", "the layers fit F(x) = H(x) − x"))
    for i, (view, title, subtitle) in enumerate(panels):
        x = i * (width + 5.0)
        _draw_block(cv, view, x, _panel_title(cv, x, 0, title, subtitle), spatial=False,
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
    views = (_block_view(basic if basic is not None else BasicBlock(64, 64)),
             _block_view(bottleneck if bottleneck is not None else Bottleneck(256, 64)))
    cv = _Canvas()
    width = max(_box_width(v.branch) for v in views)
    for i, (view, title) in enumerate(zip(views, ("basic block", "bottleneck block"))):
        x = i * (width + 5.5)
        convs = sum(layer.box for layer in view.branch)
        subtitle = f"{type(view.module).__name__}: {convs} weight layers"
        _draw_block(cv, view, x, _panel_title(cv, x, 0, title, subtitle), spatial=False,
                    width=width)
    return cv.finish("basic vs bottleneck block (He et al. 2016, Fig. 5)")


def _stack(cv: _Canvas, x: float, top: float, w: float, heights: Sequence[float],
           zero_from: int, channels: int) -> None:
    """A tensor as a stack of channel slices, the slices from ``zero_from`` on hatched."""
    unit = sum(heights) / channels
    real, zeros = heights
    cv.box(x, top - real / 2, w, real, edge=R_COLOUR, fill="#cfe2f3")
    if zeros:
        cv.box(x, top - real - zeros / 2, w, zeros, edge="#777777", fill="#f2f2f2",
               hatch="////")
    for c in range(1, channels if channels <= 96 else 0):
        cv.ax.plot([x - w / 2, x + w / 2], [top - c * unit] * 2, linewidth=0.5, zorder=3,
                   color="white" if c < zero_from else "#bbbbbb")


def _draw_channels(cv: _Canvas, x: float, y: float, sc: _Shortcut) -> float:
    """Option A channel by channel: the input subsampled, then all-zero channels appended."""
    (cin, hin, _), (cout, hout, _) = sc.in_shape, sc.out_shape
    unit, top = 2.4 / cout, y - 0.7
    w_in, w_out = 1.3, 1.3 * hout / hin
    x_in, x_out = x - 2.4, x + 0.9
    cv.text(x, y, "the option A shortcut, channel by channel", fontsize=SMALL, va="top",
            fontweight="bold")
    _stack(cv, x_in, top, w_in, (cin * unit, 0.0), cin, cin)
    _stack(cv, x_out, top, w_out, (cin * unit, (cout - cin) * unit), cin, cout)
    cv.path([x_in + w_in / 2 + 0.1, x_out - w_out / 2 - 0.1], [top - cin * unit / 2] * 2,
            "#444444")
    step = f"every {hin // hout}nd pixel" if hin == 2 * hout else "same pixels"
    cv.text((x_in + x_out) / 2, top - cin * unit / 2 + 0.12, step, fontsize=SMALL - 0.5,
            va="bottom")
    cv.text(x_out + w_out / 2 + 0.15, top - cin * unit / 2,
            f"{cin} channels of x", fontsize=SMALL, ha="left")
    cv.text(x_out + w_out / 2 + 0.15, top - (cin + cout) * unit / 2,
            f"{cout - cin} zero channels\n(zero padding)", fontsize=SMALL, ha="left")
    cv.text(x_in, top - cin * unit - 0.1, f"input\n{shape_text(sc.in_shape)}",
            fontsize=SMALL, va="top")
    cv.text(x_out, top - cout * unit - 0.1, f"output\n{shape_text(sc.out_shape)}",
            fontsize=SMALL, va="top")
    return top - cout * unit - 1.1


OPTION_NOTES = {"A": "identity; zero-pad where dimensions grow (no parameters)",
                "B": "identity; 1×1 projection only where dimensions grow",
                "C": "a 1×1 projection on every shortcut", None: "no shortcuts (plain net)"}


def _shortcut_map(cv: _Canvas, model: nn.Module, x: float, y: float) -> float:
    """One cell per block, coloured by the kind of its shortcut module, one row per stage."""
    cell, most = 0.32, 24
    kinds = [[_shortcut_kind(getattr(b, "shortcut", None)) for b in s] for s in model.stages]
    left = x - min(most, max(len(k) for k in kinds)) * cell / 2
    cv.text(x, y, "every block's shortcut", fontsize=SMALL, va="top", fontweight="bold")
    y -= 0.65
    for i, row in enumerate(kinds):
        cv.text(left - 0.15, y, f"stage {i + 1}", fontsize=SMALL, ha="right")
        for j, kind in enumerate(row[:most]):
            cv.box(left + (j + 0.5) * cell, y, cell * 0.8, cell * 0.8, edge="#555555",
                   fill=KIND_COLOURS[kind] if kind else "white")
            if kind:
                cv.key(KIND_NAMES[kind], KIND_COLOURS[kind], "--" if kind == "zero-pad" else "-")
        if len(row) > most:
            cv.text(left + most * cell + 0.1, y, f"… {len(row) - most} more", fontsize=SMALL,
                    ha="left")
        y -= cell * 1.3
    flat = [k for row in kinds for k in row]
    counts = " · ".join(f"{kind}: {flat.count(kind)}"
                        for kind in ("identity", "zero-pad", "projection"))
    cv.text(x, y - 0.1, counts, fontsize=SMALL, va="top")
    return y - 0.6


def draw_shortcut_options(models: nn.Module | Mapping[str, nn.Module] | None = None) -> Figure:
    """Shortcut options A, B and C (He et al. 2016, Sec. 3.3 and Table 3), one panel each.

    Each panel reads its model's shortcut modules: the first block where dimensions grow in
    full (option A's zero-padded channels drawn channel by channel), then every block's
    shortcut as a cell (identity, zero-pad or projection). Default: ResNet-20 with A, B, C.

    >>> draw_shortcut_options({o: build_model("resnet56", shortcut=o) for o in "ABC"})
    """
    if models is None:
        from reslab.models import build_model
        models = {o: build_model("resnet20", shortcut=o) for o in "ABC"}
    if isinstance(models, nn.Module):
        models = {getattr(models, "reslab_name", type(models).__name__): models}
    cv, right = _Canvas(), None
    for label, model in models.items():
        view, option = _block_view(model, transition=True), shortcut_option(model)
        heading = f"option {option}" if label == option else f"{label}: option {option}"
        half = max(_text_size(OPTION_NOTES[option], SMALL)[0] / 2, _box_width(view.branch) / 2
                   + 1.2, 3.0)
        x = 0.0 if right is None else right + 0.8 + half
        y = _panel_title(cv, x, 0, heading, OPTION_NOTES[option])
        y = _draw_block(cv, view, x - 1.2, y)
        if view.shortcut is not None and view.shortcut.kind == "zero-pad":
            y = _draw_channels(cv, x, y, view.shortcut)
        _shortcut_map(cv, model, x, y)
        right = cv.hi[0]
    return cv.finish("shortcut options A, B, C (He et al. 2016, Sec. 3.3)")


# ---------------------------------------------------------------------------------------------
# Whole networks: stages with shapes and the shortcut levels above the blocks.

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


def _mini_block(cv: _Canvas, view: _Block, lanes: _Lanes, y: float, highlight: bool) -> float:
    """One block as a single box with its shortcut beside it; returns the y below it."""
    x, split = lanes.x, y - 0.1
    y = _edge(cv, x, y, [])
    text = " → ".join(layer.short for layer in view.branch if layer.box)
    cv.box(x, y - 0.22, lanes.block_w, 0.44, text, fontsize=SMALL,
           edge="black" if highlight else CONV_EDGE, linewidth=2.2 if highlight else 1.1)
    y -= 0.44
    sc = view.shortcut
    if sc is None:
        return y
    y = _edge(cv, x, y, []) - 0.14
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


def _draw_stage(cv: _Canvas, net: _Net, i: int, lanes: _Lanes, y: float,
                expand: tuple[int, int] | None) -> float:
    """Stage ``i`` in a frame: at most three of its blocks, its name and its block count."""
    stage, top = net.stages[i], y
    for j in _shown_blocks(len(stage)):
        if j is None:
            cv.text(lanes.x, y - 0.3, "⋮", fontsize=FONT + 3)
            y -= 0.6
            continue
        y = _mini_block(cv, _block(stage[j], net.trace), lanes, y, expand == (i, j))
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


def _level(cv: _Canvas, sc: _Shortcut, lane: float, x: float, top: float, bottom: float,
           colour: str, name: str) -> None:
    """A shortcut above the blocks (a stage's or the root), from ``top`` round to a ⊕."""
    dashed = "--" if sc.kind == "zero-pad" else "-"
    cv.path([x, lane, lane, x + 0.17], [top, top, bottom, bottom], colour, dashed, width=1.5)
    cv.text(lane + 0.13, (top + bottom) / 2, f"{name}: {sc.text}".replace("\n", " "),
            fontsize=SMALL - 0.5, ha="left", rotation=90, colour=colour)
    cv.key(LEVEL_NAMES[name], colour, dashed)


def _levels(cv: _Canvas, net: _Net, i: int, lanes: _Lanes, top: float, y: float,
            root_top: float) -> float:
    """Stage ``i``'s middle-level (stage) shortcut and, after the last stage, the root's."""
    middle = net.middle[i] if net.middle else None
    if middle is not None:
        y = _sum_node(cv, lanes.x, y)
        _level(cv, middle, lanes.middle, lanes.x, top, y, MIDDLE_COLOUR,
               "middle" if isinstance(net.model, RoR) else "stage")
        y -= 0.17
    if net.root is not None and i == len(net.stages) - 1:
        y = _sum_node(cv, lanes.x, y)
        _level(cv, net.root, lanes.root, lanes.x, root_top, y, ROOT_COLOUR, "root")
        y -= 0.17
    return y


def _shape_edge(cv: _Canvas, x: float, y: float, shape: tuple[int, ...],
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


def _draw_network(cv: _Canvas, net: _Net, x: float, y: float,
                  expand: tuple[int, int] | None = None) -> float:
    """Input, stem, stages (with the shapes between them), head and output, top to bottom."""
    shorts = [" → ".join(la.short for la in _block(s[0], net.trace).branch if la.box)
              for s in net.stages]
    lanes = _Lanes(x, max(2.4, *[_text_size(s, SMALL)[0] + 0.4 for s in shorts]))
    stem_w = _box_width([*net.stem, *net.head])
    cv.text(x, y, f"input {shape_text(net.input_shape)}", va="bottom")
    y, notes = _chain(cv, x, y - 0.1, net.stem, stem_w)
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
    y, notes = _chain(cv, x, y, net.head, stem_w)
    y = _edge(cv, x, y, notes)
    cv.text(x, y - 0.05, f"output {shape_text(net.output_shape)}", va="top")
    return y - 0.5


def _caption(model: nn.Module) -> str:
    """What the diagram of ``model`` shows, and from which paper's figure."""
    from reslab.models.registry import model_spec
    if isinstance(model, RoR):
        levels = {3: "root-, middle- and final-level", 2: "root- and final-level",
                  1: "final-level"}[model.levels]
        return f"RoR-{model.levels}: {levels} shortcuts (Zhang et al. 2017, Fig. 1)"
    if isinstance(model, MultilevelNet):
        return "ResResNet: a shortcut round every stage (Gelda et al. 2016, Sec. III.A)"
    if isinstance(model, RiRNet):
        return (f"{RIR_NAMES[model.architecture]}: residual and transient streams "
                "(Targ et al. 2016, Figs. 1-2)")
    if isinstance(model, PreActResNet):
        return ("Wide ResNet (Zagoruyko & Komodakis 2016)" if model.widen_factor > 1 else
                "Pre-ResNet (He et al. 2016b, Identity Mappings)")
    try:
        paper = model_spec(getattr(model, "reslab_name", "")).paper
    except ValueError:
        paper = "He et al. 2016"
    plain = ", a plain net (no shortcuts)" if shortcut_option(model) is None else ""
    return f"{paper}: stages and tensor shapes{plain}"


def _title(model: nn.Module) -> str:
    name = getattr(model, "reslab_name", type(model).__name__)
    depth = getattr(model, "depth", None)
    return f"{name}{f', {depth} layers' if depth else ''}\n{_caption(model)}"


def draw_stages(model: nn.Module, input_shape: Sequence[int] | None = None) -> Figure:
    """A network's stages, top to bottom, with the tensor shape between each (He et al. 2016,
    Fig. 3 and Sec. 4.2: 16×32×32 -> 32×16×16 -> 64×8×8 on CIFAR).

    Shapes are measured by running a dummy image through the model (:func:`tensor_shapes`);
    each stage shows at most three of its blocks, each with its shortcut.

    >>> draw_stages(build_model("resnet56"))
    """
    cv = _Canvas()
    _draw_network(cv, _net(model, input_shape), 0.0, 0.0)
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
    if not _is_network(model):
        cv = _Canvas()
        _draw_block(cv, _block_view(model), 0.0, 0.0)
        return cv.finish(type(model).__name__)
    net, cv = _net(model, input_shape), _Canvas()
    expand = expand or ((1, 0) if len(net.stages) > 1 else (0, 0))
    _draw_network(cv, net, 0.0, 0.0, expand)
    block, right = net.stages[expand[0]][expand[1]], cv.hi[0]
    title = (f"stage {expand[0] + 1}, block {expand[1] + 1}",
             f"{type(block).__name__}, drawn in full")
    if _generalized_convs(block):
        x = right + STREAM_X + STREAM_W / 2 + 2.2
        _draw_streams(cv, block, net.trace, x, _panel_title(cv, x, 0.0, *title))
    else:
        view = _block(block, net.trace)
        x = right + _box_width(view.branch) / 2 + 1.0
        _draw_block(cv, view, x, _panel_title(cv, x + 1.0, 0.0, *title))
    return cv.finish(_title(model))


# ---------------------------------------------------------------------------------------------
# RiR: a residual stream r and a transient stream t (Targ et al. 2016, Figs. 1-2).

RIR_NAMES = {"cnn": "CNN", "resnet": "ResNet", "resnet_init": "ResNet Init", "rir": "RiR"}
STREAM_X, STREAM_W = 1.55, 2.3


def _generalized_convs(block: nn.Module) -> list[GeneralizedResidualConv]:
    return [m for m in block.modules() if isinstance(m, GeneralizedResidualConv)]


def _stream_boxes(cv: _Canvas, x: float, y: float, r: int, t: int,
                  shape: tuple[int, ...]) -> float:
    """The r and t tensors side by side under ``y``; returns the y below them."""
    size = "".join(f"×{s}" for s in shape)
    for dx, name, chans, colour, fill in ((-STREAM_X, "r", r, R_COLOUR, "#dceaf7"),
                                          (STREAM_X, "t", t, T_COLOUR, "#fbe1e1")):
        cv.box(x + dx, y - 0.23, STREAM_W, 0.46, f"{name}: {chans}{size}", edge=colour,
               fill=fill, fontsize=SMALL)
    return y - 0.46


def _cross(cv: _Canvas, x: float, top: float, bottom: float) -> None:
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


def _stream_layer(cv: _Canvas, x: float, y: float, conv: GeneralizedResidualConv,
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
        _edge(cv, x_s, bottom - 0.17, [notes])
    r = conv.residual_channels
    y = _stream_boxes(cv, x, bottom - 0.17 - 0.66, r, conv.out_channels - r, out_shape)
    cv.key("residual stream r", R_COLOUR)
    cv.key("transient stream t", T_COLOUR)
    return y


def _outer_shortcut(cv: _Canvas, sc: _Shortcut, x: float, top: float, y_sum: float) -> None:
    """RiR's outer ResNet shortcut, from the block's input round to the ⊕ on its output."""
    right = x + STREAM_X + STREAM_W / 2
    lane = right + 0.5 + _shortcut_label_width(sc) / 2
    _shortcut_lane(cv, sc, (right, top), (x, y_sum), lane)
    cv.text(right + 0.1, top + 0.08, "outer shortcut", fontsize=SMALL, va="bottom",
            ha="left", colour=KIND_COLOURS[sc.kind])


def _draw_streams(cv: _Canvas, block: nn.Module, trace: _Trace, x: float, y: float) -> float:
    """A block of generalized residual layers as two streams, with RiR's outer shortcut if
    it has one (Targ et al. 2016, Fig. 1). Returns the lowest y drawn."""
    view = _block(block, trace)
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
        notes = ", ".join(la.text for la in _layers(trace.leaves(layer)) if not la.box)
        y = _stream_layer(cv, x, y, layer[0], notes, trace.of(layer).out_shape[1:])
    for dx in (-STREAM_X, STREAM_X):
        cv.path([x + dx] * 2, [y, y - 0.4])
    cv.box(x, y - 0.65, wide, 0.5, f"[r; t]: {shape_text(view.out_shape)}", edge="#555555",
           fill="white")
    y -= 0.9
    if view.shortcut is not None:
        y = _sum_node(cv, x, y)
        _outer_shortcut(cv, view.shortcut, x, top, y)
        y -= 0.17
    y = _edge(cv, x, y, [la.text for la in view.after])
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
    module, trace = _find_block(block if block is not None else build_model("rir32"), False)
    if not _generalized_convs(module):
        raise ValueError("draw_rir_block draws generalized residual layers (RiR or ResNet "
                         "Init); this block has none: use draw_architecture")
    cv = _Canvas()
    y = _panel_title(cv, 0.0, 0.0, type(module).__name__,
                     "each layer (Eq. 1): r' = σ(r→r + t→r + r),  t' = σ(r→t + t→t),  σ: BN, ReLU")
    _draw_streams(cv, module, trace, 0.0, y)
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
    cv, x = _Canvas(), 0.0
    for label, model in models.items():
        block, trace = _find_block(model, transition=False)
        if _generalized_convs(block):
            x += STREAM_X + STREAM_W / 2 + 1.6
            _draw_streams(cv, block, trace, x, _panel_title(cv, x, 0.0, label))
        else:
            x += 1.6
            _draw_block(cv, _block(block, trace), x, _panel_title(cv, x, 0.0, label))
        x = cv.hi[0] + 1.0
    return cv.finish("CNN, ResNet, ResNet Init and RiR blocks (Targ et al. 2016, Fig. 2)")
