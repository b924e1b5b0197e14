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
    """The kit's committed reference results (``results/`` of a checkout)."""
    return Path(os.environ.get("RESLAB_RESULTS", REPO_DIR / "results")).expanduser()


def shared_dirs() -> list[Path]:
    """Folders that may hold the course's shared files (``../shared`` beside the checkout)."""
    places = [Path(os.environ["RESLAB_SHARED"]).expanduser()] if os.environ.get(
        "RESLAB_SHARED") else []
    places += [REPO_DIR.parent / "shared", Path.cwd().parent / "shared"]
    return list(dict.fromkeys(p.resolve() for p in places))
