"""ipywidgets for the notebooks: knobs for depth, shortcut option, budget and training.

Every widget also works when a notebook runs without a browser (CI, nbval): its initial
values are used and its output is drawn once. Functions return the widget (or a small object
holding widgets) so a later cell can read the choices.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import ipywidgets as W
from IPython.display import display

from reslab.training.budget import BUDGETS, Budget, get_budget
from reslab.training.history import History


def _show(fig) -> None:
    import matplotlib.pyplot as plt
    display(fig)
    plt.close(fig)


def _as_outputs(captured, failure: BaseException | None) -> tuple[dict, ...]:
    """What a captured ``draw`` printed and displayed, as notebook output dicts (nbformat 4)."""
    import base64
    import traceback

    outputs = [{"output_type": "stream", "name": name, "text": text}
               for name, text in (("stdout", captured.stdout), ("stderr", captured.stderr))
               if text]
    for shown in captured.outputs:
        data = {mime: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v
                for mime, v in shown.data.items()}
        outputs.append({"output_type": "display_data", "data": data,
                        "metadata": shown.metadata or {}})
    if failure is not None:
        outputs.append({"output_type": "error", "ename": type(failure).__name__,
                        "evalue": str(failure), "traceback": traceback.format_exception(failure)})
    return tuple(outputs)


def live_output(draw, controls: Mapping[str, W.ValueWidget]) -> W.Output:
    """An Output widget showing ``draw(**values)``, redrawn whenever a control's value changes.

    Like ``ipywidgets.interactive_output``, but what ``draw`` prints and displays is captured in
    the kernel and handed to the Output widget as its ``outputs``, not captured by the front end
    (``with out:``). With ``with out:``, a headless client (nbclient, nbconvert, nbgrader) mirrors
    each captured output back to the kernel on its shell socket while it waits there for the
    cell's ``execute_reply``; jupyter_client's ``Session.send`` writes through a blocking shadow
    of the asyncio socket, which can swallow the socket's wake-up, so the reply is only read when
    the cell's timeout runs out. An error in ``draw`` shows in the widget, as it would there.
    """
    from IPython.utils.capture import capture_output

    out = W.Output()

    def redraw(change: dict | None = None) -> None:
        failure = None
        with capture_output() as captured:
            try:
                draw(**{name: control.value for name, control in controls.items()})
            except Exception as error:  # shown in the widget, as interactive_output does
                failure = error
        out.outputs = _as_outputs(captured, failure)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return out


def _live(controls: dict[str, W.Widget], draw) -> W.Widget:
    """Show ``controls`` above an output that ``draw(**values)`` refreshes on every change."""
    box = W.VBox([*controls.values(), live_output(draw, controls)])
    display(box)
    return box


def valid_depths(block: str = "basic", up_to: int = 200) -> list[int]:
    """CIFAR depths allowed for a block type: 6n+2 (basic) or 9n+2 (bottleneck)."""
    step = 6 if block == "basic" else 9
    return list(range(step + 2, up_to + 1, step))


class ExperimentControls:
    """The knobs of an experiment; later cells read ``.models``, ``.budget``, ``.options``.

    Depth toggles (plain and ResNet), a budget menu (default ``$RESLAB_BUDGET``), an
    iteration count between the presets, the learning rate and its linear warm-up, zero-γ
    initialisation and the seed. Choosing ``full`` on a machine without a GPU shows the
    estimated time and a box to tick: until it is ticked, ``.budget`` refuses (ValueError).
    """

    def __init__(self, depths: Sequence[int] = (20, 32, 44, 56), chosen: Sequence[int] = (20, 56),
                 families: Sequence[str] = ("plain", "resnet"), notebook: str = "01") -> None:
        self.families, self.notebook = families, notebook
        preset = get_budget()
        self.depths = W.SelectMultiple(options=list(depths), value=tuple(chosen),
                                       description="depths", rows=len(depths))
        self.budget_menu = W.Dropdown(options=list(BUDGETS), value=preset.name,
                                      description="budget")
        self.iterations = W.BoundedIntText(value=preset.iterations, min=1, max=64_000,
                                           description="iterations")
        self.lr = W.FloatLogSlider(value=0.1, base=10, min=-3, max=0, description="lr")
        self.warmup = W.BoundedIntText(value=preset.linear_warmup, min=0, max=64_000,
                                       description="warm-up")
        self.zero_gamma = W.Checkbox(value=False, description="zero-γ init (ResNets)")
        self.seed = W.BoundedIntText(value=0, min=0, max=10_000, description="seed")
        self.confirm = W.Checkbox(value=False, description="yes, train 'full' on this CPU")
        self.note = W.HTML()
        self.budget_menu.observe(self._on_budget, names="value")
        self._on_budget({"new": preset.name})
        self.widget = W.VBox([W.HBox([self.depths, W.VBox([self.budget_menu, self.iterations,
                                                           self.warmup])]),
                              W.HBox([self.lr, self.seed, self.zero_gamma]),
                              self.note, self.confirm])

    def _on_budget(self, change: dict) -> None:
        """A preset fills in its iterations and warm-up; 'full' on a CPU asks first."""
        preset = get_budget(change["new"])
        self.iterations.value, self.warmup.value = preset.iterations, preset.linear_warmup
        self.confirm.value = False
        self.confirm.layout.display = None if self.needs_confirmation else "none"
        self.note.value = full_on_cpu_note(self.notebook) if self.needs_confirmation else ""

    @property
    def needs_confirmation(self) -> bool:
        import torch
        return self.budget_menu.value == "full" and not torch.cuda.is_available()

    @property
    def models(self) -> list[str]:
        return [f"{f}{d}" for f in self.families for d in sorted(self.depths.value)]

    @property
    def budget(self) -> str | Budget:
        """The preset's name, or a Budget with the chosen iterations and warm-up."""
        if self.needs_confirmation and not self.confirm.value:
            raise ValueError("the 'full' budget on a CPU: " + full_on_cpu_note(self.notebook,
                             html=False) + " Tick the box to confirm, or choose 'quick'.")
        preset = get_budget(self.budget_menu.value)
        chosen = replace(preset, iterations=self.iterations.value,
                         linear_warmup=min(self.warmup.value, self.iterations.value))
        return preset.name if chosen == preset else chosen

    @property
    def options(self) -> dict:
        """Training options for :func:`reslab.sweep`: lr, seed and, if ticked, zero-γ."""
        zero = {m: {"zero_gamma": True} for m in self.models if not m.startswith("plain")}
        return {"lr": self.lr.value, "seed": self.seed.value,
                "model_options": zero if self.zero_gamma.value else {}}

    def _ipython_display_(self) -> None:
        display(self.widget)


