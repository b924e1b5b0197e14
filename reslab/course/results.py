"""The kit's own committed reference runs (``results/``), for drawing beside a reader's runs.

Layout: ``results/<set>/run.json`` (the command, device, torch version, budget, notes) and
``results/<set>/<label>/history.json`` (a :class:`~reslab.training.history.History`), plus optional
``results/<set>/responses.json`` (Fig. 7 layer responses of the trained nets).
"""
from __future__ import annotations

import json

from reslab.paths import findings_dir, results_dir
from reslab.training.history import History


def reference_sets() -> list[str]:
    """Names of the committed reference sets (folders of ``results/`` with a run.json)."""
    root = results_dir()
    return sorted(p.parent.name for p in root.glob("*/run.json")) if root.exists() else []


def reference_info(name: str) -> dict:
    """The set's run.json: command, device, torch, budget, dataset, notes."""
    return json.loads((results_dir() / name / "run.json").read_text())


def reference_histories(name: str, models: list[str] | None = None) -> dict[str, History]:
    """``{label: History}`` of one reference set ({} if it is not there)."""
    folder = results_dir() / name
    found = {p.parent.name: History.load(p) for p in sorted(folder.glob("*/history.json"))}
    return {k: v for k, v in found.items() if models is None or k in models}


def reference_responses(name: str) -> dict[str, list[dict]]:
    """Fig. 7 responses stored with a reference set ({} if none)."""
    path = results_dir() / name / "responses.json"
    return json.loads(path.read_text()) if path.exists() else {}


def describe_reference(name: str) -> str:
    """One line saying what a reference set is: budget, dataset, device, command."""
    info = reference_info(name)
    return (f"{name}: {info.get('budget', '?')} budget on {info.get('dataset', '?')}, "
            f"{info.get('device', '?')}, torch {info.get('torch', '?')} -- `{info['command']}`")


def best_reference(topic: str) -> str | None:
    """The most complete committed set for a topic ("degradation", "responses", ...).

    Sets are named ``<device>-<budget>-<topic>``; GPU runs of the full budget come first.
    """
    sets = [s for s in reference_sets() if s.endswith(f"-{topic}")]
    sets.sort(key=_rank)
    return sets[0] if sets else None


def best_responses() -> str | None:
    """The most complete committed set that stores Fig. 7 responses (any topic)."""
    sets = sorted((s for s in reference_sets() if reference_responses(s)), key=_rank)
    return sets[0] if sets else None


def _rank(name: str) -> int:
    """Longer runs first: GPU before CPU, then full, medium, quick."""
    rank = {"gpu-full": 0, "gpu-medium": 1, "gpu-quick": 2, "cpu-full": 3, "cpu-medium": 4,
            "cpu-quick": 5}
    return rank.get("-".join(name.split("-")[:2]), 9)


def findings_histories(notebook: str, seed: int = 0, budget: str = "quick",
                       device: str = "cpu") -> dict[str, History]:
    """The committed findings run of ``notebook``'s default experiment for one seed
    (``results/findings-<budget>-<device>/seed<k>/<notebook>/``; {} if not committed)."""
    folder = findings_dir(budget, device) / f"seed{seed}" / notebook
    return {p.parent.name: History.load(p) for p in sorted(folder.glob("*/history.json"))}
