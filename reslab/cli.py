"""The command line: ``python -m reslab {demo,train,models,assignments,findings,data,selftest}``.

Every bad argument ends with exit code 2 and one line on stderr saying what is wrong. The help
of each option of ``train`` that sets a training field is that field's help in
:class:`~reslab.training.config.TrainConfig`.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from reslab.training.budget import BUDGETS

if TYPE_CHECKING:
    from reslab.data import ImageDataset
    from reslab.training.config import TrainConfig


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage block) and exit with code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _model_option(text: str) -> tuple[str, object]:
    """``key=value`` with value read as int, float, None/True/False, or a string."""
    key, _, raw = text.partition("=")
    if not key.strip() or "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value (e.g. shortcut=B), got {text!r}")
    for cast in (int, float):
        try:
            return key, cast(raw)
        except ValueError:
            pass
    return key, {"None": None, "True": True, "False": False}.get(raw, raw)


def _models(args: argparse.Namespace) -> int:
    from reslab.models import list_models, model_spec
    from reslab.models.analysis import format_table
    from reslab.models.registry import model_summary

    families = list(dict.fromkeys(model_spec(name).family for name in list_models()))
    if args.family is not None and args.family not in families:
        raise ValueError(f"--family {args.family!r} is not a model family: use one of "
                         f"{', '.join(families)}")
    rows = []
    for name in list_models(args.family):
        row = model_summary(name)
        row["MACs"] = f"{row['macs'] / 1e6:,.1f} M"
        rows.append(row)
    print(format_table(rows, ["name", "family", "input", "params", "MACs"]))
    return 0


def _train(args: argparse.Namespace) -> int:
    from reslab.training.checkpoint import LATEST, PREVIOUS
    from reslab.training.distributed import current_process
    from reslab.training.loop import default_folder, fit

    config = _train_config(args)
    data, config = _train_data(args, config)
    out = Path(args.out) if args.out else default_folder(config, args.model)
    if not args.resume and ((out / LATEST).exists() or (out / PREVIOUS).exists()):
        raise ValueError(f"{out} already holds a run; pass --resume to continue it, or choose "
                         "another --out")
    history = fit([config], [args.model], [out], data, resume=args.resume,
                  progress=not args.quiet)[0]
    if current_process().is_main:  # under torchrun, one line for the job, not one a process
        print(f"reslab: {history.summary()}; history in {out / 'history.json'}")
    return 0


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The run's config from the arguments, checked (with --out) before any data is read."""
    from reslab.models import build_model
    from reslab.training.budget import ENV_VAR
    from reslab.training.config import config_from
    from reslab.training.loop import default_folder
    from reslab.validate import check_device, check_output_folder

    options = dict(args.option or [])
    build_model(args.model, **options)  # a bad name, depth or option fails here, before data
    overrides = {k: v for k, v in {
        "lr": args.lr, "batch_size": args.batch_size, "seed": args.seed,
        "train_subset": args.train_subset, "test_subset": args.test_subset,
        "device": args.device, "eval_every": args.eval_every}.items() if v is not None}
    # --budget, else $RESLAB_BUDGET (an unknown value is an error naming it), else full
    budget = args.budget or (None if os.environ.get(ENV_VAR) else "full")
    config = config_from(budget, model=args.model, dataset=args.dataset,
                         model_options=options, validation=args.validation,
                         compile=args.compile, warmup=args.warmup,
                         deterministic=args.deterministic,
                         activation_checkpointing=args.checkpoint_activations, **overrides)
    if budget is None:
        print(f"reslab: budget {config.budget!r} from ${ENV_VAR} (--budget overrides it)")
    check_device(config.device)
    # the default folder's name depends on the final length, but its place is known now
    check_output_folder(Path(args.out) if args.out else default_folder(config, args.model))
    return config


def _train_data(args: argparse.Namespace,
                config: TrainConfig) -> tuple[ImageDataset, TrainConfig]:
    """The dataset, checked against the config; the config with its length in iterations."""
    from reslab.training.distributed import current_process
    from reslab.training.loop import prepare_data
    from reslab.validate import check_data

    data = prepare_data(config, verbose=current_process().is_main)
    check_data(config, data)  # classes, channels, batch size: before --epochs is converted
    if args.epochs or args.iterations:
        steps_per_epoch = len(data.train_labels) // config.batch_size
        config = replace(config, iterations=args.iterations or args.epochs * steps_per_epoch)
    return data, config


def _demo(args: argparse.Namespace) -> int:
    from reslab.course.demo import run_demo
    from reslab.validate import check_output_folder
    check_output_folder(args.out)
    run_demo(Path(args.out), iterations=args.iterations)
    return 0


def _assignments(args: argparse.Namespace) -> int:
    from reslab.course.assignments import write_assignments
    written = write_assignments(Path(args.out), args.notebooks and Path(args.notebooks))
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} student notebooks: solutions replaced by '# YOUR CODE HERE', "
          "outputs cleared")
    return 0


