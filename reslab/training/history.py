"""A training run's history: one record per evaluation, saved as JSON beside the checkpoints."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reslab.training.checkpoint import atomic_write_json

# Keys of each record. Errors are fractions in [0, 1]; "eval" is the test or validation set.
RECORD_KEYS = ("epoch", "step", "lr", "train_loss", "train_error", "eval_loss", "eval_error",
               "seconds", "images_per_s")


@dataclass
class History:
    """What a run measured: ``records`` (one dict per evaluation), its config and context.

    ``meta`` says where the numbers come from: dataset (with its note, e.g. cifar10-jpeg),
    whether "eval" means test or validation, device, torch version and total wall time.
    """

    label: str
    config: dict[str, Any]
    records: list[dict[str, float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def column(self, key: str) -> list[float]:
        """One value per record, e.g. ``history.column("eval_error")``."""
        return [r[key] for r in self.records]

    def last(self, key: str) -> float:
        """The last record's value (``nan`` if nothing was recorded yet)."""
        return self.records[-1][key] if self.records else float("nan")

    @property
    def finished(self) -> bool:
        return bool(self.records) and self.records[-1]["step"] >= self.config["iterations"]

    def save(self, path: str | Path) -> None:
        atomic_write_json(Path(path), asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> History:
        with open(path) as f:
            return cls(**json.load(f))

    def summary(self) -> str:
        """One line: label, dataset, final train and eval error."""
        split = self.meta.get("eval_split", "test")
        return (f"{self.label} on {self.meta.get('dataset', '?')}: train error "
                f"{100 * self.last('train_error'):.2f}%, {split} error "
                f"{100 * self.last('eval_error'):.2f}% after {self.last('step'):,} iterations")
