"""What is drawn: layers, shortcuts, blocks and whole networks, read from a forward trace.

A :class:`Layer` is a weight layer (a box: conv, fc) or a note on an arrow (BN, ReLU, pool),
as in He et al. 2016, Figs. 2, 3 and 5. A :class:`Shortcut` is the block's shortcut module:
identity, zero-padding (option A) or a projection (options B and C: Sec. 3.3, Table 3). A
:class:`Block` is a branch F(x), the shortcut and what acts on the sum (Eq. 1, Fig. 2); a
:class:`Net` is the stem, the stages with their measured shapes (Fig. 3, Sec. 4.2), the head
and, for ResResNet and RoR, the shortcuts above the blocks
(:class:`~reslab.course.diagrams.families.Family`). Nothing here draws; the canvas does.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import nn

from reslab.course.diagrams.families import family
from reslab.course.diagrams.trace import Call, Trace, dummy_block_input, dummy_input, is_leaf
from reslab.models.blocks import StochasticDepth
from reslab.models.rir import GeneralizedResidualConv
from reslab.models.shortcuts import ZeroPadShortcut


@dataclass
class Layer:
    """A layer as drawn: weight layers (conv, fc) are boxes, the rest notes on the arrows."""

    text: str
    short: str
    box: bool


@dataclass
class Shortcut:
    """A shortcut as drawn: its kind, its label and the shapes it maps."""

    kind: str  # "identity", "zero-pad", "projection" or "other"
    text: str
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()


@dataclass
class Block:
    """One residual (or plain) block: its branch, what follows the addition, its shortcut."""

    module: nn.Module
    branch: list[Layer]
    after: list[Layer]
    shortcut: Shortcut | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    split: int = 0  # the shortcut leaves after this many branch layers (pre-activation: 2)


@dataclass
class Net:
    """A staged network: stem, stages (their blocks and shapes), head, extra shortcut levels."""

    model: nn.Module
    trace: Trace
    input_shape: tuple[int, ...]
    stem: list[Layer]
    stem_shape: tuple[int, ...]
    stages: list[nn.Module]
    stage_shapes: list[tuple[int, ...]]
    head: list[Layer]
    output_shape: tuple[int, ...]
    middle: list[Shortcut | None] = field(default_factory=list)
    root: Shortcut | None = None
    stage_activation: list[Layer] = field(default_factory=list)


def _conv_layer(m: nn.Conv2d) -> Layer:
    k, s = m.kernel_size[0], m.stride[0]
    stride = f", /{s}" if s > 1 else ""
    gen = "gen. " if isinstance(m, GeneralizedResidualConv) else ""
    return Layer(f"{k}×{k} {gen}conv, {m.out_channels}{stride}",
                 f"{'gen ' if gen else ''}{k}×{k}, {m.out_channels}{stride}", True)


def _layer(m: nn.Module) -> Layer | None:
    """How one leaf module is drawn (``None``: not drawn, e.g. an identity or a flatten)."""
    if isinstance(m, nn.Conv2d):
        return _conv_layer(m)
    if isinstance(m, nn.Linear):
        return Layer(f"fc {m.out_features}", f"fc {m.out_features}", True)
    if isinstance(m, nn.MaxPool2d):
        k, s = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride))
        return Layer(f"{k}×{k} max pool, /{s}", "max pool", False)
    if isinstance(m, StochasticDepth):
        p = m.survival_prob
        return Layer(f"drop (p={p:.2f})", "drop", False) if p < 1 else None
    if isinstance(m, nn.Dropout):
        return Layer(f"dropout {m.p:g}", "dropout", False) if m.p > 0 else None
    if isinstance(m, nn.Identity | nn.Flatten):
        return None
    names = {nn.BatchNorm2d: "BN", nn.ReLU: "ReLU", nn.AdaptiveAvgPool2d: "avg pool",
             nn.AvgPool2d: "avg pool", nn.GroupNorm: "GN"}
    name = names.get(type(m), type(m).__name__)
    return Layer(name, name, False)


def read_layers(calls: Sequence[Call]) -> list[Layer]:
    """The traced calls' layers as drawn, in call order (those not drawn left out)."""
    return [layer for c in calls if (layer := _layer(c.module)) is not None]


def shortcut_kind(module: nn.Module | None) -> str | None:
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


def _shortcut(module: nn.Module | None, call: Call | None) -> Shortcut | None:
    """A shortcut module as drawn; ``call`` (its traced call) gives its shapes."""
    kind = shortcut_kind(module)
    if kind is None or call is None:
        return None
    if kind == "identity":
        text = "identity"
    elif kind == "zero-pad":
        extra = module.out_channels - module.in_channels
        sub = f"subsample /{module.stride}\n" if module.stride > 1 else ""
        text = f"{sub}+ {extra} zero channels"
    else:  # a projection's layers ("1×1 conv, 32, /2 + BN"), or the module's class
        layers = [la.text for m in module.modules() if is_leaf(m) and (la := _layer(m))]
        text = " + ".join(layers) or type(module).__name__
    return Shortcut(kind, text, call.in_shape, call.out_shape)


