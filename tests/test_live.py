"""Live curves: an on_eval callback that redraws the error figure at each evaluation."""
from __future__ import annotations

import pytest

import reslab
from reslab.course import live as L
from reslab.data import SHAPES10_CLASSES, ImageDataset, make_shapes10
from reslab.training.history import History

TINY = dict(budget="smoke", progress=False, device="cpu", out=False, iterations=6,
            eval_every=2, batch_size=32)


@pytest.fixture(scope="module")
def shapes10():
    """A tiny slice of the shapes10 generator (the full dataset takes a while to draw)."""
    x, y = make_shapes10(192, seed=0)
    return ImageDataset("shapes10", x[:128], y[:128], x[128:], y[128:],
                        list(SHAPES10_CLASSES), "reslab.data.synthetic (seed 0)")


def points(curves: L.LiveCurves) -> list[int]:
    return [len(line.get_xdata()) for line in curves.ax.lines]


def test_a_run_delivers_every_record_and_every_record_is_drawn(shapes10):
    curves = L.LiveCurves(["resnet8"])
    history = reslab.train("resnet8", data=shapes10, on_eval=curves, **TINY)
    assert len(history.records) == 3
    assert curves.received == {"resnet8": history.records}
    assert curves.redraws == 3  # a lone run: at every evaluation
    assert points(curves) == [3, 3]  # training (dashed) and test (solid) error
    assert curves.ax.get_legend_handles_labels()[1] == ["resnet8"]
    assert curves.ax.get_xlim() == (0, 6)


def test_a_sweep_redraws_once_per_round_with_every_run(shapes10):
    curves = L.LiveCurves(["plain8", "resnet8:twin"], show_train=False)
    histories = reslab.sweep(["plain8", "resnet8:twin"], data=shapes10, on_eval=curves,
                             **TINY)
    assert curves.received == {name: h.records for name, h in histories.items()}
    assert points(curves) == [3, 3]  # one test-error line per run, a point per record
    assert curves.ax.get_legend_handles_labels()[1] == ["plain8", "resnet8:twin"]
    assert curves.redraws == 3 + 1  # once per round (first round: as each run reports)


class FakeHandle:
    def __init__(self) -> None:
        self.updates: list = []

    def update(self, obj) -> None:
        self.updates.append(obj)


def test_in_a_notebook_the_figure_is_replaced_in_place(shapes10, monkeypatch):
    shown, handle = [], FakeHandle()

    def display(obj, display_id=False):
        shown.append((obj, display_id))
        return handle

    monkeypatch.setattr("IPython.display.display", display)
    monkeypatch.setattr(L, "in_notebook", lambda: True)
    history = L.train("resnet8", data=shapes10, **TINY)
    assert len(shown) == 1 and shown[0][1] is True  # shown once, with a display id
    assert len(handle.updates) == 3  # the two later evaluations, then the final figure
    assert all(image.data.startswith(b"\x89PNG") for image in handle.updates)
    assert history.finished


def test_without_a_kernel_nothing_is_shown_and_the_figure_stays(shapes10, monkeypatch):
    def display(*args, **kwargs):
        raise AssertionError("nothing may be displayed without a kernel")

    monkeypatch.setattr("IPython.display.display", display)
    assert not L.in_notebook()
    histories = L.sweep(["plain8", "resnet8"], data=shapes10, **TINY)
    assert set(histories) == {"plain8", "resnet8"}
    assert all(h.finished for h in histories.values())


def test_finish_draws_runs_that_reported_nothing():
    records = [{"step": s, "epoch": 0, "lr": 0.1, "train_loss": 1.0, "train_error": e,
                "eval_loss": 1.0, "eval_error": e + 0.05, "seconds": 1.0, "images_per_s": 1.0}
               for s, e in ((2, 0.8), (4, 0.6), (6, 0.5), (8, 0.4))]
    done = History("resnet20", {"iterations": 8}, records, {"dataset": "shapes10"})
    curves = L.LiveCurves(display=False)
    figure = curves.finish(done)
    assert figure is curves.figure and points(curves) == [4, 4]
    assert curves._repr_png_().startswith(b"\x89PNG")
    assert "shapes10" in curves.ax.get_title()
