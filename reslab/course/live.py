"""Live training curves: the error figure redrawn in place at every evaluation.

:class:`LiveCurves` is an ``on_eval`` callback for :func:`reslab.train`, :func:`reslab.sweep`
and :func:`reslab.training.loop.fit`, which call it with a run's :class:`~reslab.training.history.History`
after each of that run's evaluations::

    live = LiveCurves(["plain20", "resnet20"], title="plain vs ResNet")
    histories = reslab.sweep(["plain20", "resnet20"], on_eval=live)

or, the same in one call, :func:`sweep` (and :func:`train`) of this module.

In a Jupyter kernel the figure appears under the progress bar at the first evaluation and is
replaced in place (an IPython display handle) after each round of evaluations; the last one
stays in the notebook. Without a kernel (a script, CI, a terminal) nothing is shown and nothing
fails: ``live.figure`` is kept up to date, ready to save. The figure is the one
:func:`reslab.course.plots.error_curves` draws (He et al. 2016, Figs. 1 and 6 style).
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from reslab.course.plots import error_curves
from reslab.course.style import style
from reslab.training.history import History


def in_notebook() -> bool:
    """Whether this code runs in an IPython kernel with a frontend (Jupyter, nbval, Colab)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveCurves:
    """Training (dashed) and evaluation (solid) error against iterations, redrawn live.

    Args:
        labels: the runs it expects, in legend order: the model names given to ``sweep``
            (labels of its histories); runs that are not listed are added as they report.
        title: the figure's title.
        x: the record key on the x axis ("step" or "epoch").
        show_train: draw the training error too.
        display: show the figure (default: only in an IPython kernel).

    After training, ``received`` holds every record each run delivered, in order, and
    ``figure`` the final figure.
    """

    def __init__(self, labels: Sequence[str] = (), title: str = "", x: str = "step",
                 show_train: bool = True, display: bool | None = None) -> None:
        style()
        self.labels = list(labels)
        self.title, self.x, self.show_train = title, x, show_train
        self.display = in_notebook() if display is None else display
        self.histories: dict[str, History] = {}
        self.received: dict[str, list[dict[str, float]]] = {}
        self.figure = Figure(figsize=(6, 4))  # not pyplot's: shown only through the handle
        self.ax = self.figure.add_subplot()
        self.redraws = 0
        self._handle = None

    def __call__(self, history: History) -> None:
        """The ``on_eval`` callback: note the run's newest record; redraw after a round."""
        label = history.label
        if label not in self.labels:
            self.labels.append(label)
        self.histories[label] = history
        self.received.setdefault(label, []).append(dict(history.records[-1]))
        if self._round_complete(label):
            self.redraw()

    def _round_complete(self, label: str) -> bool:
        """A sweep reports its runs in order after each evaluation: redraw after the last run
        that has reported so far. A lone run redraws at every evaluation; a sweep once per
        round (and in its first round after each run, as they first report)."""
        return label == [name for name in self.labels if name in self.histories][-1]

    def runs(self) -> dict[str, History]:
        """The histories received so far, in legend order."""
        return {name: self.histories[name] for name in self.labels if name in self.histories}

    def redraw(self) -> None:
        """Draw the curves of every run again and, in a notebook, replace the shown figure."""
        runs = self.runs()
        if not runs:
            return
        self.ax.clear()
        error_curves(runs, self.title, ax=self.ax, x=self.x, show_train=self.show_train)
        if self.x == "step":
            self.ax.set_xlim(0, max(h.config.get("iterations", 1) for h in runs.values()))
        self.figure.tight_layout()
        self.redraws += 1
        if self.display:
            self._show()

    def _show(self) -> None:
        from IPython.display import Image, display
        image = Image(data=self.png())
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def png(self) -> bytes:
        """The current figure as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def finish(self, *histories: History) -> Figure:
        """Add final ``histories`` (e.g. of runs that were already trained, which report
        nothing), draw once more and return the final figure."""
        for history in histories:
            if history.label not in self.labels:
                self.labels.append(history.label)
            self.histories.setdefault(history.label, history)
        self.redraw()
        return self.figure


def train(model: str = "resnet20", title: str = "", **options: Any) -> History:
    """:func:`reslab.train` with live curves; ``options`` are its arguments."""
    from reslab.training.loop import train as train_one
    live = LiveCurves([model], title=title or model)
    history = train_one(model, on_eval=live, **options)
    live.finish(history)
    return history


def sweep(models: Sequence[str], title: str = "", **options: Any) -> dict[str, History]:
    """:func:`reslab.sweep` with live curves of every model; ``options`` are its arguments."""
    from reslab.training.loop import sweep as train_all
    live = LiveCurves(models, title=title)
    histories = train_all(models, on_eval=live, **options)
    live.finish(*histories.values())
    return histories
