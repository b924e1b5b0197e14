"""Point the kit at the repository and release it is published from: badges and setup cells.

    python scripts/set_repository.py OWNER/NAME [--ref v0.1.0]

Rewrites ``REPOSITORY``/``REF`` in ``reslab/course/colab.py``, then, from
:mod:`reslab.course.colab`, the first line of cell 0 (the "Open in Colab" badge) and cell 1
(the setup cell) of every course notebook and the README's badge and ``torch.hub`` lines: all
name the same repository and ref. The ref is a release tag, ``v`` plus the version in
``pyproject.toml``; tag the release with it before students open the notebooks. ``--check``
changes nothing and exits 1 if a notebook or the README disagrees.
"""
from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_BADGE = re.compile(r"^\[!\[Open In Colab\]\(.*$", flags=re.M)
README_HUB = re.compile(r'torch\.hub\.(load|list|help)\("[^"]*"')
sys.path.insert(0, str(ROOT))

from reslab.course import colab  # noqa: E402


def _set_constants(repository: str, ref: str) -> None:
    path = ROOT / "reslab" / "course" / "colab.py"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'^REPOSITORY = ".*?"', f'REPOSITORY = "{repository}"', text, flags=re.M)
    text = re.sub(r'^REF = ".*?"', f'REF = "{ref}"', text, flags=re.M)
    path.write_text(text, encoding="utf-8")
    importlib.reload(colab)


def expected_cells(nb: dict, name: str) -> tuple[list[str], list[str]]:
    """Cells 0 and 1's sources as :mod:`reslab.course.colab` says they must be."""
    first = "".join(nb["cells"][0]["source"]).split("\n", 1)
    badge = colab.badge(name) + ("\n" + first[1] if len(first) > 1 else "")
    return badge.splitlines(keepends=True), colab.setup_source(name).splitlines(keepends=True)


def sync(check: bool) -> list[str]:
    """Rewrite (or, with ``check``, compare) every notebook; the names that differed."""
    differed = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        badge, setup = expected_cells(nb, path.name)
        if nb["cells"][0]["source"] != badge or nb["cells"][1]["source"] != setup:
            differed.append(path.name)
            nb["cells"][0]["source"], nb["cells"][1]["source"] = badge, setup
            if not check:
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    return differed


def sync_readme(check: bool) -> list[str]:
    """Rewrite (or compare) the README's badge and torch.hub lines; ``["README.md"]`` if they
    differed."""
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    badged = README_BADGE.sub(lambda _: colab.badge("00_setup.ipynb"), text, count=1)
    badged = README_HUB.sub(lambda m: f'torch.hub.{m[1]}("{colab.REPOSITORY}:{colab.REF}"',
                            badged)
    if badged == text:
        return []
    if not check:
        path.write_text(badged, encoding="utf-8")
    return [path.name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", nargs="?", help="OWNER/NAME on GitHub")
    parser.add_argument("--ref", default=None,
                        help="the release tag to install and open (v + pyproject's version)")
    parser.add_argument("--check", action="store_true", help="only report disagreements")
    args = parser.parse_args()
    if args.repository and not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repository):
        parser.error("repository must be OWNER/NAME")
    if args.ref and not re.fullmatch(r"[\w./-]+", args.ref):
        parser.error("ref must be a tag or branch name")
    if not args.check and (args.repository or args.ref):
        _set_constants(args.repository or colab.REPOSITORY, args.ref or colab.REF)
    differed = sync(args.check) + sync_readme(args.check)
    print(("disagree with reslab/course/colab.py: " if args.check else "rewrote: ") +
          (", ".join(differed) or "none"))
    return 1 if args.check and differed else 0


if __name__ == "__main__":
    sys.exit(main())
