"""The findings ledger: each finding a notebook tests, beside every run the kit has of it.

One row per finding (:class:`~reslab.course.lessons.finding.Finding`), with the columns

* the finding, and where the paper makes it: section, figure or table, and its dataset;
* **your run**: filled in when the reader runs the notebook (:func:`show`);
* **kit, quick**: in how many seeds of the kit's committed quick runs it holds;
* **kit, medium**: the same for the medium reference runs, naming the device ("not run"
  where there is no set); of two sets, the one with more seeds of that row;
* **fully trained**: what the public reproduction's fully trained nets show, where they
  measure that comparison (``results/pretrained-akamaster/findings.json``).

Everything is read from committed JSON (``results/findings-<budget>-<device>/findings.json``),
never typed: a notebook stores its rows between ``<!-- ledger:begin NN -->`` and
``<!-- ledger:end -->``, the README all of them, and a test regenerates both.
Below the table, each row that goes against the paper in a kit column says why that is
expected, in the words of its lesson module's ``AGAINST``.
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reslab.course.lessons import (bottlenecks, degradation, responses, resresnet, rir, ror,
                                   shortcuts, successive)
from reslab.course.lessons.finding import Finding, format_value
from reslab.paths import findings_dir, pretrained_dir

LESSONS = {"01": degradation, "02": shortcuts, "03": bottlenecks, "04": responses,
           "05": resresnet, "06": rir, "07": ror, "08": successive}
# A fully trained measurement that answers a finding of the short runs: (notebook, claim) of
# the finding -> the claim of the fully trained row.
SAME_QUESTION = {
    ("01", "ResNet-56 trains better than ResNet-20"):
        "ResNet-56 has lower test error than ResNet-20 (fully trained, cifar10-jpeg)",
    ("04", "ResNet-56 responds less than ResNet-20"):
        "the deeper ResNet responds less: ResNet-56 vs ResNet-20 (fully trained, cifar10-jpeg)",
}
HEAD = ["finding", "the paper (where, dataset)", "your run", "kit, quick", "kit, medium",
        "fully trained"]
BEGIN, END = "<!-- ledger:begin {} -->", "<!-- ledger:end -->"


@dataclass
class Row:
    """One finding and what each column says of it."""

    notebook: str
    claim: str
    paper: str
    metric: str
    kit: dict[str, str] = field(default_factory=dict)      # column -> cell
    against: list[str] = field(default_factory=list)       # kit columns against the paper


def kit_sets(budget: str) -> list[Path]:
    """The committed findings folders of ``budget``, one per device."""
    pattern = findings_dir(budget, "*")   # every device
    return sorted(p.parent for p in pattern.parent.glob(f"{pattern.name}/findings.json"))


def _device(folder: Path) -> str:
    return folder.name.rsplit("-", 1)[1].upper()


def _kit_cell(row: dict, device: str, name_device: bool) -> str:
    k, n = sum(row["holds"].values()), len(row["holds"])
    mean = statistics.mean(row["values"].values())
    where = f", {device}" if name_device else ""
    return f"{k} of {n}{where} (mean {format_value(row, mean)})"


def _best_rows(budget: str) -> dict[tuple[str, str], tuple[dict, str]]:
    """Each finding's row in the set of ``budget`` that has the most seeds of it."""
    best: dict[tuple[str, str], tuple[dict, str]] = {}
    for folder in kit_sets(budget):
        for row in json.loads((folder / "findings.json").read_text()):
            key, held = (row["notebook"], row["claim"]), best.get((row["notebook"], row["claim"]))
            if held is None or len(row["holds"]) > len(held[0]["holds"]):
                best[key] = (row, _device(folder))
    return best


def fully_trained_rows() -> list[dict]:
    """The fully trained nets' findings (``results/pretrained-akamaster``), or []."""
    path = pretrained_dir() / "findings.json"
    return json.loads(path.read_text()) if path.exists() else []


def _full_cell(row: dict) -> str:
    return f"{'holds' if row['holds'] else 'against'}: {row['metric']} {format_value(row, row['value'])}"


