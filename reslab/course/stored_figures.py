"""The figures each notebook stores, drawn from the kit's committed results.

A reader who opens a notebook without running it (on GitHub, nbviewer, or in Colab before
"Run all") sees these. They are kept as attachments of a Markdown cell, which survive what
clears outputs (``reslab assignments``, nbgrader's ``generate_assignment``), beside the SHA-256
of the JSON they were drawn from: a test recomputes that digest from ``results/`` and fails
when a stored figure was drawn from other data than the committed results.
``scripts/refresh_stored.py`` redraws them.

The run drawn is the longest committed one of the notebook's default experiment, seed 0: the
medium reference set where it has the notebook, else the quick findings set
(``results/findings-<budget>-<device>/seed0/<notebook>/``). Notebook 04 draws Fig. 7 of the
fully trained nets (``results/pretrained-akamaster/responses.json``).
"""
from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reslab.paths import findings_dir, pretrained_dir, results_dir
from reslab.training.history import History

NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "08")
TITLES = {"02": "ResNet-20 with shortcut options A, B, C, and plain-20 (cf. He et al. 2016, "
                "Table 3)",
          "03": "ResNet-20 and a 29-layer bottleneck net (the kit's own question)",
          "05": "ResNet and ResResNet at 20 and 56 layers (cf. Gelda et al. 2016, Fig. 9)",
          "07": "RoR-m, m = 1, 2, 3, and RoR-3 with stochastic depth (cf. Zhang et al. 2017)"}


@dataclass(frozen=True)
class StoredFigure:
    """One notebook's stored figure: what it shows, and the committed files it is drawn from."""

    notebook: str
    caption: str
    sources: tuple[Path, ...]
    draw: Callable[[], object]   # -> a matplotlib Figure

    def digest(self) -> str:
        return digest(self.sources)

    def png(self, dpi: int = 72) -> bytes:
        """The figure as PNG bytes."""
        import matplotlib.pyplot as plt
        fig = self.draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return buffer.getvalue()


def digest(paths: tuple[Path, ...]) -> str:
    """SHA-256 over the files' paths (relative to ``results/``) and bytes."""
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(path.relative_to(results_dir()).as_posix().encode() + b"\0")
        sha.update(path.read_bytes())
    return sha.hexdigest()


def run_folder(notebook: str) -> Path | None:
    """The longest committed run of ``notebook``'s experiment, seed 0 (medium before quick)."""
    for budget in ("medium", "quick"):
        pattern = findings_dir(budget, "*")   # every device
        for folder in sorted(pattern.parent.glob(f"{pattern.name}/seed0/{notebook}")):
            if any(folder.glob("*/history.json")):
                return folder
    return None


def _histories(folder: Path) -> dict[str, History]:
    return {p.parent.name: History.load(p) for p in sorted(folder.glob("*/history.json"))}


def _describe(folder: Path) -> str:
    info = json.loads((folder.parents[1] / "run.json").read_text())
    return (f"the kit's committed {info['budget']} run, seed 0, {info['dataset']}, "
            f"{info['precision']} (results/{folder.relative_to(results_dir()).as_posix()}/, "
            f"command and device in {folder.parents[1].name}/run.json)")


def _curves(notebook: str, folder: Path) -> StoredFigure:
    from reslab.course import plots
    sources = tuple(sorted(folder.glob("*/history.json")))
    if notebook == "01":
        draw = lambda: plots.degradation_figure(_histories(folder))  # noqa: E731
    elif notebook == "08":
        draw = lambda: _phases(folder)  # noqa: E731
    else:
        draw = lambda: plots.error_curves(_histories(folder), TITLES[notebook])  # noqa: E731
    return StoredFigure(notebook, _describe(folder), sources, draw)


def _phases(folder: Path):
    from reslab.course import plots
    runs = _histories(folder)
    schedules = {order: {k: h for k, h in runs.items() if k.startswith(order + "-")}
                 for order in ("bottom-up", "top-down")}
    return plots.phase_curves(schedules, {"resnet32": runs["resnet32"]})


def _responses() -> StoredFigure:
    from reslab.course import plots
    folder = pretrained_dir()
    path = folder / "responses.json"
    info = json.loads((folder / "run.json").read_text())
    caption = (f"the fully trained nets of a public reproduction (akamaster), measured on "
               f"{info['response_images']:,} {info['dataset']} test images "
               "(results/pretrained-akamaster/responses.json)")
    return StoredFigure("04", caption, (path,), lambda: plots.responses_figure(
        json.loads(path.read_text()), " -- fully trained nets (akamaster)"))


def _ablation(folder: Path) -> StoredFigure:
    from reslab.course import plots
    path = folder / "ablation.json"
    return StoredFigure("06", _describe(folder), (path,), lambda: plots.ablation_figure(
        json.loads(path.read_text()), " -- the kit's resnet_init32"))


def figure_for(notebook: str) -> StoredFigure | None:
    """The figure ``notebook`` stores, or None when nothing for it is committed."""
    if notebook == "04":
        return _responses()
    folder = run_folder(notebook)
    if folder is None:
        return None
    return _ablation(folder) if notebook == "06" else _curves(notebook, folder)
