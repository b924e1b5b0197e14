"""``python -m reslab findings``: every notebook's default experiment for several seeds, and the
table of the papers' findings that they show (``results/findings-<budget>-<device>/``;
read by :mod:`reslab.course.findings_table`).

The folder holds ``FINDINGS.md`` (the table), ``findings.json`` (the same as data), ``run.json``
(command, device, torch version, dataset, the budget's deviations from the paper, and the wall
time of each notebook's experiment per seed), and ``seed<k>/<notebook>/...`` with every run's
``history.json`` and the measurements (Fig. 7 responses, RiR stream ablation). Training runs
keep checkpoints in ``runs/findings-<budget>/seed<k>/``, so a stopped job resumes.
"""
from __future__ import annotations

import json
import platform
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from reslab.course import experiments
from reslab.course.findings import findings
from reslab.course.lessons.finding import Finding
from reslab.course.findings_table import markdown, with_full_schedule
from reslab.paths import findings_dir, runs_dir
from reslab.training.budget import get_budget
from reslab.training.checkpoint import atomic_write_json
from reslab.training.history import History


def _device() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def results_folder(budget: str) -> Path:
    """``results/findings-<budget>-<cpu|gpu>`` of this machine."""
    return findings_dir(budget, _device())


def _save_result(result: experiments.Result, folder: Path) -> None:
    """Every run's ``<label>/history.json`` and every measurement that is plain data as
    ``<name>.json`` (one made of histories, as 08's phases, is saved as those runs)."""
    for label, history in result.histories.items():
        history.meta["folder"] = None  # a local path means nothing in the repository
        history.save(folder / label.replace(":", "-") / "history.json")
    for name, value in result.measurements.items():
        try:
            text = json.dumps(value, indent=1)
        except TypeError:  # not plain data: rebuilt from the histories by its lesson
            continue
        (folder / f"{name}.json").write_text(text + "\n")


def _longest(path: Path, notebook: str, seconds: float) -> float:
    """Keep the longest time measured for a notebook: a resumed job re-reads finished runs."""
    times = json.loads(path.read_text()) if path.exists() else {}
    times[notebook] = round(max(seconds, times.get(notebook, 0.0)), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(times, indent=1) + "\n")
    return times[notebook]


def run_seed(seed: int, budget: str, dataset: str, notebooks: Sequence[str], out: Path,
             progress: bool) -> tuple[list[Finding], dict[str, float], dict]:
    """Every notebook's experiment for one seed, in course order (shared runs are reused)."""
    found, seconds, meta = [], {}, {}
    for nb in notebooks:
        start = time.perf_counter()
        result = experiments.run(nb, budget, seed=seed, dataset=dataset,
                                 out=runs_dir() / f"findings-{budget}" / f"seed{seed}",
                                 progress=progress)
        seconds[nb] = _longest(out / f"seed{seed}" / "seconds.json", nb,
                               time.perf_counter() - start)
        _save_result(result, out / f"seed{seed}" / nb)
        _save_seed(out / f"seed{seed}", findings(result))  # kept as each notebook ends
        found += findings(result)
        meta = next(iter(result.histories.values())).meta
        print(f"reslab findings: seed {seed}, notebook {nb}: {seconds[nb]:.0f} s", flush=True)
    return found, seconds, meta


def _merge(per_seed: dict[int, list[Finding]]) -> list[dict]:
    """One row per finding: its values for every seed and in how many it holds."""
    rows: dict[tuple[str, str], dict] = {}
    for seed, found in per_seed.items():
        for f in found:
            row = rows.setdefault((f.notebook, f.claim), {
                "notebook": f.notebook, "claim": f.claim, "paper": f.paper,
                "metric": f.metric, "values": {}, "holds": {}})
            row["values"][seed], row["holds"][seed] = f.value, f.holds
    return list(rows.values())