def full_on_cpu_note(notebook: str = "01", html: bool = True) -> str:
    """What the 'full' budget would take here without a GPU (estimated)."""
    from reslab.course.colab import cpu_minutes, duration
    text = (f"No GPU here: the 'full' budget (64,000 iterations per net) would take "
            f"{duration(cpu_minutes('full', notebook))} for notebook {notebook} (estimated).")
    return f"<b>{text}</b>" if html else text


def curve_browser(histories: Mapping[str, History],
                  references: Mapping[str, History] | None = None) -> W.Widget:
    """A depth slider: plain-d and ResNet-d error curves of the reader's runs at that depth."""
    from reslab.course.plots import error_curves, reference_curves

    depths = sorted({int("".join(c for c in k if c.isdigit())) for k in histories})
    slider = W.SelectionSlider(options=depths, value=depths[-1], description="depth")

    def draw(depth: int) -> None:
        pair = {k: v for k, v in histories.items() if k.endswith(str(depth))
                and k[:-len(str(depth))] in ("plain", "resnet")}
        fig = error_curves(pair, f"plain vs ResNet, {depth} layers (He et al. 2016, Fig. 6)")
        refs = {k: v for k, v in (references or {}).items() if k.endswith(str(depth))}
        reference_curves(fig.axes[0], refs, "kit reference")
        _show(fig)

    return _live({"depth": slider}, draw)


def model_explorer() -> W.Widget:
    """Pick family, block, depth and shortcut; see layers, parameters and MACs update live."""
    from reslab.models import build_model
    from reslab.models.analysis import count_macs, count_params

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

    return _live({"family": family, "block": block, "depth": depth, "shortcut": shortcut},
                 describe)


