"""Google Colab: the one place that names the repository the notebooks install from.

Every notebook starts with an "Open in Colab" badge (cell 0, first line) and a setup cell
(cell 1) that, on Colab only, installs reslab from :data:`REPOSITORY`, keeps runs on Google
Drive and prints :func:`runtime_advice`. Whoever publishes the kit sets the repository once::

    python scripts/set_repository.py OWNER/NAME [--branch main]

which rewrites :data:`REPOSITORY`/:data:`BRANCH` here and the badge and setup cell of every
course notebook from :func:`badge` and :func:`setup_source`; ``tests/test_assignments.py``
checks that all notebooks agree with this module.
"""
from __future__ import annotations

REPOSITORY = "reslab-course/reslab"  # owner/name on GitHub
BRANCH = "main"
# The README's bound for one notebook's default experiment on the quick budget, 2-core CPU;
# used when no committed findings run measured it.
QUICK_CPU_MINUTES = 10.0

_SETUP = '''# Setup. On Google Colab: install reslab, keep runs on Google Drive (so a disconnected
# session resumes where it stopped) and say what this runtime can do. Elsewhere: nothing.
import os, subprocess, sys
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/{repository}@{branch}"], check=True)
    from google.colab import drive
    drive.mount("/content/drive")
    os.environ.setdefault("RESLAB_RUNS", "/content/drive/MyDrive/reslab/runs")
    from reslab.course import colab
    colab.runtime_advice("{notebook}")'''


def badge(notebook_file: str) -> str:
    """The badge line of cell 0 for ``notebook_file`` (e.g. ``"01_degradation.ipynb"``)."""
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/"
            f"{notebook_file})")


def setup_source(notebook_file: str) -> str:
    """The source of the setup cell (cell 1) of ``notebook_file``."""
    return _SETUP.format(repository=REPOSITORY, branch=BRANCH, notebook=notebook_file[:2])


def cpu_minutes(budget: str, notebook: str) -> float:
    """Estimated minutes of ``notebook``'s default experiment on a 2-core CPU at ``budget``.

    Scaled by iterations from the committed quick-budget course timing (the kit's 2-core CPU,
    like a Colab CPU runtime), or from :data:`QUICK_CPU_MINUTES` when it is not committed.
    """
    from reslab.course.timing import course_minutes
    from reslab.training.budget import get_budget

    minutes = course_minutes("quick", "cpu", "default_experiment_seconds").get(
        notebook, QUICK_CPU_MINUTES)
    return minutes * get_budget(budget).iterations / get_budget("quick").iterations


def duration(minutes: float) -> str:
    """``95.0`` -> ``"about 1.6 hours"``; ``3.2`` -> ``"about 3 minutes"``."""
    if minutes >= 90:
        return f"about {minutes / 60:,.1f} hours"
    return f"about {max(1, round(minutes))} minutes"


def runtime_advice(notebook: str) -> None:
    """Print whether this runtime has a GPU and what the active budget will take on it."""
    import torch

    from reslab.training.budget import get_budget

    budget = get_budget().name
    if torch.cuda.is_available():
        print(f"reslab: GPU runtime ({torch.cuda.get_device_name()}); budget '{budget}'.")
        return
    took = duration(cpu_minutes(budget, notebook))
    print(f"reslab: this runtime has no GPU. Notebook {notebook}'s experiment on the "
          f"'{budget}' budget takes {took} on a 2-core CPU ('full': "
          f"{duration(cpu_minutes('full', notebook))}).\n"
          "For a GPU: Runtime > Change runtime type > Hardware accelerator: T4 GPU > Save, "
          "then run this notebook again from the top (runs on Drive are kept).")