def rows(notebook: str | None = None) -> list[Row]:
    """The ledger's rows, in course order (only ``notebook``'s when given)."""
    quick, medium = _best_rows("quick"), _best_rows("medium")
    full = {r["claim"]: r for r in fully_trained_rows()}
    out: dict[tuple[str, str], Row] = {}
    for key, (row, _) in [*quick.items(), *medium.items()]:
        out.setdefault(key, Row(row["notebook"], row["claim"], row["paper"], row["metric"]))
    for column, sets in (("kit, quick", quick), ("kit, medium", medium)):
        for key, row in out.items():
            found = sets.get(key)
            row.kit[column] = _kit_cell(found[0], found[1], column == "kit, medium") \
                if found else "not run"
            if found and not all(found[0]["holds"].values()):
                row.against.append(column.removeprefix("kit, "))
    for key, row in out.items():
        match = full.pop(SAME_QUESTION.get(key, ""), None)
        row.kit["fully trained"] = _full_cell(match) if match else "—"
    for r in full.values():   # measured only on the fully trained nets
        row = Row(r["notebook"], r["claim"], r["paper"], r["metric"])
        row.kit = {"kit, quick": "—", "kit, medium": "—", "fully trained": _full_cell(r)}
        out[(r["notebook"], r["claim"])] = row
    ordered = sorted(out.values(), key=lambda r: r.notebook)
    return [r for r in ordered if notebook is None or r.notebook == notebook]


def _your_cell(row: Row, yours: dict[str, Finding] | None) -> str:
    if yours is None:
        return "run the notebook"
    mine = yours.get(row.claim)
    if mine is None:
        return "—"
    return f"{format_value(mine)} {'✓' if mine.holds else '✗'}"


def markdown(notebook: str | None = None, yours: Sequence[Finding] | None = None) -> str:
    """The ledger as a Markdown table (with a notebook column when it covers every notebook),
    then why each row against the paper is expected."""
    mine = None if yours is None else {f.claim: f for f in yours}
    head = (["notebook"] if notebook is None else []) + HEAD
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows(notebook):
        cells = ([r.notebook] if notebook is None else []) + [
            f"{r.claim} ({r.metric})", r.paper, _your_cell(r, mine), r.kit["kit, quick"],
            r.kit["kit, medium"], r.kit["fully trained"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    why = [f"* **{r.claim}** — {_verdict(r)} in the kit's {' and '.join(r.against)} runs. "
           f"Expected: {reason(r)}." for r in rows(notebook) if r.against]
    return "\n".join(lines + ([""] + why if why else []))


OWN_QUESTION = "the kit's own question"


def _verdict(row: Row) -> str:
    if row.claim.startswith(OWN_QUESTION):
        return "not every seed answers yes"
    return "against the paper in some or all seeds"


def reason(row: Row) -> str:
    """Why ``row`` can go against the paper, from its lesson's ``AGAINST`` (a test requires
    one for every row that does)."""
    return getattr(LESSONS[row.notebook], "AGAINST", {}).get(row.claim, "not explained yet")


def sources() -> str:
    """One line naming the committed sets the kit's columns read."""
    sets = [f"results/{p.name}/" for b in ("quick", "medium") for p in kit_sets(b)]
    return ("Kit columns: in how many seeds the finding holds, with the mean value, read from "
            + ", ".join(sets) + f" and results/{pretrained_dir().name}/ (each folder's run.json names "
            "the command, device, torch version, precision and dataset; all on cifar10-jpeg).")


def cell(notebook: str) -> str:
    """The Markdown cell a notebook stores: its rows of the ledger, kit columns filled."""
    return "\n".join([BEGIN.format(notebook), f"### The findings ledger: notebook {notebook}", "",
                      markdown(notebook), "", sources(), END])


def show(result) -> None:
    """Display the notebook's ledger with **your run** filled in from ``result``."""
    from reslab.course.findings import findings
    try:
        yours = findings(result)
    except KeyError:   # not the default experiment's nets: nothing of yours to compare
        yours = []
    text = markdown(result.notebook, yours)
    try:
        from IPython.display import Markdown, display
        display(Markdown(text))
    except ImportError:
        print(text)