def response_browser(responses: Mapping[str, Sequence[dict]], title_note: str = "") -> W.Widget:
    """Choose which nets' layer responses to draw (He et al. 2016, Fig. 7)."""
    from reslab.course.plots import responses_figure

    pick = W.SelectMultiple(options=list(responses), value=tuple(responses),
                            description="nets", rows=len(responses))

    def draw(chosen) -> None:
        _show(responses_figure({k: responses[k] for k in chosen}, title_note))

    return _live({"chosen": pick}, draw)


def shortcut_explorer() -> W.Widget:
    """Pick a depth and a shortcut option; see every block's shortcut and what it costs."""
    from reslab.models import build_model
    from reslab.models.analysis import count_params

    depth = W.SelectionSlider(options=valid_depths("basic", 110), value=20, description="depth")
    option = W.ToggleButtons(options=["A", "B", "C"], description="shortcut")

    def describe(depth: int, option: str) -> None:
        model = build_model("resnet", depth=depth, shortcut=option)
        extra = count_params(model) - count_params(build_model("plain", depth=depth))
        kinds: dict[str, int] = {}
        for stage in model.stages:
            for block in stage:
                name = type(block.shortcut).__name__
                kinds[name] = kinds.get(name, 0) + 1
        print(f"ResNet-{depth}, option {option}: {extra:,} parameters more than plain-{depth}")
        for name, count in kinds.items():
            print(f"  {count:3d} x {name}")

    return _live({"depth": depth, "option": option}, describe)


def rir_explorer() -> W.Widget:
    """The four architectures of RiR's Fig. 2 and deeper blocks: layers and parameters."""
    from reslab.models.analysis import count_params
    from reslab.models.rir import ARCHITECTURES, RiRNet

    arch = W.ToggleButtons(options=list(ARCHITECTURES), value="rir", description="network")
    layers = W.IntSlider(value=2, min=1, max=10, description="layers/block")

    def describe(arch: str, layers: int) -> None:
        model = RiRNet(arch, blocks=(5, 5, 5), layers_per_block=layers)
        generalized, outer = ARCHITECTURES[arch]
        print(f"{arch}: 15 blocks x {layers} layers = {model.depth} layers, "
              f"{count_params(model):,} parameters")
        print(f"  generalized residual layers: {generalized}; outer ResNet shortcut: {outer}")

    return _live({"arch": arch, "layers": layers}, describe)


def survival_explorer() -> W.Widget:
    """Move p_L and the depth: stochastic depth's survival probabilities, and the expected
    number of blocks a mini-batch passes through."""
    from reslab.course.plots import survival_curves
    from reslab.models import linear_survival

    p_last = W.FloatSlider(value=0.5, min=0.1, max=1.0, step=0.05, description="p_L")
    blocks = W.IntSlider(value=54, min=3, max=200, description="blocks")

    def draw(p_last: float, blocks: int) -> None:
        probs = linear_survival(blocks, p_last)
        _show(survival_curves({f"p_L = {p_last:.2f}": probs},
                              f"stochastic depth (Huang et al. 2016): expected "
                              f"{sum(probs):.1f} of {blocks} blocks per mini-batch"))

    return _live({"p_last": p_last, "blocks": blocks}, draw)


def phase_planner(total_iterations: int) -> W.Widget:
    """Choose an order; see the phases of successive training and their share of the budget."""
    from reslab.training.successive import FINAL_SHARE, ORDERS, PARTIAL_SHARE

    order = W.ToggleButtons(options=list(ORDERS), description="order")

    def describe(order: str) -> None:
        phases = ORDERS[order]
        for k, stages in enumerate(phases, start=1):
            share = FINAL_SHARE if k == len(phases) else PARTIAL_SHARE
            names = "+".join(str(i + 1) for i in stages)
            print(f"phase {k}: stages {names:6s} {round(share * total_iterations):6d} iterations"
                  f"{' (the full net)' if k == len(phases) else ''}")

    return _live({"order": order}, describe)


# ---------------------------------------------------------------------------------------------
# Knobs for notebooks 05-08. Each draws once with its initial values when no browser is there
# (nbval, CI), and keeps its current choice for a later cell to read.

