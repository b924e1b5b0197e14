"""What every notebook's findings share: the :class:`Finding` record, how its value is written,
a run's final error, and how long a run sat at chance level.

Each :class:`Finding` is one comparison a paper makes (e.g. "plain-56 has higher training error
than plain-20", He et al. 2016, Fig. 6), the value the reader's own run gives, and whether that
value points the paper's way.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from reslab.course.lessons.experiment import Result
from reslab.training.history import History

CHANCE_LOSS = math.log(10)   # cross-entropy of a uniform guess over 10 classes


@dataclass(frozen=True)
class Finding:
    """One comparison: ``value`` (percentage points, or a ratio) and whether it ``holds``."""

    notebook: str
    claim: str          # what the paper found, in the words of the comparison
    paper: str          # where the paper says so, and its numbers
    metric: str         # what ``value`` is
    value: float
    holds: bool

    def line(self) -> str:
        """One sentence for a notebook's "What to notice"."""
        verdict = "as in the paper" if self.holds else "NOT as in the paper, in this run"
        return f"{self.claim}: {self.metric} = {format_value(self)} -- {verdict}"

    def as_dict(self) -> dict:
        return asdict(self)


def format_value(finding: Finding | dict, value: float | None = None) -> str:
    """A difference in points with its sign ("-4.20"); a ratio or share without ("0.83")."""
    metric = finding.metric if isinstance(finding, Finding) else finding["metric"]
    value = finding.value if value is None else value
    return f"{value:+.2f}" if "points" in metric else f"{value:.2f}"


def final(history: History, key: str = "train_error") -> float:
    """The last evaluation's value of ``key``, in percent."""
    return 100 * history.last(key)


CONVERGING_ERROR = 0.90      # He et al. 2016, footnote 5: "starts converging (<90% error)"


def chance_share(history: History, tolerance: float = 0.05) -> float:
    """The share of evaluations at which a run has not yet left chance level.

    An evaluation has left it when its training loss is below ln 10 by more than
    ``tolerance`` *and* its training error is below 90%, He et al.'s (2016) mark of a net
    that "starts converging (<90% error)" (footnote 5, on ResNet-110 at lr 0.1). A loss at
    chance or above it (a net that jumped above chance) has not left chance level.
    """
    records = [r for r in history.records if "train_loss" in r]
    stuck = [r["train_loss"] > CHANCE_LOSS - tolerance
             or r.get("train_error", 0.0) >= CONVERGING_ERROR for r in records]
    return sum(stuck) / max(1, len(stuck))


def lower(notebook: str, claim: str, paper: str, h: dict, better: str, worse: str,
          key: str = "eval_error") -> Finding:
    """A finding that ``better``'s final ``key`` is below ``worse``'s."""
    kind = "training" if key == "train_error" else "test"
    value = final(h[better], key) - final(h[worse], key)
    return Finding(notebook, claim, paper, f"{kind} error {better} - {worse} (points)",
                   round(value, 2), value < 0)


def notes(result: Result) -> list[str]:
    """Plain words about runs that stay near chance: "trains worse" or "has not started"."""
    out = []
    for label, history in result.histories.items():
        share = chance_share(history)
        if share > 0.5:
            out.append(f"{label}'s training loss stayed at or above chance (ln 10) at "
                       f"{100 * share:.0f}% of its evaluations: it has barely started to "
                       "learn. At this budget its higher error means it does not train yet, "
                       "not that it converged to a worse fit.")
        elif share > 0:
            out.append(f"{label} sat at or above chance level for {100 * share:.0f}% of its "
                       "evaluations before it started to learn.")
    return out
