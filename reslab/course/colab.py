"""Google Colab: the one place that names the repository and release the notebooks install from.

Every notebook starts with an "Open in Colab" badge (cell 0, first line) and a setup cell
(cell 1) that, on Colab only, installs reslab from :data:`REPOSITORY` at the release tag
:data:`REF`, keeps runs on Google Drive only when the student ticks ``keep_runs_on_drive`` (a
Colab form field), and prints :func:`runtime_advice`. The cell never waits for a dialog unless
asked to, and a failed install ends with one line naming the URL it tried. Whoever publishes
the kit sets the repository and release once::

    python scripts/set_repository.py OWNER/NAME [--ref v0.1.0]

which rewrites :data:`REPOSITORY`/:data:`REF` here and the badge and setup cell of every
course notebook from :func:`badge` and :func:`setup_source`; ``tests/test_assignments.py``
checks that all notebooks agree with this module, and that :data:`REF` is ``v`` plus the
version in ``pyproject.toml`` (a release tag: a push to ``main`` mid-term changes no
student's kit).
"""
from __future__ import annotations

REPOSITORY = "reslab-course/reslab"  # owner/name on GitHub
REF = "v0.1.0"  # the release tag the notebooks install and open: v + pyproject's version
# The README's bound for one notebook's default experiment on the quick budget, 2-core CPU;
# used when no committed findings run measured it.
QUICK_CPU_MINUTES = 10.0

# Filled in by setup_source(): {repository}, {ref}, {notebook}. The rest is plain Python for
# the notebook's kernel (reslab is not installed yet when it runs).
_SETUP = '''# Setup. On Google Colab: install reslab {ref} and say what this runtime can do. Runs go to the
# runtime's disk; tick keep_runs_on_drive to keep them on Google Drive instead (Drive asks for
# access; a disconnected session then resumes where it stopped). Elsewhere: nothing.
keep_runs_on_drive = False  # @param {{type:"boolean"}}
import os, subprocess, sys
if "google.colab" in sys.modules:
    if keep_runs_on_drive:
        from google.colab import drive
        drive.mount("/content/drive")
        os.environ.setdefault("RESLAB_RUNS", "/content/drive/MyDrive/reslab/runs")
    else:
        print("reslab: runs are kept on this runtime's disk and vanish with the runtime "
              "(tick keep_runs_on_drive to keep them on Google Drive).")
    url = "git+https://github.com/{repository}@{ref}"
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", url],
                      capture_output=True).returncode:
        class InstallFailed(Exception):
            def _render_traceback_(self):  # IPython shows this instead of a traceback
                return [str(self)]
        raise InstallFailed("reslab: pip could not install " + url +
                            " (no network, or no such repository or tag).")
    from reslab.course import colab
    colab.runtime_advice("{notebook}")'''


def badge(notebook_file: str) -> str:
    """The badge line of cell 0 for ``notebook_file`` (e.g. ``"01_degradation.ipynb"``)."""
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{REPOSITORY}/blob/{REF}/notebooks/"
            f"{notebook_file})")


def setup_source(notebook_file: str) -> str:
    """The source of the setup cell (cell 1) of ``notebook_file``."""
    return _SETUP.format(repository=REPOSITORY, ref=REF, notebook=notebook_file[:2])


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
          "then run this notebook again from the top (runs are kept only on Drive: "
          "keep_runs_on_drive in the setup cell).")
