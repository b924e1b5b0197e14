"""Where reslab reads and writes: datasets, runs (checkpoints, histories) and results.

Each place can be moved with an environment variable, e.g. to Google Drive on Colab::

    RESLAB_DATA=/content/drive/MyDrive/reslab/data
    RESLAB_RUNS=/content/drive/MyDrive/reslab/runs
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent  # a checkout; for an installed wheel this is site-packages


def _in_checkout() -> bool:
    return (REPO_DIR / "pyproject.toml").exists() and (REPO_DIR / "reslab").is_dir()


def data_dir() -> Path:
    """Downloads and caches: ``$RESLAB_DATA``, else ``data/`` of a checkout, else ~/.cache."""
    if os.environ.get("RESLAB_DATA"):
        return Path(os.environ["RESLAB_DATA"]).expanduser()
    return REPO_DIR / "data" if _in_checkout() else Path.home() / ".cache" / "reslab" / "data"


def runs_dir() -> Path:
    """Checkpoints and histories of training runs: ``$RESLAB_RUNS``, else ``runs/``."""
    if os.environ.get("RESLAB_RUNS"):
        return Path(os.environ["RESLAB_RUNS"]).expanduser()
    return REPO_DIR / "runs" if _in_checkout() else Path.cwd() / "runs"


def results_dir() -> Path:
    """The kit's committed reference results (``results/`` of a checkout, or
    ``$RESLAB_RESULTS``). Its layout is written here once, and every script, tool and test
    goes through these functions:

    * ``<set>/run.json``, ``<set>/<label>/history.json``: a reference set
      (:func:`reference_dir`, read by :mod:`reslab.course.results`);
    * ``findings-<budget>-<device>/``: the findings table and its runs (:func:`findings_dir`);
    * ``pretrained-akamaster/``: the fully trained nets' measurements (:func:`pretrained_dir`);
    * ``course-timing-<budget>-<device>/``: how long the notebooks take (:func:`timing_dir`);
    * ``browser-test/``: screenshots of a notebook in a browser (:func:`browser_test_dir`).
    """
    return Path(os.environ.get("RESLAB_RESULTS", REPO_DIR / "results")).expanduser()


def reference_dir(name: str) -> Path:
    """``results/<name>``: a committed reference set."""
    return results_dir() / name


def findings_dir(budget: str, device: str) -> Path:
    """``results/findings-<budget>-<device>`` (device ``cpu`` or ``gpu``): ``FINDINGS.md``,
    ``findings.json``, ``run.json`` and ``seed<k>/<notebook>/`` (see
    :mod:`reslab.tools.run_findings`)."""
    return results_dir() / f"findings-{budget}-{device}"


PRETRAINED = "pretrained-akamaster"


def pretrained_dir() -> Path:
    """``results/pretrained-akamaster``: the four fully trained ResNets, measured."""
    return results_dir() / PRETRAINED


def timing_dir(budget: str, device: str) -> Path:
    """``results/course-timing-<budget>-<device>``: ``timing.json`` and ``TIMING.md``."""
    return results_dir() / f"course-timing-{budget}-{device}"


def browser_test_dir() -> Path:
    """``results/browser-test``: the browser test's screenshots."""
    return results_dir() / "browser-test"


def shared_dirs() -> list[Path]:
    """Folders that may hold the course's shared files (``../shared`` beside the checkout)."""
    places = [Path(os.environ["RESLAB_SHARED"]).expanduser()] if os.environ.get(
        "RESLAB_SHARED") else []
    places += [REPO_DIR.parent / "shared", Path.cwd().parent / "shared"]
    return list(dict.fromkeys(p.resolve() for p in places))
