"""How long the course takes: the committed timing of every notebook, run top to bottom.

``scripts/time_course.py --budget quick`` executes notebooks 00-08 in order on an idle machine
(fresh runs folder, solutions in place) and writes ``results/course-timing-<budget>-<device>/``
with ``timing.json`` (machine, torch, threads, load average, seconds per notebook and per
default experiment) and ``TIMING.md``. Notebook 00 and the Colab advice read it from here.
"""
from __future__ import annotations

import json

from reslab.paths import results_dir


def timing(budget: str = "quick", device: str = "cpu") -> dict:
    """The committed ``timing.json`` of ``budget`` on ``device`` ({} if not committed)."""
    path = results_dir() / f"course-timing-{budget}-{device}" / "timing.json"
    return json.loads(path.read_text()) if path.exists() else {}


def course_minutes(budget: str = "quick", device: str = "cpu",
                   part: str = "seconds") -> dict[str, float]:
    """Minutes each notebook took in the committed timing, in course order (later notebooks
    reuse runs an earlier one trained). ``part="default_experiment_seconds"``: only the cell
    that runs the notebook's default experiment."""
    found = timing(budget, device).get("notebooks", {})
    return {nb: round(t[part] / 60, 1) for nb, t in found.items() if t.get(part) is not None}


def summary(budget: str = "quick", device: str = "cpu") -> str:
    """One line: the whole course's minutes, the longest notebook, and the machine."""
    info = timing(budget, device)
    if not info:
        return f"course timing on the {budget} budget ({device}): not yet run"
    minutes = course_minutes(budget, device)
    longest = max(minutes, key=minutes.get)
    return (f"the whole course took {info['total_seconds'] / 60:.0f} minutes on the "
            f"{budget} budget (longest: notebook {longest}, {minutes[longest]} min) on "
            f"{info['device']}, torch {info['torch']}")


def table(info: dict) -> str:
    """Minutes per notebook (default experiment and whole notebook) as a Markdown table."""
    lines = ["| notebook | default experiment (min) | whole notebook (min) |", "|---|---|---|"]
    for nb, t in info["notebooks"].items():
        exp = t["default_experiment_seconds"]
        lines.append(f"| {nb} | {'—' if exp is None else f'{exp / 60:.1f}'} | "
                     f"{t['seconds'] / 60:.1f} |")
    lines.append(f"| course | | {info['total_seconds'] / 60:.1f} |")
    return "\n".join(lines)


def markdown(info: dict) -> str:
    """``TIMING.md``: how the timing was taken, and the table."""
    return (f"# Course timing, {info['budget']} budget\n\n`{info['command']}` on "
            f"{info['device']}, torch {info['torch']} ({info['threads']} threads), "
            f"{info['date']}, data: {', '.join(info.get('datasets', [])) or 'not recorded'}. "
            f"Load average before {info['load_before']}, after {info['load_after']}.\n\n"
            f"{table(info)}\n")
