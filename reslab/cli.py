"""The command line: ``python -m reslab {models,train,demo,...}``.

Every bad argument ends with exit code 2 and one line on stderr saying what is wrong.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage block) and exit with code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _models(args: argparse.Namespace) -> int:
    from reslab.analysis import format_table, model_summary
    from reslab.models import list_models

    rows = []
    for name in list_models(args.family):
        row = model_summary(name)
        row["MACs"] = f"{row['macs'] / 1e6:,.1f} M"
        rows.append(row)
    print(format_table(rows, ["name", "family", "input", "params", "MACs"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m reslab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    models = sub.add_parser("models", help="table of every model: parameters and MACs")
    models.add_argument("--family", default=None, help="only one family (cifar, imagenet, ...)")
    models.set_defaults(func=_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as error:
        print(f"python -m reslab {args.command}: error: {error}", file=sys.stderr)
        return 2
