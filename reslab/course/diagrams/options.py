"""Shortcut options A, B and C, read from a model's shortcut modules (He et al. 2016,
Sec. 3.3 and Table 3).

:func:`draw_shortcut_options` draws one panel per model: its first block where dimensions grow,
in full (:mod:`~reslab.course.diagrams.block`); for option A, the zero-padding shortcut
channel by channel (the input subsampled, all-zero channels appended, "no extra parameter",
Sec. 3.3); then every block's shortcut as a cell coloured by its kind (identity, zero-pad or
projection), one row per stage.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from torch import nn

from reslab.course.diagrams.block import draw_block_on, panel_title
from reslab.course.diagrams.canvas import (KIND_COLOURS, KIND_NAMES, R_COLOUR, SMALL, Canvas,
                                           box_width, text_size)
from reslab.course.diagrams.views import (Shortcut, block_view, shape_text, shortcut_kind,
                                          shortcut_option)


def _stack(cv: Canvas, x: float, top: float, w: float, heights: Sequence[float],
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


def _draw_channels(cv: Canvas, x: float, y: float, sc: Shortcut) -> float:
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


def _shortcut_map(cv: Canvas, model: nn.Module, x: float, y: float) -> float:
    """One cell per block, coloured by the kind of its shortcut module, one row per stage."""
    cell, most = 0.32, 24
    kinds = [[shortcut_kind(getattr(b, "shortcut", None)) for b in s] for s in model.stages]
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
    cv, right = Canvas(), None
    for label, model in models.items():
        view, option = block_view(model, transition=True), shortcut_option(model)
        heading = f"option {option}" if label == option else f"{label}: option {option}"
        half = max(text_size(OPTION_NOTES[option], SMALL)[0] / 2, box_width(view.branch) / 2
                   + 1.2, 3.0)
        x = 0.0 if right is None else right + 0.8 + half
        y = panel_title(cv, x, 0, heading, OPTION_NOTES[option])
        y = draw_block_on(cv, view, x - 1.2, y)
        if view.shortcut is not None and view.shortcut.kind == "zero-pad":
            y = _draw_channels(cv, x, y, view.shortcut)
        _shortcut_map(cv, model, x, y)
        right = cv.hi[0]
    return cv.finish("shortcut options A, B, C (He et al. 2016, Sec. 3.3)")