def read_block(block: nn.Module, trace: Trace) -> Block:
    """Read one block from the trace: branch layers, post-addition layers, shortcut.

    With a shortcut, the activations after the branch's last weight or normalisation layer
    act on the sum (post-activation blocks); a plain block keeps them in its branch.
    """
    module = getattr(block, "shortcut", None)
    skip = {id(m) for m in module.modules()} if module is not None else set()
    calls = [c for c in trace.leaves(block) if id(c.module) not in skip]
    branch = read_layers(calls)
    after: list[Layer] = []
    sc = _shortcut(module, trace.of(module))
    while sc is not None and branch and branch[-1].text == "ReLU":
        after.insert(0, branch.pop())
    call = trace.of(block)
    view = Block(block, branch, after, sc, call.in_shape, call.out_shape)
    if sc is not None:
        view.split = _split(calls, trace.of(module))
    return view


def _split(branch: Sequence[Call], shortcut: Call) -> int:
    """How many drawn branch layers run before the tensor the shortcut reads: 0 when it reads
    the block's input, 2 when it reads BN-ReLU's output (pre-activation projections)."""
    producers = [c for c in branch if c.order < shortcut.order and c.out_id == shortcut.in_id]
    if not producers:
        return 0
    return len(read_layers([c for c in branch if c.order <= producers[-1].order]))


def read_net(model: nn.Module, input_shape: Sequence[int] | None = None) -> Net:
    """Trace ``model`` (anything with ``.stages``) and read its stem, stages, head and levels."""
    x = dummy_input(model, input_shape)
    trace = Trace(model, x)
    stages = list(model.stages)
    inside = {id(m) for part in (*stages, getattr(model, "middle", None),
                                 getattr(model, "root", None),
                                 getattr(model, "stage_activation", None))
              if part is not None for m in part.modules()}
    first, last = trace.of(stages[0]).order, trace.leaves(stages[-1])[-1].order
    leaves = [c for c in trace.calls if is_leaf(c.module) and id(c.module) not in inside]
    stem = [c for c in leaves if c.order < first]
    net = Net(model, trace, tuple(x.shape[1:]), read_layers(stem),
              trace.of(stages[0]).in_shape, stages,
              [trace.of(s).out_shape for s in stages],
              read_layers([c for c in leaves if c.order > last]), trace.calls[0].out_shape)
    if family(model).levels:
        net.middle = [_shortcut(m, trace.of(m)) for m in model.middle]
        net.root = _shortcut(model.root, trace.of(model.root))
        net.stage_activation = read_layers(trace.by_id.get(id(model.stage_activation), [])[:1])
    return net


def tensor_shapes(model: nn.Module,
                  input_shape: Sequence[int] | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """The shapes drawn by :func:`~reslab.course.diagrams.network.draw_stages`, measured with
    forward hooks on a dummy image.

    ``[("input", (3, 32, 32)), ("stem", (16, 32, 32)), ("stage 1", (16, 32, 32)), ...,
    ("output", (10,))]`` -- without the batch dimension.
    """
    net = read_net(model, input_shape)
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
    kinds = [shortcut_kind(getattr(b, "shortcut", None)) for b in _all_blocks(model)]
    if all(k is None for k in kinds):
        return None
    if "zero-pad" in kinds:
        return "A"
    if all(k == "projection" for k in kinds):
        return "C"
    return "B" if "projection" in kinds else "A"


def _all_blocks(model: nn.Module) -> list[nn.Module]:
    return [block for stage in model.stages for block in stage]


def is_network(module: nn.Module) -> bool:
    """A staged network (stem, ``.stages`` of blocks, head), not a block."""
    return hasattr(module, "stages")


def find_block(module: nn.Module, transition: bool) -> tuple[nn.Module, Trace]:
    """A block to draw and the trace that measured it.

    From a staged network (traced whole, so shapes are the real ones): its first block
    whose shape changes (``transition``) or its first that keeps it. Any other module is
    a block already, traced alone on an 8x8 input.
    """
    if not is_network(module):
        return module, Trace(module, dummy_block_input(module))
    trace = Trace(module, dummy_input(module, None))
    blocks = _all_blocks(module)
    for b in blocks:
        call = trace.of(b)
        if (call.in_shape != call.out_shape) == transition:
            return b, trace
    return blocks[0], trace


def block_view(module: nn.Module, transition: bool = False) -> Block:
    """The drawn view of a block, or of a network's first (``transition``) block."""
    block, trace = find_block(module, transition)
    return read_block(block, trace)
