"""What every notebook's experiment shares: the :class:`Result` it returns, the sweep that
trains its nets in lockstep, and the images its trained nets were evaluated on."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reslab.training.history import History
from reslab.training.loop import sweep


@dataclass
class Result:
    """What one experiment produced: its runs, and measurements taken from trained models."""

    notebook: str
    histories: dict[str, History]
    measurements: dict[str, Any] = field(default_factory=dict)


def sweep_nets(models: list[str], budget, seed, dataset, out, progress, model_options=None,
               on_eval=None, **options) -> dict[str, History]:
    """:func:`reslab.training.loop.sweep` with an experiment's arguments in its order."""
    return sweep(models, dataset=dataset, budget=budget, out=out, seed=seed, progress=progress,
                 model_options=model_options, on_eval=on_eval, **options)


def eval_images(history: History):
    """The normalised evaluation images and labels a run was evaluated on."""
    from reslab.training.config import TrainConfig
    from reslab.training.loop import prepare_data

    config = TrainConfig(**history.config)
    data = prepare_data(config, verbose=False)
    return data.normalised_eval(config.normalize), data.eval_labels
