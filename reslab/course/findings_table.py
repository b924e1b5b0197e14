"""The committed findings table (``results/findings-<budget>-<device>/``), as a notebook and
the README show it: its rows as Markdown, one notebook's lines, and the section on the fully
trained nets (``results/pretrained-akamaster/``). :mod:`reslab.tools.run_findings` writes it.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from reslab.course.lessons.finding import format_value
from reslab.paths import PRETRAINED, findings_dir, results_dir


def markdown(rows: Sequence[dict], seeds: Sequence[int]) -> str:
    """The findings table as Markdown."""
    head = ["notebook", "finding (paper's direction)", "paper", "measure"]
    head += [f"seed {s}" for s in seeds] + ["holds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        values = [format_value(r, r["values"][s]) + ("" if r["holds"][s] else " ✗")
                  if s in r["values"] else "not run" for s in seeds]
        k = sum(r["holds"].values())
        lines.append("| " + " | ".join([r["notebook"], r["claim"], r["paper"], r["metric"],
                                        *values, f"{k} of {len(r['holds'])}"]) + " |")
    return "\n".join(lines)


def summary(rows: Sequence[dict]) -> str:
    """One line per finding: the claim, its source, and in how many seeds it holds (README)."""
    lines = ["| notebook | the paper's finding | holds at the quick budget |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['notebook']} | {r['claim']} ({r['paper']}) | "
                     f"{sum(r['holds'].values())} of {len(r['holds'])} seeds |")
    return "\n".join(lines)


FULL_BEGIN, FULL_END = "<!-- full-schedule:begin -->", "<!-- full-schedule:end -->"
FULL_FOLDER = PRETRAINED


def full_schedule_rows() -> list[dict]:
    """The findings the fully trained nets settle (``results/pretrained-akamaster``), or []."""
    path = results_dir() / FULL_FOLDER / "findings.json"
    return json.loads(path.read_text()) if path.exists() else []


def full_schedule_markdown(rows: Sequence[dict]) -> str:
    """The full-schedule findings as a Markdown table: one measurement, no seeds."""
    lines = ["| notebook | finding (paper's direction) | paper | measure | value | holds |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['notebook']} | {r['claim']} | {r['paper']} | {r['metric']} | "
                     f"{format_value(r, r['value'])} | {'yes' if r['holds'] else 'no'} |")
    return "\n".join(lines)


def full_schedule_section() -> str:
    """FINDINGS.md's section on the fully trained nets (empty when not measured)."""
    rows = full_schedule_rows()
    if not rows:
        return ""
    info = json.loads((results_dir() / FULL_FOLDER / "run.json").read_text())
    return (f"{FULL_BEGIN}\n## The full schedule: a public reproduction's trained nets\n\n"
            "ResNet-20/32/44/56 trained by akamaster/pytorch_resnet_cifar10 with He et al.'s "
            "recipe (200 epochs; BSD 2-clause), loaded exactly by `reslab.build_model(name, "
            f"pretrained=\"akamaster\")` and measured by `{info['command']}` on "
            f"{info['device']}, torch {info['torch']}, {info['dataset']} "
            f"({info['test_images']:,} test images for errors, {info['response_images']:,} "
            f"for responses; results/{FULL_FOLDER}/).\n\n"
            + full_schedule_markdown(rows) + f"\n{FULL_END}\n")


def with_full_schedule(text: str) -> str:
    """``text`` (a FINDINGS.md) with its full-schedule section replaced or appended."""
    head = text.split(FULL_BEGIN)[0].rstrip("\n") + "\n"
    section = full_schedule_section()
    return head + ("\n" + section if section else "")


def committed(notebook: str, budget: str = "quick", device: str = "cpu") -> str:
    """The committed findings table's rows for ``notebook``, as lines (or "not yet run")."""
    path = findings_dir(budget, device) / "findings.json"
    if not path.exists():
        return f"findings on the {budget} budget ({device}): not yet run"
    rows = [r for r in json.loads(path.read_text()) if r["notebook"] == notebook]
    info = json.loads((path.parent / "run.json").read_text())
    head = (f"The kit's committed runs ({budget} budget, {info['dataset']}, {info['device']}, "
            f"torch {info['torch']}, seeds {', '.join(map(str, info['seeds']))}):")
    lines = [f"  holds in {sum(r['holds'].values())} of {len(r['holds'])} seeds: "
             f"{r['claim']} ({r['paper']})" for r in rows]
    full = [r for r in full_schedule_rows() if r["notebook"] == notebook]
    if full:
        lines.append(f"The fully trained nets (a public reproduction, results/{FULL_FOLDER}):")
        lines += [f"  {'holds' if r['holds'] else 'does not hold'}: {r['claim']} ({r['paper']};"
                  f" {r['metric']} {format_value(r, r['value'])})" for r in full]
    return "\n".join([head, *lines])
