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

The modules, in the order they build on each other:

========== ===========================================================================
families   what depends on the model family (input size, shortcut levels, captions)
trace      reading a model: every module call of one forward pass
views      what is drawn: layers, shortcuts, blocks and networks, read from the trace
canvas     sizes, colours and drawing primitives (boxes, arrows, ⊕, legend)
block      one block, as in He et al. 2016, Figs. 2 and 5
options    shortcut options A, B, C (He et al. 2016, Sec. 3.3 and Table 3)
rir        RiR's two streams (Targ et al. 2016, Figs. 1-2)
network    whole networks: stages, shapes, stage and root shortcuts (Fig. 3; RoR Fig. 1)
========== ===========================================================================
"""
from __future__ import annotations

from reslab.course.diagrams.block import draw_basic_vs_bottleneck, draw_plain_vs_residual
from reslab.course.diagrams.canvas import (BOX_H, CONV_EDGE, CONV_FILL, FC_EDGE, FC_FILL, FONT,
                                           KIND_COLOURS, KIND_NAMES, MIDDLE_COLOUR,
                                           R_COLOUR, ROOT_COLOUR, SCALE, SMALL, T_COLOUR)
from reslab.course.diagrams.families import FAMILIES, RIR_NAMES, Family, family
from reslab.course.diagrams.network import LEVEL_NAMES, draw_architecture, draw_stages
from reslab.course.diagrams.options import OPTION_NOTES, draw_shortcut_options
from reslab.course.diagrams.rir import STREAM_W, STREAM_X, draw_rir_architectures, draw_rir_block
from reslab.course.diagrams.views import block_view, shape_text, shortcut_option, tensor_shapes

__all__ = [
    "draw_plain_vs_residual", "draw_basic_vs_bottleneck", "draw_shortcut_options",
    "draw_stages", "draw_architecture", "draw_rir_block", "draw_rir_architectures",
    "tensor_shapes", "shape_text", "shortcut_option", "block_view", "family", "Family",
    "FAMILIES", "SCALE", "FONT", "SMALL", "BOX_H", "CONV_FILL", "CONV_EDGE", "FC_FILL",
    "FC_EDGE", "KIND_COLOURS", "KIND_NAMES", "MIDDLE_COLOUR", "ROOT_COLOUR", "R_COLOUR",
    "T_COLOUR", "OPTION_NOTES", "LEVEL_NAMES", "RIR_NAMES", "STREAM_X", "STREAM_W",
]
