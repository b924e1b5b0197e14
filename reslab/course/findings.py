"""The papers' findings, read off the default experiments' results, and the findings table.

Each :class:`Finding` is one comparison a paper makes (e.g. "plain-56 has higher training error
than plain-20", He et al. 2016, Fig. 6), the value the reader's own run gives, and whether that
value points the paper's way. Notebooks print them under "What to notice";
``python -m reslab findings`` runs every default experiment for several seeds and writes the
table (:func:`write_table`) that the notebooks' prose is checked against.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

from reslab.course.experiments import Result
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
        verdict = "as in the paper" if self.holds else "NOT as in the paper, at this budget"
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


def _lower(notebook: str, claim: str, paper: str, h: dict, better: str, worse: str,
           key: str = "eval_error") -> Finding:
    """A finding that ``better``'s final ``key`` is below ``worse``'s."""
    kind = "training" if key == "train_error" else "test"
    value = final(h[better], key) - final(h[worse], key)
    return Finding(notebook, claim, paper, f"{kind} error {better} - {worse} (points)",
                   round(value, 2), value < 0)


START_CONVERGING = ("He et al. 2016, Sec. 4.2 and footnote 5: only ResNet-110 is warmed up; "
                    "at lr 0.1 it \"starts converging (<90% error) after several epochs\"")


def degradation(result: Result) -> list[Finding]:
    h, fig6 = result.histories, "He et al. 2016, Fig. 6"   # Fig. 1 shows plain nets only
    both = f"{fig6} (left and middle)"
    out = [_lower("01", "plain-56 trains worse than plain-20 (degradation)",
                  "He et al. 2016, Fig. 1 and Fig. 6 (left)", h, "plain20", "plain56",
                  "train_error"),
           _lower("01", "ResNet-56 trains better than plain-56", both, h, "resnet56",
                  "plain56", "train_error"),
           _lower("01", "ResNet-20 trains better than plain-20", both, h, "resnet20",
                  "plain20", "train_error"),
           _lower("01", "ResNet-56 trains better than ResNet-20", f"{fig6} (middle)", h,
                  "resnet56", "resnet20", "train_error")]
    for net in ("resnet20", "resnet56"):
        share = chance_share(h[net])
        out.append(Finding("01", f"{net} starts converging at once (below chance at every "
                           "evaluation)", START_CONVERGING,
                           f"share of {net}'s evaluations at or above chance (loss >= "
                           "ln 10 - 0.05 or error >= 90%)", round(share, 2), share == 0))
    return out


def shortcuts(result: Result) -> list[Finding]:
    h, t3 = result.histories, "He et al. 2016, Table 3 (ImageNet ResNet-34, top-1 error"
    return [_lower("02", "option A beats the plain net", f"{t3}: A 25.03 vs plain 28.54)", h,
                   "resnet20", "plain20"),
            _lower("02", "option B is slightly better than A", f"{t3}: B 24.52 vs A 25.03)", h,
                   "resnet20:B", "resnet20"),
            _lower("02", "option C is marginally better than B", f"{t3}: C 24.19 vs B 24.52)",
                   h, "resnet20:C", "resnet20:B")]


def bottlenecks(result: Result) -> list[Finding]:
    return [_lower("03", "a deeper bottleneck net beats a shallower basic-block net",
                   "He et al. 2016, Sec. 4.1 and Table 3 (ResNet-50 22.85 vs ResNet-34 B "
                   "24.52, ImageNet)", result.histories, "resnet29:bottleneck", "resnet20")]


def _mean_std(rows: list[dict]) -> float:
    return sum(r["std"] for r in rows) / len(rows)


def responses(result: Result) -> list[Finding]:
    r, fig7 = result.measurements["responses"], "He et al. 2016, Fig. 7 and Sec. 4.2"
    out = []
    for low, high, claim in (("resnet20", "plain20", "ResNet-20 responds less than plain-20"),
                             ("resnet56", "plain56", "ResNet-56 responds less than plain-56"),
                             ("resnet56", "resnet20", "ResNet-56 responds less than ResNet-20")):
        ratio = _mean_std(r[low]) / _mean_std(r[high])
        out.append(Finding("04", claim, fig7, f"mean response std {low} / {high}",
                           round(ratio, 3), ratio < 1))
    return out


def resresnet(result: Result) -> list[Finding]:
    h, g = result.histories, "Gelda et al. 2016, Fig. 9 (accuracy"
    return [_lower("05", "ResResNet-20 is no better than ResNet-20",
                   f"{g}: 90.05 vs 91.53)", h, "resnet20", "resresnet20"),
            _lower("05", "ResResNet-56 is no better than ResNet-56",
                   f"{g}: 86.03 vs 92.30)", h, "resnet56", "resresnet56")]


def rir(result: Result) -> list[Finding]:
    h, t3 = result.histories, "Targ et al. 2016, Table 3 (accuracy"
    out = [_lower("06", "RiR beats ResNet", f"{t3}: 92.97 vs 92.32)", h, "rir32",
                  "rir_resnet32"),
           _lower("06", "ResNet Init beats CNN", f"{t3}: 89.62 vs 89.03)", h, "resnet_init32",
                  "cnn32"),
           _lower("06", "ResNet beats CNN", f"{t3}: 92.32 vs 89.03)", h, "rir_resnet32",
                  "cnn32")]
    rows = result.measurements["ablation"]
    base = rows[0]["accuracy"]
    for stream in ("residual", "transient"):
        drops = [100 * (base - r["accuracy"]) for r in rows if r["stream"] == stream]
        mean = sum(drops) / len(drops)
        out.append(Finding("06", f"zeroing the {stream} stream's learned connections "
                           "lowers accuracy", "Targ et al. 2016, Fig. 3 (both streams "
                           "contribute to accuracy)",
                           "mean accuracy drop over layers (points)", round(mean, 2), mean > 0))
    return out


def ror(result: Result) -> list[Finding]:
    h, z = result.histories, "Zhang et al. 2017, Tables V-VI"
    gap = {k: final(h[k], "eval_error") - final(h[k], "train_error") for k in ("ror:m3",
                                                                              "ror:m3+SD")}
    return [_lower("07", "RoR-3 beats RoR-1 (m = 1: a ResNet with projection shortcuts)",
                   f"{z} (m = 3 is the best level count)", h, "ror:m3", "ror:m1"),
            _lower("07", "stochastic depth makes RoR-3 better", f"{z} (e.g. RoR-3-WRN40-2 "
                   "4.59 with SD vs 5.01 without)", h, "ror:m3+SD", "ror:m3"),
            Finding("07", "stochastic depth narrows RoR-3's generalisation gap",
                    f"{z}: RoR without SD overfits", "gap (test - train error) with SD - "
                    "without (points)", round(gap["ror:m3+SD"] - gap["ror:m3"], 2),
                    gap["ror:m3+SD"] < gap["ror:m3"])]


COMPARABLE_POINTS = 1.0  # Gelda et al.'s "comparable": 0.51 points apart; 2.84 is "reduced"


def successive(result: Result) -> list[Finding]:
    phases, g = result.measurements["phases"], "Gelda et al. 2016, Sec. III.B (accuracy"
    last = {order: list(runs.values())[-1] for order, runs in phases.items()}
    h = {**last, "resnet32": result.histories["resnet32"]}
    gap = final(h["bottom-up"], "eval_error") - final(h["resnet32"], "eval_error")
    return [_lower("08", "bottom-up beats top-down", f"{g}: 92.15 vs 89.82)", h, "bottom-up",
                   "top-down"),
            Finding("08", "bottom-up is comparable to training the whole net at once "
                    f"(within {COMPARABLE_POINTS:g} point)", f"{g}: bottom-up 92.15 is "
                    "\"comparable to the existing architecture\", ResNet-32's 92.66 in "
                    "Fig. 6 and Fig. 9)", "test error bottom-up - resnet32 (points)",
                    round(gap, 2), abs(gap) <= COMPARABLE_POINTS)]


READERS: dict[str, Callable[[Result], list[Finding]]] = {
    "01": degradation, "02": shortcuts, "03": bottlenecks, "04": responses, "05": resresnet,
    "06": rir, "07": ror, "08": successive}


def findings(result: Result) -> list[Finding]:
    """The findings of one notebook's default experiment."""
    return READERS[result.notebook](result)


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


def show(result: Result) -> None:
    """Print a notebook's findings, and notes on runs near chance, as "What to notice"."""
    for finding in findings(result):
        print("-", finding.line())
    for note in notes(result):
        print("-", note)