def write_table(out: Path, rows: Sequence[dict], seeds: Sequence[int], info: dict) -> None:
    """Write FINDINGS.md, findings.json and run.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "findings.json").write_text(json.dumps(rows, indent=1) + "\n")
    atomic_write_json(out / "run.json", info)  # a reader never sees half of it
    timing = ", ".join(f"{nb} {t / 60:.1f}" for nb, t in info["seconds"].get(0, {}).items())
    text = (f"# Findings, {info['budget']} budget, {info['dataset']}\n\n"
            f"`{info['command']}` on {info['device']}, torch {info['torch']}, "
            f"{info['precision']}.\n\nBudget deviations from the paper: "
            f"{'; '.join(info['deviations']) or 'none'}.\n\nA value marked ✗ points against "
            "the paper's direction. Minutes each notebook took for seed 0, in course order "
            f"(runs shared with an earlier notebook reused): {timing or 'not measured'}; see "
            "run.json for how the machine was shared while they ran."
            "\n\n"
            + markdown(rows, seeds) + "\n")
    (out / "FINDINGS.md").write_text(with_full_schedule(text))


def _save_seed(folder: Path, found: list[Finding]) -> None:
    """Keep one seed's findings in ``seed<k>/findings.json`` (others of that seed kept)."""
    path = folder / "findings.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    notebooks = {f.notebook for f in found}
    rows = [r for r in rows if r["notebook"] not in notebooks] + [f.as_dict() for f in found]
    rows.sort(key=lambda r: r["notebook"])
    path.write_text(json.dumps(rows, indent=1) + "\n")


def committed_result(folder: Path, notebook: str) -> experiments.Result:
    """A notebook's result rebuilt from what :func:`run_seed` saved in ``folder``
    (``seed<k>/<notebook>``): its histories and measurements."""
    histories = {}
    for path in sorted(folder.glob("*/history.json")):
        history = History.load(path)
        prefix = path.parent.name.removesuffix(history.label.replace(":", "-")).rstrip("-")
        histories[f"{prefix}:{history.label}" if prefix else history.label] = history
    measurements = {path.stem: json.loads(path.read_text())
                    for path in sorted(folder.glob("*.json"))}
    return experiments.Result(notebook, histories, measurements)


def reread(out: Path) -> None:
    """Recompute every seed's saved findings from its committed histories and measurements,
    so that the table follows the current definitions of :mod:`reslab.course.findings`."""
    for seed_folder in sorted(out.glob("seed*")):
        for folder in sorted(p for p in seed_folder.iterdir() if p.is_dir()):
            _save_seed(seed_folder, findings(committed_result(folder, folder.name)))


def _recorded(out: Path, key: str) -> str:
    """What every committed history's ``meta[key]`` says (the device, the torch version), or
    each value where they differ."""
    found = sorted({str(History.load(p).meta.get(key))
                    for p in out.glob("seed*/*/*/history.json")})
    if len(found) == 1:
        return found[0]
    return " or ".join(found) + " (each history.json's meta names its own)"


def _saved_seeds(out: Path) -> dict[int, list[Finding]]:
    """Every seed's saved findings in ``out`` (seeds run by other invocations included)."""
    found = {}
    for path in sorted(out.glob("seed*/findings.json")):
        found[int(path.parent.name[4:])] = [Finding(**r) for r in json.loads(path.read_text())]
    return dict(sorted(found.items()))


def run_findings(budget: str = "quick", seeds: Sequence[int] = (0, 1, 2),
                 dataset: str = "auto", notebooks: Sequence[str] | None = None,
                 progress: bool = False) -> Path:
    """Run the default experiments for ``seeds`` and write the findings folder; its path.

    The table covers every seed whose findings are saved in the folder, so seeds may be run by
    separate (even concurrent) invocations.
    """
    notebooks = list(notebooks or experiments.EXPERIMENTS)
    out = results_folder(get_budget(budget).name)
    meta = {}
    for seed in seeds:
        _, _, meta = run_seed(seed, budget, dataset, notebooks, out, progress)
    if not seeds:  # only the table, read again from the histories saved in the folder
        meta = History.load(next(out.glob("seed*/*/*/history.json"))).meta
        reread(out)
    per_seed = _saved_seeds(out)
    seconds = {s: json.loads((out / f"seed{s}" / "seconds.json").read_text())
               for s in per_seed if (out / f"seed{s}" / "seconds.json").exists()}
    command = shlex.join(["python", "-m", "reslab", "findings", "--budget", budget, "--seeds",
                          *map(str, seeds or per_seed), "--dataset", meta["dataset"]])
    info = {"command": command, "budget": budget,
            "dataset": meta["dataset"], "dataset_note": meta.get("dataset_note"),
            "device": _recorded(out, "device"), "torch": _recorded(out, "torch"),
            "precision": meta.get("precision", "float32"), "platform": platform.platform(),
            "deviations": get_budget(budget).deviations(), "seeds": list(per_seed),
            "seconds": seconds}
    previous = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    if not seeds and "platform" in previous:  # the table alone: the runs' machine, kept
        info["platform"] = previous["platform"]
    if "how_run" in previous:  # written by whoever ran the seeds: kept
        info["how_run"] = previous["how_run"]
    write_table(out, _merge(per_seed), list(per_seed), info)
    return out