def stage_shortcut_explorer(depths: Sequence[int] = (20, 32, 56, 110)) -> W.Widget:
    """ResResNet's stage shortcut (Gelda et al. 2016, Sec. III.A): pick option A, B or C and a
    depth; see the network drawn with its stage shortcuts, and the parameters they add."""
    from reslab.course.diagrams import draw_architecture
    from reslab.models import build_model
    from reslab.models.analysis import count_params

    option = W.ToggleButtons(options=["A", "B", "C"], description="stage_shortcut")
    depth = W.Dropdown(options=list(depths), value=depths[0], description="depth")

    def draw(option: str, depth: int) -> None:
        model = build_model(f"resresnet{depth}", stage_shortcut=option)
        extra = count_params(model) - count_params(build_model(f"resnet{depth}"))
        print(f"resresnet{depth}, stage_shortcut={option!r}: {extra:,} parameters more than "
              f"resnet{depth}")
        _show(draw_architecture(model))

    return _live({"option": option, "depth": depth}, draw)


class RoRControls:
    """RoR's knobs (Zhang et al. 2017): shortcut ``levels`` m and stochastic depth's p_L.

    Shows the chosen RoR-m drawn (Fig. 1) and its survival probabilities; a later cell reads
    ``.options`` (model options for ``reslab.build_model("ror", **options)``).
    """

    def __init__(self, depth: int = 32, levels: int = 3, p_last: float | None = 0.5) -> None:
        self.depth = depth
        self.levels = W.ToggleButtons(options=[1, 2, 3], value=levels, description="levels")
        self.p_last = W.FloatSlider(value=p_last or 1.0, min=0.1, max=1.0, step=0.05,
                                    description="p_L (1 = off)")
        self.widget = W.VBox([self.levels, self.p_last, live_output(
            self._draw, {"levels": self.levels, "p_last": self.p_last})])

    @property
    def options(self) -> dict:
        p_last = self.p_last.value
        return {"depth": self.depth, "levels": self.levels.value,
                "stochastic_depth": None if p_last >= 1 else round(p_last, 4)}

    def _draw(self, levels: int, p_last: float) -> None:
        from reslab.course.diagrams import draw_architecture
        from reslab.course.plots import survival_figure
        from reslab.models import build_model

        model = build_model("ror", **self.options)
        _show(draw_architecture(model))
        if self.options["stochastic_depth"] is not None:
            _show(survival_figure({f"RoR-{levels}-{self.depth}": model}))

    def _ipython_display_(self) -> None:
        display(self.widget)


def parse_stage_orders(text: str) -> tuple[tuple[int, ...], ...]:
    """``"3 | 2,3 | 1,2,3"`` (1-based stages, phases separated by ``|``) as 0-based tuples."""
    from reslab.training.successive import check_stage_orders

    try:
        phases = [[int(s) - 1 for s in part.split(",") if s.strip()] for part in text.split("|")]
    except ValueError:
        raise ValueError(f"write stages as numbers, phases separated by '|': {text!r}") from None
    return check_stage_orders(phases)


class StageOrderPicker:
    """A custom phase plan for successive training (Gelda et al. 2016, Sec. III.B): type the
    stages of each phase; see the phases and their iterations. A later cell reads
    ``.stage_orders`` for ``train_successively(..., stage_orders=...)``."""

    def __init__(self, total_iterations: int, plan: str = "2 | 2,3 | 1,2,3") -> None:
        self.total = total_iterations
        self.text = W.Text(value=plan, description="phases")
        self.widget = W.VBox([self.text, live_output(self._describe, {"text": self.text})])

    @property
    def stage_orders(self) -> tuple[tuple[int, ...], ...]:
        return parse_stage_orders(self.text.value)

    def _describe(self, text: str) -> None:
        from reslab.training.successive import FINAL_SHARE, PARTIAL_SHARE

        try:
            plan = parse_stage_orders(text)
        except ValueError as error:
            print(f"not a plan: {error}")
            return
        for k, stages in enumerate(plan, start=1):
            share = FINAL_SHARE if k == len(plan) else PARTIAL_SHARE
            names = "+".join(str(i + 1) for i in stages)
            print(f"phase {k}: stages {names:6s} {round(share * self.total):6d} iterations")

    def _ipython_display_(self) -> None:
        display(self.widget)
