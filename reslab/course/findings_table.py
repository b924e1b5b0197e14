"""The committed findings table (``results/findings-<budget>-<device>/FINDINGS.md``): its rows
as Markdown, and the section on the fully trained nets (``results/pretrained-akamaster/``).
:mod:`reslab.tools.run_findings` writes it; the README's copy of that section comes from here.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from reslab.course.lessons.finding import format_value
from reslab.paths import PRETRAINED, results_dir


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
