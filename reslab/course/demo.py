"""``python -m reslab demo``: the degradation problem in a few minutes, on any machine.

Trains plain-20, plain-56, ResNet-20 and ResNet-56 in lockstep on the same batches of the best
dataset available (CIFAR-10, else its offline JPEG copy, else Fashion-MNIST, else the embedded
shapes10), then draws their training and test error in the style of He et al. 2016, Fig. 6.
The demo uses the quick budget's short recipe (a linear lr warm-up over the first 40
iterations, see :mod:`reslab.training.budget`) for 200 iterations: a few minutes on 2 CPU cores.
"""
from __future__ import annotations

from pathlib import Path

from reslab.course.findings import findings
from reslab.course.lessons.experiment import Result
from reslab.course.lessons.finding import notes
from reslab.course.plots import degradation_figure
from reslab.training.budget import Budget
from reslab.training.history import History
from reslab.training.loop import sweep

DEMO_MODELS = ("plain20", "plain56", "resnet20", "resnet56")


def demo_budget(iterations: int = 200) -> Budget:
    """10,000 training images, 500 test images, an evaluation every ``iterations / 8``, and
    the quick budget's linear warm-up (at most a fifth of the run)."""
    return Budget("demo", train_subset=10_000, test_subset=500, iterations=iterations,
                  eval_every=max(1, iterations // 8), linear_warmup=min(40, iterations // 5))


def run_demo(out: Path = Path("runs/demo"), iterations: int = 200,
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
    for finding in findings(Result("01", histories)):
        print(f"  - {finding.line()}")
    for note in notes(Result("01", histories)):
        print(f"  - {note}")
    print("  (He et al.'s Fig. 6 shows ResNet-56 below ResNet-20 after the full schedule, "
          "64k iterations on a GPU; a few hundred iterations rarely show it)")
    return histories
