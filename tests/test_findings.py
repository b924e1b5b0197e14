"""Each notebook's default experiment and the findings table (``python -m reslab findings``)."""
from __future__ import annotations

import json

import pytest

from reslab.cli import main
from reslab.paths import findings_dir
from reslab.course import experiments, findings
from reslab.course.lessons.finding import chance_share
from reslab.training.history import History


def _history(label: str, train_error: float, eval_error: float, losses=(1.0,)) -> History:
    records = [{"step": i + 1, "train_loss": loss, "train_error": train_error,
                "eval_error": eval_error} for i, loss in enumerate(losses)]
    return History(label, {"iterations": len(losses)}, records)


def test_degradation_findings_read_the_papers_direction():
    h = {"plain20": _history("plain20", 0.50, 0.5), "plain56": _history("plain56", 0.80, 0.8),
         "resnet20": _history("resnet20", 0.45, 0.5),
         "resnet56": _history("resnet56", 0.55, 0.5, losses=(2.31, 2.0, 1.5))}
    found = {f.claim: f for f in findings.findings(experiments.Result("01", h))}
    degradation = found["plain-56 trains worse than plain-20 (degradation)"]
    assert degradation.holds and degradation.value == pytest.approx(-30.0)
    assert found["ResNet-56 trains better than plain-56"].holds
    assert not found["ResNet-56 trains better than ResNet-20"].holds   # 55% vs 45%
    chance = found["resnet56 starts converging at once (below chance at every evaluation)"]
    assert chance.value == pytest.approx(0.33) and not chance.holds     # 1 of 3 evaluations
    assert found["resnet20 starts converging at once (below chance at every evaluation)"].holds


def test_a_loss_above_chance_has_not_left_chance_level():
    """ln 10 = 2.303: a loss well above it (ResNet-56 at lr 0.1 jumps to 2.8) counts as at
    chance, and so does an error of 90% or more (He et al.'s "<90% error" mark)."""
    above = _history("resnet56", 0.84, 0.8, losses=(2.83, 2.0, 1.8, 1.7))
    assert chance_share(above) == pytest.approx(0.25)
    guessing = _history("plain56", 0.91, 0.9, losses=(2.2,))   # below ln 10, but 91% error
    assert chance_share(guessing) == 1.0
    learning = _history("resnet20", 0.85, 0.8, losses=(2.25, 2.0))
    assert chance_share(learning) == 0.0


def test_the_table_alone_is_read_again_from_the_committed_histories(tmp_path, monkeypatch):
    """``findings --table-only`` recomputes every row from the committed histories and
    measurements: the table follows the current definitions, and keeps run.json's how_run."""
    import shutil

    committed = findings_dir("quick", "cpu")
    monkeypatch.setenv("RESLAB_RESULTS", str(tmp_path / "results"))
    out = findings_dir("quick", "cpu")
    shutil.copytree(committed, out)
    for path in out.glob("seed*/findings.json"):
        path.write_text("[]\n")   # stale or lost findings: rebuilt from the histories
    assert main(["findings", "--table-only"]) == 0
    assert json.loads((out / "findings.json").read_text()) == json.loads(
        (committed / "findings.json").read_text())
    info = json.loads((out / "run.json").read_text())
    assert info["how_run"] == json.loads((committed / "run.json").read_text())["how_run"]


def test_stream_ablation_findings_need_a_drop_in_accuracy():
    rows = [{"layer": 0, "stream": "none", "accuracy": 0.8},
            {"layer": 1, "stream": "residual", "accuracy": 0.5},
            {"layer": 1, "stream": "transient", "accuracy": 0.81}]
    h = {k: _history(k, 0.5, e) for k, e in (("rir32", 0.3), ("rir_resnet32", 0.4),
                                             ("resnet_init32", 0.5), ("cnn32", 0.6))}
    found = findings.findings(experiments.Result("06", h, {"ablation": rows}))
    by_claim = {f.claim: f for f in found}
    assert by_claim["RiR beats ResNet"].holds
    assert by_claim["zeroing the residual stream's learned connections lowers accuracy"].holds
    assert not by_claim["zeroing the transient stream's learned connections lowers "
                        "accuracy"].holds


def test_unknown_notebook_is_one_clear_error():
    with pytest.raises(ValueError, match="no default experiment for notebook '09'"):
        experiments.run("09", "smoke")


def test_findings_command_writes_the_table_for_every_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("RESLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("RESLAB_RESULTS", str(tmp_path / "results"))
    assert main(["findings", "--budget", "smoke", "--seeds", "0", "1", "--dataset",
                 "shapes10", "--notebooks", "03", "--quiet"]) == 0   # 03: two small nets
    out = findings_dir("smoke", "cpu")
    rows = json.loads((out / "findings.json").read_text())
    assert len(rows) == 1 and all(set(r["values"]) == {"0", "1"} for r in rows)
    info = json.loads((out / "run.json").read_text())
    assert info["dataset"] == "shapes10" and info["torch"] and info["device"].startswith("CPU")
    assert info["command"].startswith("python -m reslab findings --budget smoke")
    table = (out / "FINDINGS.md").read_text()
    assert "| 03 | the kit's own question: does a 29-layer bottleneck net beat ResNet-20 on CIFAR? |" in table
    assert "of 2 |" in table
    for seed in (0, 1):
        history = History.load(out / f"seed{seed}" / "03" / "resnet29-bottleneck" /
                               "history.json")
        assert history.config["seed"] == seed and history.meta["folder"] is None


def test_readme_tables_are_generated_from_the_committed_results():
    """The README's findings and timing tables are what the committed JSON says."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "scripts/refresh_readme.py", "--check"], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_course_timing_reads_minutes_per_notebook(tmp_path, monkeypatch):
    from reslab.course import timing as course_timing
    monkeypatch.setenv("RESLAB_RESULTS", str(tmp_path))
    assert course_timing.course_minutes() == {}
    assert "not yet run" in course_timing.summary()
    info = {"budget": "quick", "command": "c", "device": "CPU (x, 2 cores)", "torch": "2.11",
            "threads": 2, "date": "d", "load_before": [0.1], "load_after": [1.9],
            "total_seconds": 900.0,
            "notebooks": {"00": {"seconds": 60.0, "default_experiment_seconds": None},
                          "01": {"seconds": 840.0, "default_experiment_seconds": 540.0}}}
    folder = tmp_path / "course-timing-quick-cpu"
    folder.mkdir()
    (folder / "timing.json").write_text(json.dumps(info))
    assert course_timing.course_minutes() == {"00": 1.0, "01": 14.0}
    assert course_timing.course_minutes(part="default_experiment_seconds") == {"01": 9.0}
    assert "15 minutes" in course_timing.summary() and "notebook 01" in course_timing.summary()
    assert "| 01 | 9.0 | 14.0 |" in course_timing.markdown(info)


def test_the_minutes_a_notebook_quotes_are_the_committed_course_timing():
    """"N minutes on an idle 2-core CPU" in a notebook is its default experiment's time in
    ``results/course-timing-quick-cpu/``: re-timing the course shows every stale number."""
    import re
    from pathlib import Path

    from reslab.course import timing as course_timing
    committed = course_timing.course_minutes(part="default_experiment_seconds")
    quoted = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb")):
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        for minutes in re.findall(r"(\d+\.\d) minutes on an idle 2-core CPU", text):
            quoted.setdefault(path.name[:2], []).append(float(minutes))
    assert len(quoted) >= 6, quoted
    assert {nb: [committed.get(nb)] * len(m) for nb, m in quoted.items()} == quoted
