#!/usr/bin/env python
"""Rewrite the README's generated tables from the committed results.

    python scripts/refresh_readme.py          # rewrite README.md
    python scripts/refresh_readme.py --check  # exit 1 if README.md is out of date

Each table sits between ``<!-- <name>:begin -->`` and ``<!-- <name>:end -->``:
``findings`` (``results/findings-quick-cpu/findings.json``) and ``timing``
(``results/course-timing-quick-cpu/timing.json``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reslab import course_timing, findings_table  # noqa: E402
from reslab.paths import results_dir  # noqa: E402


def tables() -> dict[str, str]:
    """The generated tables, by marker name."""
    rows = json.loads((results_dir() / "findings-quick-cpu" / "findings.json").read_text())
    out = {"findings": findings_table.summary(rows)}
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
