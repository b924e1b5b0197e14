#!/usr/bin/env python
"""Train one of the kit's reference sets and store it in ``results/<device>-<budget>-<topic>/``.

The notebooks draw these runs beside the reader's own (see ``reslab.course.results``). Training goes
through ``reslab.sweep`` with checkpoints in ``runs/reference-<budget>/``, so a stopped job
(e.g. a 10-minute GPU call) continues where it stopped when started again with the same
arguments, and re-running a finished set only re-collects its histories. ``--pause-after S``
stops cleanly at the first evaluation after S seconds (a checkpoint has just been written)
and stores the histories so far, marked ``"complete": false``. Fig. 7's responses are
measured on the device that trained the nets, once the set is complete.

    python scripts/reference_runs.py degradation --budget medium --dataset cifar10-jpeg
    PYTHONPATH=. python scripts/reference_runs.py responses --budget full --dataset cifar10-jpeg
    python scripts/reference_runs.py instability --budget quick --dataset cifar10-jpeg

``instability`` is notebook 01's warm-up demo (:func:`reslab.course.experiments.instability`):
ResNet-56 at a constant lr 0.1 without and with each cure, the zero-gamma cure by the model
option ``zero_gamma=True``; its checkpoints go under ``$RESLAB_RUNS`` (else ``runs/``).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import reslab  # noqa: E402
from reslab.models.analysis import layer_responses  # noqa: E402
from reslab.paths import results_dir  # noqa: E402
from reslab.training.budget import BUDGETS  # noqa: E402
from reslab.training.checkpoint import atomic_write_json  # noqa: E402
from reslab.training.loop import prepare_data  # noqa: E402

TOPICS = {
    "degradation": ["plain20", "plain56", "resnet20", "resnet56"],
    "responses": ["plain20", "plain56", "resnet20", "resnet56", "resnet110"],
    "instability": ["resnet56"],
}


class Paused(Exception):
    """Raised at the first evaluation of the whole sweep after the time given."""


def pause_after(seconds: float | None, last_label: str):
    """An ``on_eval`` that stops the sweep once every net has been evaluated (and saved)
    after ``seconds``; None: never."""
    if seconds is None:
        return None
    deadline = time.perf_counter() + seconds

    def on_eval(history) -> None:
        if history.label == last_label and time.perf_counter() >= deadline:
            raise Paused
    return on_eval


def collect(runs: Path, models: list[str]) -> dict[str, reslab.History]:
    """The histories in ``runs/<label>/history.json`` (what a paused sweep had written)."""
    return {m: reslab.History.load(runs / m / "history.json") for m in models
            if (runs / m / "history.json").exists()}


def train_set(models: list[str], args: argparse.Namespace,
              runs: Path) -> tuple[dict[str, reslab.History], bool]:
    """Train (or continue) ``models`` as one sweep; their histories, and whether the set is
    complete (False when ``--pause-after`` stopped it)."""
    try:
        return reslab.sweep(models, dataset=args.dataset, budget=args.budget, out=runs,
                            compile=args.compile,
                            on_eval=pause_after(args.pause_after, models[-1])), True
    except Paused:
        return collect(runs, models), False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", choices=sorted(TOPICS))
    parser.add_argument("--budget", default="full", choices=list(BUDGETS))
    parser.add_argument("--dataset", default="cifar10-jpeg")
    parser.add_argument("--models", nargs="+", help="override the topic's models")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--fp32", action="store_true",
                        help="instability only: no autocast (the set is named ...-fp32)")
    parser.add_argument("--runs", type=Path, help="checkpoints (default runs/reference-<budget>)")
    parser.add_argument("--results", type=Path, default=results_dir(),
                        help="where the set is stored (default results/)")
    parser.add_argument("--pause-after", type=float, metavar="SECONDS",
                        help="stop cleanly at the first evaluation after this many seconds")
    args = parser.parse_args()
    models = args.models or TOPICS[args.topic]
    runs = args.runs or ROOT / "runs" / f"reference-{args.budget}"
    labels = None
    if args.topic == "instability":
        from reslab.course.experiments import instability
        cures = instability(args.budget, dataset=args.dataset,
                            amp=False if args.fp32 else None).histories
        histories = {f"resnet56-cure{i}": h for i, h in enumerate(cures.values())}
        models, labels, complete = list(histories), dict(zip(histories, cures)), True
    else:
        histories, complete = train_set(models, args, runs)
    device = "gpu" if torch.cuda.is_available() else "cpu"
    folder = args.results / f"{device}-{args.budget}-{args.topic}" \
        if not args.fp32 else args.results / f"{device}-{args.budget}-{args.topic}-fp32"
    for label, history in histories.items():
        history.meta["folder"] = None  # a local path means nothing in the repository
        history.save(folder / label / "history.json")
    first = next(iter(histories.values()))
    info = {"command": "python " + shlex.join(sys.argv), "topic": args.topic,
            "budget": args.budget, "dataset": first.meta["dataset"],
            "dataset_note": first.meta["dataset_note"], "device": first.meta["device"],
            "torch": first.meta["torch"], "precision": first.meta.get("precision"),
            "deviations": first.meta.get("deviations", []), "models": models,
            "complete": complete, "steps_done": {k: h.last("step") for k, h in
                                                 histories.items()},
            "wall_seconds": {k: round(h.meta.get("wall_seconds", 0), 1)
                             for k, h in histories.items()}}
    if labels:  # the instability experiment's labels, by folder
        info["labels"] = labels
    if complete and args.topic in ("responses", "degradation"):  # Fig. 7, on the trained nets
        data = prepare_data(reslab.TrainConfig(**first.config), verbose=False)
        on = "cuda" if torch.cuda.is_available() else "cpu"
        images = data.normalised_eval(first.config["normalize"]).to(on)
        responses = {label: layer_responses(reslab.load_trained(runs / label, device=on),
                                            images) for label in histories}
        (folder / "responses.json").write_text(json.dumps(responses, indent=1) + "\n")
    atomic_write_json(folder / "run.json", info)  # last: a killed run leaves none, not half
    for h in histories.values():
        print(h.summary())
    print(f"wrote {folder}" + ("" if complete else " (paused: run again to continue)"))


if __name__ == "__main__":
    main()
