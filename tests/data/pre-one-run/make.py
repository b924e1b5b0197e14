"""Write ``tests/data/pre-one-run/``: a run and a batch of seeds checkpointed by reslab before
issue 27 made one Run for one seed or many (run from the repository root, at that commit:
``python tests/data/pre-one-run/make.py``).

Each is trained for 8 iterations with the 110-layer warm-up on (so the checkpoint carries a
warm-up state) and evaluated at steps 4 and 8. The checkpoint kept after step 4
(``checkpoint.prev.pt`` once step 8 is written) becomes the fixture's ``checkpoint.pt``, with
the history JSON of that checkpoint; the step-8 weights are the ``*-end-*.pt`` files.
"""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

import reslab
from reslab.data import SHAPES10_CLASSES, ImageDataset, make_shapes10
from reslab.training.checkpoint import load_checkpoint
from reslab.training.history import History

HERE = Path(__file__).parent
TINY = dict(budget="smoke", model_options={"depth": 8, "widths": (4, 8, 8)}, batch_size=32,
            train_subset=None, test_subset=None, device="cpu", amp=False, channels_last=False,
            weight_decay=0.02, progress=False, iterations=8, eval_every=4, warmup="on",
            warmup_window=2)


def shapes() -> ImageDataset:
    x, y = make_shapes10(320, seed=0)
    return ImageDataset("shapes10", x[:256], y[:256], x[256:], y[256:], SHAPES10_CLASSES,
                        "make_shapes10(320)")


def stopped_at_step_4(trained: Path, name: str, histories: dict[str, str]) -> None:
    """``trained``'s step-4 checkpoint as ``HERE/name/checkpoint.pt``, with its histories."""
    folder = HERE / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    state = load_checkpoint(trained / "checkpoint.prev.pt")
    assert state["step"] == 4
    shutil.copy(trained / "checkpoint.prev.pt", folder / "checkpoint.pt")
    for file, key in histories.items():
        history = state["history"] if key == "history" else state["histories"][int(key)]
        History(**history).save(folder / file)


def main() -> None:
    data = shapes()
    with tempfile.TemporaryDirectory() as tmp:
        run, seeds = Path(tmp) / "run", Path(tmp) / "seeds"
        reslab.train("resnet", data=data, out=run, **TINY)
        torch.save(load_checkpoint(run / "checkpoint.pt")["model"], HERE / "run-end-weights.pt")
        stopped_at_step_4(run, "run", {"history.json": "history"})
        reslab.train_seeds("resnet", seeds=[0, 1], data=data, out=seeds, **TINY)
        torch.save(load_checkpoint(seeds / "checkpoint.pt")["params"],
                   HERE / "seeds-end-params.pt")
        stopped_at_step_4(seeds, "seeds", {"history-seed0.json": "0", "history-seed1.json": "1"})
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text()
                .splitlines() if l.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    (HERE / "written-by.json").write_text(json.dumps({
        "commit": commit, "torch": str(torch.__version__), "python": platform.python_version(),
        "machine": platform.machine(), "cpu_model": cpu, "threads": torch.get_num_threads(),
        "what": "tests/data/pre-one-run/make.py: reslab.train and reslab.train_seeds of the "
                "tiny net (depth 8, widths 4-8-8) on make_shapes10(320), 8 iterations, "
                "warm-up on (window 2), the step-4 checkpoint kept; the *-end-*.pt files are "
                "the step-8 weights"}, indent=1) + "\n")


if __name__ == "__main__":
    main()
