"""ipywidgets for the notebooks: knobs for depth, shortcut option and budget.

Every widget also works when a notebook runs without a browser (CI, nbval): its initial
values are used and its output is drawn once. Functions return the widget (or a small object
holding widgets) so a later cell can read the choices.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as W
from IPython.display import display

from reslab.budget import BUDGETS, get_budget
from reslab.history import History


def _show(fig) -> None:
    import matplotlib.pyplot as plt
    display(fig)
    plt.close(fig)


def valid_depths(block: str = "basic", up_to: int = 200) -> list[int]:
    """CIFAR depths allowed for a block type: 6n+2 (basic) or 9n+2 (bottleneck)."""
    step = 6 if block == "basic" else 9
    return list(range(step + 2, up_to + 1, step))


class ExperimentControls:
    """Which depths to train and on which budget; a later cell reads ``.models`` and ``.budget``.

    Shows two rows of toggles (plain and ResNet depths) and a budget menu whose default comes
    from ``$RESLAB_BUDGET``.
    """

    def __init__(self, depths: Sequence[int] = (20, 32, 44, 56), chosen: Sequence[int] = (20, 56),
                 families: Sequence[str] = ("plain", "resnet")) -> None:
        self.families = families
        self.depths = W.SelectMultiple(options=list(depths), value=tuple(chosen),
                                       description="depths", rows=len(depths))
        self.budget_menu = W.Dropdown(options=list(BUDGETS), value=get_budget().name,
                                      description="budget")
        self.widget = W.HBox([self.depths, self.budget_menu])

    @property
    def models(self) -> list[str]:
        return [f"{f}{d}" for f in self.families for d in sorted(self.depths.value)]

    @property
    def budget(self) -> str:
        return self.budget_menu.value

    def _ipython_display_(self) -> None:
        display(self.widget)


def curve_browser(histories: Mapping[str, History],
                  references: Mapping[str, History] | None = None) -> W.Widget:
    """A depth slider: plain-d and ResNet-d error curves of the reader's runs at that depth."""
    from reslab.plots import error_curves, reference_curves

    depths = sorted({int("".join(c for c in k if c.isdigit())) for k in histories})
    slider = W.SelectionSlider(options=depths, value=depths[-1], description="depth")

    def draw(depth: int) -> None:
        pair = {k: v for k, v in histories.items() if k.endswith(str(depth))
                and k[:-len(str(depth))] in ("plain", "resnet")}
        fig = error_curves(pair, f"plain vs ResNet, {depth} layers (He et al. 2016, Fig. 6)")
        refs = {k: v for k, v in (references or {}).items() if k.endswith(str(depth))}
        reference_curves(fig.axes[0], refs, "kit reference")
        _show(fig)

    out = W.interactive_output(draw, {"depth": slider})
    box = W.VBox([slider, out])
    display(box)
    return box


def model_explorer() -> W.Widget:
    """Pick family, block, depth and shortcut; see layers, parameters and MACs update live."""
    from reslab.analysis import count_macs, count_params
    from reslab.models import build_model

    family = W.ToggleButtons(options=["resnet", "plain"], description="family")
    block = W.ToggleButtons(options=["basic", "bottleneck"], description="block")
    depth = W.SelectionSlider(options=valid_depths("basic"), value=20, description="depth")
    shortcut = W.ToggleButtons(options=["A", "B", "C"], description="shortcut")

    def on_block(change) -> None:
        options = valid_depths(change["new"])
        depth.options = options
        depth.value = min(options, key=lambda d: abs(d - depth.value))

    block.observe(on_block, names="value")

    def describe(family: str, block: str, depth: int, shortcut: str) -> None:
        options = {"block": block} if family == "plain" else {"block": block,
                                                              "shortcut": shortcut}
        model = build_model(family, depth=depth, **options)
        n = len(model.stages[0])
        print(f"{family}-{depth} ({block} blocks): 3 stages x {n} blocks")
        print(f"  parameters : {count_params(model):>12,}")
        print(f"  multiply-adds per 32x32 image: {count_macs(model, (1, 3, 32, 32)):>12,}")

    out = W.interactive_output(describe, {"family": family, "block": block, "depth": depth,
                                          "shortcut": shortcut})
    box = W.VBox([family, block, depth, shortcut, out])
    display(box)
    return box


def response_browser(responses: Mapping[str, Sequence[dict]], title_note: str = "") -> W.Widget:
    """Choose which nets' layer responses to draw (He et al. 2016, Fig. 7)."""
    from reslab.plots import responses_figure

    pick = W.SelectMultiple(options=list(responses), value=tuple(responses),
                            description="nets", rows=len(responses))

    def draw(chosen) -> None:
        _show(responses_figure({k: responses[k] for k in chosen}, title_note))

    out = W.interactive_output(draw, {"chosen": pick})
    box = W.VBox([pick, out])
    display(box)
    return box
