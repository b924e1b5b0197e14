"""Widgets build and redraw without a browser (how nbval and CI run the notebooks)."""
from __future__ import annotations

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from reslab.course import widgets  # noqa: E402
from reslab.training.history import History  # noqa: E402


def _history(label: str, error: float) -> History:
    records = [{"epoch": 1.0, "step": s, "lr": 0.1, "train_loss": 2.0, "train_error": error,
                "eval_loss": 2.0, "eval_error": error, "seconds": 1.0, "images_per_s": 1.0}
               for s in (1, 2)]
    return History(label, {"iterations": 2}, records, {"dataset": "shapes10"})


def test_valid_depths_follow_the_block_rule():
    assert widgets.valid_depths("basic", 56) == [8, 14, 20, 26, 32, 38, 44, 50, 56]
    assert widgets.valid_depths("bottleneck", 40) == [11, 20, 29, 38]


def test_experiment_controls_name_the_models_and_budget(monkeypatch):
    monkeypatch.setenv("RESLAB_BUDGET", "quick")
    controls = widgets.ExperimentControls(depths=(20, 32, 56), chosen=(56, 20))
    assert controls.models == ["plain20", "plain56", "resnet20", "resnet56"]
    assert controls.budget == "quick"
    controls.depths.value = (32,)
    assert controls.models == ["plain32", "resnet32"]


@pytest.mark.parametrize("make", [
    widgets.model_explorer, widgets.shortcut_explorer, widgets.rir_explorer,
    widgets.survival_explorer, lambda: widgets.phase_planner(400),
    lambda: widgets.curve_browser({f"{f}{d}": _history(f"{f}{d}", 0.5) for f in
                                   ("plain", "resnet") for d in (20, 56)}),
    lambda: widgets.response_browser({"resnet20": [{"index": 1, "layer": "a", "std": 1.0}]}),
])
def test_every_widget_builds_and_its_controls_are_live(make):
    box = make()
    assert isinstance(box, ipywidgets.VBox)
    out = box.children[-1]
    assert isinstance(out, ipywidgets.Output)
    drawn = out.outputs  # drawn once at once, as in a notebook run without a browser
    assert drawn and not any(o["output_type"] == "error" for o in drawn), drawn
    controls = [c for c in box.children if isinstance(c, ipywidgets.ValueWidget)]
    assert controls, "a widget without a knob"
    control = controls[0]
    options = getattr(control, "options", None)
    if options and not isinstance(control, ipywidgets.SelectMultiple):
        control.value = options[0] if control.value != options[0] else options[-1]
    elif isinstance(control, (ipywidgets.IntSlider, ipywidgets.FloatSlider)):
        control.value = control.min
    else:  # a multiple selection: choose something else than now
        control.value = () if control.value else tuple(control.options[:1])
    assert out.outputs and out.outputs is not drawn  # ... and drawn again when a knob moves


def test_a_widget_shows_what_it_draws_as_outputs_and_an_error_in_the_widget():
    """The Output widget is handed its outputs (no front-end capture, see live_output)."""
    def draw(n: int) -> None:
        print(f"n = {n}")
        if n < 0:
            raise ValueError("n must not be negative")

    slider = ipywidgets.IntSlider(value=2, min=-1, max=3)
    out = widgets.live_output(draw, {"n": slider})
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "n = 2\n"},)
    slider.value = -1
    kinds = [o["output_type"] for o in out.outputs]
    assert kinds == ["stream", "error"] and out.outputs[1]["evalue"] == "n must not be negative"
    assert out.msg_id == ""  # nothing asked the front end to capture
