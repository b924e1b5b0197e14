"""Widgets build and redraw without a browser (how nbval and CI run the notebooks)."""
from __future__ import annotations

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from reslab import widgets  # noqa: E402
from reslab.history import History  # noqa: E402


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
def test_every_widget_builds_and_its_controls_are_live(make, capsys):
    box = make()
    assert capsys.readouterr().out  # drawn once at once, as in a notebook run without a browser
    assert isinstance(box, ipywidgets.VBox)
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
    assert capsys.readouterr().out  # ... and drawn again when a knob moves


def test_experiment_controls_knobs_reach_the_budget_and_training_options(monkeypatch):
    monkeypatch.setenv("RESLAB_BUDGET", "quick")
    controls = widgets.ExperimentControls(depths=(20, 56), chosen=(20,))
    controls.iterations.value, controls.warmup.value = 1000, 100
    controls.lr.value, controls.seed.value, controls.zero_gamma.value = 0.05, 3, True
    budget = controls.budget
    assert (budget.name, budget.iterations, budget.linear_warmup) == ("quick", 1000, 100)
    assert controls.options == {"lr": controls.lr.value, "seed": 3,
                                "model_options": {"resnet20": {"zero_gamma": True}}}
    controls.budget_menu.value = "smoke"   # a preset resets iterations and warm-up
    assert controls.budget == "smoke"


def test_full_on_a_cpu_shows_the_estimate_and_asks_first(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    controls = widgets.ExperimentControls()
    controls.budget_menu.value = "full"
    assert "hours" in controls.note.value and controls.confirm.layout.display is None
    with pytest.raises(ValueError, match="Tick the box"):
        controls.budget
    controls.confirm.value = True
    assert controls.budget == "full"
    controls.budget_menu.value = "quick"
    assert controls.note.value == "" and controls.confirm.layout.display == "none"
