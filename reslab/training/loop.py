"""The training loop, written once (:func:`train_periods`): one model (:func:`train`), several
in lockstep (:func:`sweep`), seeds trained together (:func:`reslab.training.seeds.train_seeds`),
successive phases and the selftest all drive it; resumable, on CPU or CUDA.

>>> history = train("resnet20", dataset="cifar10-jpeg", budget="quick")
>>> histories = sweep(["plain20", "plain56", "resnet20", "resnet56"], budget="quick")

A sweep trains several models in lockstep on the very same batches (one data pipeline,
identical data order); each :class:`~reslab.training.run.Run` keeps its own optimiser,
schedule and checkpoint folder.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from reslab.data import ImageDataset, load_dataset
from reslab.models import build_model
from reslab.paths import runs_dir
from reslab.training import distributed, fastpath
from reslab.training.budget import Budget
from reslab.training.checkpoint import load_latest
from reslab.training.config import TrainConfig, config_from
from reslab.training.determinism import cudnn_autotune, deterministic
from reslab.training.device import pick_device
from reslab.training.history import History
from reslab.training.replicas import build_net, channels_last
from reslab.training.run import Run, make_loader
from reslab.training.runlock import guard_run_folders
from reslab.validate import check_data


def load_trained(run: str | Path | History, device: str = "cpu") -> torch.nn.Module:
    """The model of a run folder (or of a :class:`History` that names one), in eval mode."""
    folder = Path(run.meta["folder"]) if isinstance(run, History) else Path(run)
    state = load_latest(folder, map_location=device)
    if state is None:
        raise ValueError(f"no checkpoint in {folder}: train the model first")
    model = build_model(state["config"]["model"], **state["model_build"])
    model.load_state_dict(state["model"])
    return model.to(device).eval()



def progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True)


def prepare_data(config: TrainConfig, verbose: bool = True) -> ImageDataset:
    """Load the config's dataset (announcing it), with its subsets and split."""
    data = load_dataset(config.dataset, config.train_subset, config.test_subset,
                        validation=config.validation, seed=config.seed)
    if verbose:
        print(f"reslab: {data.describe()}")
    return data


@guard_run_folders  # one writer per run folder; stale temporary files removed
def fit(configs: Sequence[TrainConfig], labels: Sequence[str], folders: Sequence[Path | None],
        data: ImageDataset | None = None, resume: bool = True, progress: bool = True,
        models: Sequence[torch.nn.Module | None] | None = None,
        on_eval: Callable[[History], None] | None = None) -> list[History]:
    """Train one or more models in lockstep on one batch stream; return their histories.

    All configs must share the data settings (dataset, subsets, batch size, seed,
    iterations); each model has its own optimiser, schedule and checkpoint folder.
    ``models`` may give prebuilt models (``None``: build ``config.model``); ``on_eval`` is
    called with a run's history after each of its evaluations (live curves use it).
    """
    _check_lockstep(configs)
    base, process = configs[0], distributed.current_process()
    device = pick_device(base.device, process.local_rank)
    with deterministic(base.deterministic, device), \
            cudnn_autotune(not base.deterministic, device), \
            distributed.joined(process, device):  # cudnn: chosen in warm-up, pre-capture
        data = data if data is not None else prepare_data(base, verbose=process.is_main)
        for config in configs:
            check_data(config, data)  # classes, channels, batch size: before any training
        loader = make_loader(base, data, device, process, channels_last(base))
        runs = [Run(lab, c, data, device, f, process, m, loader, fastpath.when_supported)
                for c, lab, f, m in zip(configs, labels, folders, models or [None] * len(configs))]
        resumed = [r.resume() if resume else False for r in runs]
        if any(resumed) and process.is_main:
            print(f"reslab: resuming at step {min(r.step for r in runs):,} of "
                  f"{base.iterations:,} from {folders[0]}")
        desc = labels[0] if len(runs) == 1 else f"sweep of {len(runs)}"
        train_periods(runs, _eval_share(data, process, device),
                      progress_bar(base.iterations, desc, progress and process.is_main),
                      on_eval if process.is_main else None)
    return [run.history for run in runs]


