"""``python -m reslab demo``: the degradation problem in a few minutes, on any machine.

Trains plain-20, plain-56, ResNet-20 and ResNet-56 in lockstep on the same batches of the best
dataset available (CIFAR-10, else its offline JPEG copy, else Fashion-MNIST, else the embedded
shapes10), then draws their training and test error in the style of He et al. 2016, Fig. 6.
On 2 CPU cores the default 120 iterations take about 6 minutes; a GPU runs the paper's 64k.
"""
from __future__ import annotations

from pathlib import Path

from reslab.budget import Budget
from reslab.history import History
from reslab.plots import degradation_figure
from reslab.trainer import sweep

DEMO_MODELS = ("plain20", "plain56", "resnet20", "resnet56")


def demo_budget(iterations: int = 120) -> Budget:
    """10,000 training images, 1,000 test images, an evaluation every ``iterations / 8``."""
    return Budget("demo", train_subset=10_000, test_subset=1_000, iterations=iterations,
                  eval_every=max(1, iterations // 8))


def run_demo(out: Path = Path("runs/demo"), iterations: int = 120,
             dataset: str = "auto") -> dict[str, History]:
    """Train the four nets, save ``out/fig6_degradation.png``, print what to look at."""
    histories = sweep(DEMO_MODELS, dataset=dataset, budget=demo_budget(iterations), out=out)
    first = next(iter(histories.values()))
    path = Path(out) / "fig6_degradation.png"
    degradation_figure(histories, path)
    print(f"reslab: dataset {first.meta['dataset']}"
          f"{' (' + first.meta['dataset_note'] + ')' if first.meta['dataset_note'] else ''}")
    for name, h in histories.items():
        print(f"  {h.summary()}")
    print(f"reslab: figure saved to {path}")
    for line in what_to_notice(histories):
        print(f"  - {line}")
    return histories


def _compare(histories: dict[str, History], a: str, b: str) -> str:
    ea, eb = (100 * histories[m].last("train_error") for m in (a, b))
    relation = "above" if ea > eb else "below"
    return f"{a}'s training error ({ea:.1f}%) is {relation} {b}'s ({eb:.1f}%)"


def what_to_notice(histories: dict[str, History]) -> list[str]:
    """The comparisons the paper makes (Fig. 6), read off these runs, in words."""
    lines = [_compare(histories, "plain56", "plain20") + ": deeper plain nets train worse, "
             "the degradation problem (He et al. 2016, Fig. 1 and 6)" ,
             _compare(histories, "resnet20", "plain20") + ": at equal depth, shortcuts help",
             _compare(histories, "resnet56", "resnet20") + ": the paper's full schedule (64k "
             "iterations) puts ResNet-56 below ResNet-20; a few hundred CPU iterations are not "
             "enough for the 56-layer nets, which start unstable at lr 0.1"]
    return lines
