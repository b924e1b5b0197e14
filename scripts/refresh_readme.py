#!/usr/bin/env python
"""Rewrite the README's generated tables from the committed results.

    python scripts/refresh_readme.py          # rewrite README.md
    python scripts/refresh_readme.py --check  # exit 1 if README.md is out of date

Each table sits between ``<!-- <name>:begin -->`` and ``<!-- <name>:end -->``:
``findings`` (the findings ledger, :mod:`reslab.course.ledger`, from every committed
``results/findings-<budget>-<device>/findings.json``), ``timing``
(``results/course-timing-quick-cpu/timing.json``), ``reproduction`` (He et al.'s Table 6
beside the final errors of 01's nets in every committed set), ``pretrained`` (the fully
trained nets of ``results/pretrained-akamaster``) and ``full-schedule`` (the findings they
settle).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reslab import paper  # noqa: E402
from reslab.course import findings_table, ledger
from reslab.course import timing as course_timing
from reslab.paths import findings_dir, pretrained_dir, reference_dir  # noqa: E402
from reslab.training.history import History  # noqa: E402

NETS = {"plain20": "plain-20", "plain56": "plain-56", "resnet20": "ResNet-20",
        "resnet56": "ResNet-56", "resnet110": "ResNet-110"}
FULL_NETS = {"resnet32": "ResNet-32", "resnet44": "ResNet-44"}


def _errors(histories: list[History]) -> str:
    """Mean final training / test error (%) of some runs of one net, or "not run"."""
    if not histories:
        return "not run"
    train = statistics.mean(100 * h.last("train_error") for h in histories)
    test = statistics.mean(100 * h.last("eval_error") for h in histories)
    seeds = f" ({len(histories)} seeds)" if len(histories) > 1 else ""
    return f"{train:.1f} / {test:.1f}{seeds}"


def reproduction() -> str:
    """Table 6 (and the Gelda et al. plain nets) beside the kit's committed runs of 01's nets."""
    def runs(folder: Path, net: str) -> list[History]:
        return [History.load(p) for p in sorted(folder.glob(f"{net}/history.json"))]

    def every_seed(findings: Path, net: str) -> list[History]:   # 01's runs of a findings set
        return [h for seed in sorted(findings.glob("seed*")) for h in runs(seed / "01", net)]

    quick, medium = findings_dir("quick", "cpu"), findings_dir("medium", "cpu")
    lines = ["| net | paper, full schedule (test error) | kit, full schedule on a GPU | "
             "kit, medium budget on CPU (cifar10-jpeg), mean of seeds: train / test error | "
             "kit, quick budget on CPU (cifar10-jpeg), mean of seeds: train / test error |",
             "|---|---|---|---|---|"]
    for net, name in NETS.items():
        depth = int(net.removeprefix("plain").removeprefix("resnet"))
        cited = (f"{paper.TABLE6_ERROR[net]:.2f}" if net in paper.TABLE6_ERROR else
                 f"(Gelda: {100 - paper.GELDA_ACCURACY['plain'][depth]:.2f})")
        lines.append(" | ".join([
            f"| {name}", cited,
            _errors(runs(reference_dir("gpu-full-degradation"), net)).replace(
                "not run", "not run yet"),
            _errors(every_seed(medium, net)),
            _errors(every_seed(quick, net)),
        ]) + " |")
    return "\n".join(lines)


def pretrained() -> str:
    """The fully trained nets: Table 6, the publisher's error, and the committed measurement."""
    folder = pretrained_dir()
    run = json.loads((folder / "run.json").read_text())
    errors = json.loads((folder / "errors.json").read_text())
    responses = json.loads((folder / "responses.json").read_text())
    provenance = json.loads((folder / "provenance.json").read_text())
    data = f"{run['dataset']}, {run['test_images']:,} images"
    lines = [f"| net | paper, Table 6 (CIFAR-10) | publisher (CIFAR-10) | test error ({data}) | "
             f"same weights, zeros after ({data}) | mean response std "
             f"({run['response_images']:,} images) |", "|---|---|---|---|---|---|"]
    for net, err in errors.items():
        stds = [r["std"] for r in responses[net]]
        lines.append(f"| {NETS.get(net) or FULL_NETS[net]} | {paper.TABLE6_ERROR[net]:.2f} | "
                     f"{provenance[net]['published_test_error']:.2f} | {err:.2f} | "
                     f"{run['test_error_with_zeros_after'][net]:.2f} | "
                     f"{sum(stds) / len(stds):.3f} |")
    return "\n".join(lines)


def tables() -> dict[str, str]:
    """The generated tables, by marker name."""
    out = {"findings": ledger.markdown() + "\n\n" + ledger.sources(),
           "reproduction": reproduction()}
    if findings_table.full_schedule_rows():
        out["pretrained"] = pretrained()
        out["full-schedule"] = findings_table.full_schedule_markdown(
            findings_table.full_schedule_rows())
    timing = course_timing.timing("quick", "cpu")
    if timing:
        out["timing"] = course_timing.table(timing)
    return out


def refreshed(text: str) -> str:
    """``text`` with every marked table replaced by its generated version."""
    for name, table in tables().items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {name}:begin/end --> markers")
        text = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = refreshed(text)
    if args.check:
        sys.exit(0 if new == text else "README.md's tables are out of date: run "
                 "python scripts/refresh_readme.py")
    readme.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