def train_periods(runs: Sequence[Run], evaluation: tuple[torch.Tensor, torch.Tensor],
                  bar: Any, on_eval: Callable[[History], None] | None = None) -> None:
    """Train every run to the end of the schedule, evaluating and checkpointing each period
    (every ``eval_every`` steps, default once an epoch, and at the end)."""
    base, device = runs[0].config, runs[0].device
    every = base.eval_every or runs[0].loaders[0].steps_per_epoch
    step = min(r.step for r in runs)
    streams = side_streams(runs, device)  # made once: a sweep's nets overlap on the GPU
    with bar:
        bar.update(step)
        while step < base.iterations:
            end = min(base.iterations, (step // every + 1) * every)
            train_steps(runs, step, end, streams, after_each=lambda: bar.update(1))
            for run in runs:
                if run.trained_this_period:  # a resumed run may be a period ahead
                    records = run.end_period(*evaluation)
                    if on_eval is not None:
                        for history in run.histories:
                            on_eval(history)
            bar.set_postfix_str(_postfix(runs, records))
            step = end


def train_steps(runs: Sequence[Run], start: int, end: int, streams: list | None | str = "auto",
                after_each: Callable[[], None] = lambda: None) -> None:
    """Steps ``start`` to ``end`` (exclusive) of every run that is at them; then the default
    stream waits for every side stream (``"auto"``: :func:`side_streams`), so what is read
    afterwards is the trained state."""
    streams = side_streams(runs, runs[0].device) if streams == "auto" else streams
    for step in range(start, end):
        train_all(runs, step, streams)
        after_each()
    join_streams(streams, runs[0].device)


def side_streams(runs: Sequence[Run], device: torch.device) -> list | None:
    """One CUDA stream per model of a sweep, so that their kernels can overlap on the GPU.

    Whole-step graphs (:mod:`reslab.training.fastpath`) replay on these streams too: each is captured
    without ``pool=``, so each has a private memory pool and no replay can overwrite another's
    memory. None for a compiled net in a CUDA-graph mode ("reduce-overhead"): torch.compile's
    graphs share one pool per device and must replay in order.
    """
    if device.type != "cuda" or len(runs) < 2 or any(r.shares_graph_pool for r in runs):
        return None
    return [torch.cuda.Stream(device) for _ in runs]


def train_all(runs: Sequence[Run], step: int, streams: list | None) -> None:
    """One step of every run that is at ``step``: a run with a whole-step graph replays it;
    the others make their batches on the default stream (one per loader: a sweep's runs
    share theirs). Each run works on its own stream when there are any."""
    if streams is not None:  # the epoch's plan on the default stream, before any side stream
        for loader in {id(l): l for run in runs for l in run.loaders}.values():
            loader.epoch_plan(step // loader.steps_per_epoch)
    made: dict[int, Any] = {}
    for i, run in enumerate(runs):
        if run.step != step:
            continue
        batch = () if run.whole_step is not None else run.batch(step, made)
        _on_stream(run, streams and streams[i], lambda: run.train_step(*batch), batch)


def _on_stream(run: Run, stream: Any, work: Callable[[], None],
               tensors: Sequence[torch.Tensor] = ()) -> None:
    """``work()`` launched on ``stream`` (after the default stream's work so far), or on the
    current stream when ``stream`` is None. ``tensors`` made on the default stream are kept
    until ``stream`` is done with them."""
    if stream is None:
        work()
        return
    stream.wait_stream(torch.cuda.current_stream(run.device))
    with torch.cuda.stream(stream):
        for tensor in tensors:
            tensor.record_stream(stream)
        work()


def join_streams(streams: list | None, device: torch.device) -> None:
    """Make the default stream wait for every run's stream (before reading metrics)."""
    if streams:
        main = torch.cuda.current_stream(device)
        for stream in streams:
            main.wait_stream(stream)


def _postfix(runs: Sequence[Run], records: list[dict[str, float]]) -> str:
    if len(runs) == 1 and len(records) == 1:
        return (f"train err {100 * records[0]['train_error']:.1f}%, "
                f"eval err {100 * records[0]['eval_error']:.1f}%")
    return ", ".join(f"{h.label} {100 * h.last('eval_error'):.1f}%"
                     for r in runs for h in r.histories)


def _eval_share(data: ImageDataset, process: distributed.Process,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's slice of the evaluation images, on the device."""
    sl = slice(process.rank, None, process.world_size)
    return data.eval_images[sl].to(device), data.eval_labels[sl].to(device)


def _check_lockstep(configs: Sequence[TrainConfig]) -> None:
    shared = ("dataset", "train_subset", "test_subset", "validation", "iterations",
              "batch_size", "augment", "normalize", "eval_every", "seed", "device")
    for c in configs[1:]:
        for name in shared:
            if getattr(c, name) != getattr(configs[0], name):
                raise ValueError(f"a sweep shares its data stream: every model needs the same "
                                 f"{name} (got {getattr(configs[0], name)!r} and "
                                 f"{getattr(c, name)!r})")


def default_folder(config: TrainConfig, label: str) -> Path:
    """``runs/<label>-<dataset>-<config hash>``: a new folder whenever the config changes."""
    return runs_dir() / f"{label}-{config.dataset}-{config.key()}"


def run_folder(out: str | Path | bool | None, config: TrainConfig, label: str) -> Path | None:
    if out is False:
        return None
    return Path(out) if out else default_folder(config, label)


def train(model: str = "resnet20", dataset: str = "auto", budget: Budget | str | None = None,
          out: str | Path | None = None, resume: bool = True, progress: bool = True,
          data: ImageDataset | None = None, on_eval: Callable[[History], None] | None = None,
          block: type[torch.nn.Module] | None = None, **options: Any) -> History:
    """Train one model and return its :class:`~reslab.training.history.History`.

    Args:
        model: a name from :func:`reslab.list_models`; ``model_options={...}`` go to it.
        block: your own block class for a CIFAR net (``reslab.train("resnet20",
            block=MyBlock)``), see :func:`reslab.models.cifar.resolve_block`. Configs hold
            only JSON, so the model is built here and the class's name with a fingerprint of
            the built net's structure is recorded as ``model_options["block"]``.
        dataset: see :func:`reslab.data.load_dataset` ("auto": the best one available).
        budget: "smoke", "quick", "full" or a :class:`Budget` (default: ``$RESLAB_BUDGET``);
            its sizes and iterations can be overridden by ``options``.
        out: the run's folder (checkpoints, ``history.json``); default
            ``runs/<model>-<dataset>-<config hash>``; ``False``: keep nothing on disk.
            ``resume``: continue a run found there.
        options: any :class:`TrainConfig` field (lr, iterations, validation, seed, ...).
    """
    config = config_from(budget, model=model, dataset=dataset, **options)
    prebuilt = None
    if block is not None:
        data = data if data is not None else prepare_data(config, verbose=progress)
        config, prebuilt = _with_block(config, block, data)
    folder = run_folder(out, config, model)
    return fit([config], [model], [folder], data, resume, progress, models=[prebuilt],
               on_eval=on_eval)[0]


def _with_block(config: TrainConfig, block: type[torch.nn.Module],
                data: ImageDataset) -> tuple[TrainConfig, torch.nn.Module]:
    """Build ``config.model`` with a block class; record the block in the config."""
    net = build_net(config, data, block=block)  # the initial weights of the config's seed
    fingerprint = hashlib.sha1(repr(net).encode()).hexdigest()[:8]
    options = {**config.model_options, "block": f"{block.__qualname__}#{fingerprint}"}
    return replace(config, model_options=options), net


def sweep(models: Sequence[str], dataset: str = "auto", budget: Budget | str | None = None,
          out: str | Path | None = None, resume: bool = True, progress: bool = True,
          data: ImageDataset | None = None, model_options: dict[str, dict] | None = None,
          on_eval: Callable[[History], None] | None = None,
          **options: Any) -> dict[str, History]:
    """Train several models in lockstep on identical batches; ``{name: History}``.

    ``model_options`` maps a model name to its own options (e.g. ``{"resnet20": {"shortcut":
    "B"}}``); a label ``"resnet20:B"`` may be used to train the same model twice.
    """
    model_options = model_options or {}
    configs = [config_from(budget, model=m.split(":")[0], dataset=dataset,
                           model_options=model_options.get(m, {}), **options) for m in models]
    labels = [m.replace(":", "-") for m in models]
    folders = [run_folder(Path(out) / lab if out else out, c, lab)
               for c, lab in zip(configs, labels)]
    histories = fit(configs, list(models), folders, data, resume, progress, on_eval=on_eval)
    return dict(zip(models, histories))