def _findings(args: argparse.Namespace) -> int:
    from reslab.tools.run_findings import run_findings
    seeds = [] if args.table_only else args.seeds
    out = run_findings(args.budget, seeds, args.dataset, args.notebooks,
                       progress=not args.quiet)
    print((out / "FINDINGS.md").read_text())
    print(f"reslab: wrote {out}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from reslab.data import available_datasets, load_dataset
    if args.name:
        print(load_dataset(args.name).describe())
        return 0
    for name, where in available_datasets().items():
        print(f"{name:14s} {where}")
    return 0


DESCRIPTION = ("reslab: a course and reproduction kit for deep residual networks. Every bad "
               "argument ends with exit code 2 and one line on stderr saying what is wrong.")


def field_help(name: str) -> str:
    """A :class:`~reslab.training.config.TrainConfig` field's help, as argparse prints it."""
    from reslab.training.config import field_help as help_of
    return help_of(name).replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m reslab", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                title="commands")

    demo = sub.add_parser("demo", help="train plain-20/56 and ResNet-20/56 briefly; plot Fig. 6")
    demo.add_argument("--out", default="runs/demo", help="folder for runs and the figure")
    demo.add_argument("--iterations", type=_positive_int, default=200,
                      help="iterations per net (default 200)")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="train one model (resumable)")
    train.add_argument("--model", required=True, help=field_help("model"))
    train.add_argument("--dataset", default="auto",
                       help="cifar10, cifar100, svhn, fashion-mnist, cifar10-jpeg, shapes10, "
                            "imagefolder:PATH, or auto")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int, help="length in epochs")
    length.add_argument("--iterations", type=_positive_int, help="length in iterations")
    train.add_argument("--budget", choices=list(BUDGETS),
                       help="data sizes and default length (default: $RESLAB_BUDGET if set, "
                            "else full, the paper's)")
    train.add_argument("--out", help="run folder for checkpoints and history.json (default: "
                       "runs/<model>-<dataset>-<config hash>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--option", action="append", type=_model_option, metavar="KEY=VALUE",
                       help="model option, e.g. --option shortcut=B (repeatable)")
    train.add_argument("--lr", type=_positive_float, help=field_help("lr"))
    train.add_argument("--batch-size", type=_positive_int, help=field_help("batch_size"))
    train.add_argument("--seed", type=_nonnegative_int, help=field_help("seed"))
    train.add_argument("--train-subset", type=_positive_int, help=field_help("train_subset"))
    train.add_argument("--test-subset", type=_positive_int, help=field_help("test_subset"))
    train.add_argument("--eval-every", type=_positive_int, help=field_help("eval_every"))
    train.add_argument("--validation", action="store_true", help=field_help("validation"))
    train.add_argument("--warmup", default="auto", choices=["auto", "on", "off"],
                       help=field_help("warmup"))
    train.add_argument("--device", help=field_help("device"))
    train.add_argument("--compile", action="store_true", help=field_help("compile"))
    train.add_argument("--checkpoint-activations", action="store_true",
                       help=field_help("activation_checkpointing"))
    train.add_argument("--deterministic", action="store_true",
                       help=field_help("deterministic"))
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    models = sub.add_parser("models", help="table of every model: parameters and MACs")
    models.add_argument("--family", default=None, help="only one family (cifar, imagenet, ...)")
    models.set_defaults(func=_models)

    assign = sub.add_parser("assignments", help="write student notebooks (solutions removed)")
    assign.add_argument("--out", required=True, help="folder for the student notebooks")
    assign.add_argument("--notebooks", help="course notebooks folder (default: notebooks/)")
    assign.set_defaults(func=_assignments)

    found = sub.add_parser("findings", help="every notebook's default experiment for several "
                           "seeds; the table of the papers' findings they show")
    found.add_argument("--budget", default="quick", choices=list(BUDGETS),
                       help="data sizes and length of every experiment (default: quick)")
    found.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                       help="the seeds to run (default: 0 1 2)")
    found.add_argument("--dataset", default="auto", help=field_help("dataset"))
    found.add_argument("--notebooks", nargs="+", choices=[f"0{i}" for i in range(1, 9)],
                       help="only these notebooks (default: 01 ... 08)")
    found.add_argument("--quiet", action="store_true", help="no progress bars")
    found.add_argument("--table-only", action="store_true",
                       help="train nothing: write the table from the seeds already saved")
    found.set_defaults(func=_findings)

    data = sub.add_parser("data", help="list datasets and where they are; NAME downloads one")
    data.add_argument("name", nargs="?", help="dataset to fetch/load")
    data.set_defaults(func=_data)
    _add_selftest(sub)
    sub.metavar = "{" + ",".join(sub.choices) + "}"  # every command, in the usage line too
    return parser


# selftest: checks this machine's training path (and a GPU's), PASS/FAIL/MEASURE lines, JSON
def _selftest(args: argparse.Namespace) -> int:
    from reslab.tools.selftest import run_selftest
    return run_selftest(args.device, args.out, args.budget_seconds, groups=args.group)


def _add_selftest(sub) -> None:
    selftest = sub.add_parser("selftest", help="check the training path on this machine (the "
                              "first command on a new GPU); JSON report")
    selftest.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 (default: auto)")
    selftest.add_argument("--out", help="JSON report (default: benchmarks/results/selftest-"
                          "<device>.json)")
    selftest.add_argument("--budget-seconds", type=_positive_float, default=300,
                          help="checks that would start later are skipped (default 300)")
    selftest.add_argument("--group", nargs="+", choices=["core", "speed", "more"],
                          help="only these groups of checks, kept with the others' results "
                          "in --out (default: all)")
    selftest.set_defaults(func=_selftest)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a bad input is exit code 2 and one line on stderr, never a traceback."""
    from reslab.data import DatasetUnavailable
    from reslab.training.checkpoint import WriteFailed
    from reslab.training.run import TrainingDiverged

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, DatasetUnavailable) as error:
        return _fail(args, f"error: {error}", 2)
    except (TrainingDiverged, WriteFailed) as error:
        return _fail(args, str(error), 1)
    except KeyboardInterrupt:
        return _fail(args, "interrupted; resume with --resume", 130)


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """Print ``message`` as exactly one line on stderr and return ``code``."""
    line = " ".join(message.split())
    print(f"python -m reslab {args.command}: {line}", file=sys.stderr)
    return code
