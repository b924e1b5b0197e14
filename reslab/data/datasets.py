"""``load_dataset``: any source -> one uint8 tensor pair per split, subsets and 45k/5k split.

>>> data = load_dataset("cifar10-jpeg", train_subset=10_000, test_subset=2_000)
>>> data.train_images.shape, data.train_images.dtype     # (10000, 3, 32, 32), torch.uint8
>>> data = load_dataset("cifar10", validation=True)     # He et al.'s 45k/5k split
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from reslab.data import sources
from reslab.data.synthetic import SHAPES10_CLASSES, make_shapes10
from reslab.validate import check_choice

DATASETS = ("cifar10", "cifar100", "svhn", "fashion-mnist", "cifar10-jpeg", "shapes10")
# What "auto" tries, best first: the real CIFAR-10, its offline copy, Fashion-MNIST, shapes10.
AUTO_ORDER = ("cifar10", "cifar10-jpeg", "fashion-mnist", "shapes10")
SHAPES10_SIZES = (50_000, 10_000)


@dataclass
class ImageDataset:
    """Training and evaluation images as uint8 ``(N, C, H, W)`` tensors with int64 labels.

    ``eval_split`` is "test", or "val" when the evaluation images were held out of the
    training set (He et al.'s 45k/5k split) and the test set was never read.
    """

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    eval_images: torch.Tensor
    eval_labels: torch.Tensor
    classes: list[str]
    source: str
    eval_split: str = "test"
    note: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.train_images.shape[1]

    def normalised_eval(self, mode: str = "pixel") -> torch.Tensor:
        """The evaluation images as model inputs, normalised with the training set's statistics."""
        from reslab.data.loader import normalisation_stats
        mean, std = normalisation_stats(self.train_images, mode)
        return (self.eval_images.float() / 255 - mean) / std

    def describe(self) -> str:
        """One line: name, sizes and where the images came from."""
        note = f" [{self.note}]" if self.note else ""
        return (f"{self.name}: {len(self.train_labels):,} training and "
                f"{len(self.eval_labels):,} {self.eval_split} images "
                f"({self.in_channels}x{self.train_images.shape[2]}x"
                f"{self.train_images.shape[3]}, {self.num_classes} classes) from "
                f"{self.source}{note}")


def load_raw(name: str, download: bool = True) -> sources.RawDataset:
    """The :class:`~reslab.data.sources.RawDataset` for a dataset name (no decoding yet)."""
    if isinstance(name, str) and name.startswith("imagefolder:"):
        return sources.load_image_folder(name.split(":", 1)[1])
    check_choice("dataset", name, DATASETS + ("auto", "imagefolder:PATH"))
    if name == "cifar10-jpeg":
        return sources.load_cifar10_jpeg()
    if name == "shapes10":
        return _shapes10()
    return sources.load_torchvision(name, download=download)


@functools.lru_cache(maxsize=1)
def _shapes10() -> sources.RawDataset:
    """Generated once per process (about 20 s on 2 cores); subsets are picked from it."""
    x, y = make_shapes10(sum(SHAPES10_SIZES), seed=0)
    n = SHAPES10_SIZES[0]
    return sources.from_arrays(x[:n].numpy(), y[:n].numpy(), x[n:].numpy(), y[n:].numpy(),
                               "shapes10", SHAPES10_CLASSES,
                               "embedded generator (reslab.data.synthetic, seed 0)",
                               "procedurally generated shapes, not a real dataset")


def _auto_line(raw: sources.RawDataset, missing: list[str]) -> str:
    """One line: the dataset chosen, from where, and which better ones are missing here."""
    line = f"reslab: using dataset '{raw.name}' ({raw.source})"
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        line += (f", the fallback: {' and '.join(missing)} {verb} not on this machine "
                 f"(`python -m reslab data {missing[0]}` downloads it)")
    return line


def resolve_auto(download: bool = True, verbose: bool = True) -> sources.RawDataset:
    """The best dataset this machine can have, announced by name (see ``AUTO_ORDER``)."""
    missing = []
    for name in AUTO_ORDER:
        try:
            raw = load_raw(name, download=download)
        except sources.DatasetUnavailable:
            missing.append(name)
            continue
        if verbose:
            print(_auto_line(raw, missing))
        return raw
    raise AssertionError("shapes10 is always available")


def _pick(split: sources.Split, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(np.ascontiguousarray(split.decode(np.sort(indices))))
    labels = torch.from_numpy(split.labels[np.sort(indices)]).long()
    return images, labels


def _subset(indices: np.ndarray, size: int | None, what: str) -> np.ndarray:
    if size is None:
        return indices
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"{what} must be a positive number of images (got {size!r})")
    if size > len(indices):
        raise ValueError(f"{what}={size:,} but only {len(indices):,} images are available")
    return indices[:size]


def load_dataset(name: str = "auto", train_subset: int | None = None,
                 test_subset: int | None = None, validation: bool = False,
                 val_size: int | None = None, seed: int = 0,
                 download: bool = True) -> ImageDataset:
    """Load ``name`` as uint8 tensors.

    Args:
        name: one of ``DATASETS``, ``"imagefolder:PATH"``, or ``"auto"`` (the best available,
            announced by name).
        train_subset, test_subset: keep this many images (a seeded random choice).
        validation: evaluate on images held out of the training set instead of the test set
            (He et al.'s 45k/5k split); the test set is then never read.
        val_size: held-out images (default 5,000, or 10% of ``train_subset`` if given).
        seed: chooses subsets and the held-out images.
        download: try torchvision downloads when a copy is not on disk.
    """
    raw = resolve_auto(download) if name == "auto" else load_raw(name, download)
    rng = np.random.default_rng(seed)
    train_idx = rng.permutation(len(raw.train))
    if validation:
        held = val_size or (max(1, train_subset // 10) if train_subset else 5_000)
        if held >= len(train_idx):
            raise ValueError(f"val_size={held:,} leaves no training images "
                             f"(the training split has {len(train_idx):,})")
        eval_split, eval_idx, train_idx = raw.train, train_idx[-held:], train_idx[:-held]
    else:
        eval_split, eval_idx = raw.test, rng.permutation(len(raw.test))
    train_idx = _subset(train_idx, train_subset, "train_subset")
    eval_idx = _subset(eval_idx, test_subset, "test_subset")
    train_images, train_labels = _pick(raw.train, train_idx)
    eval_images, eval_labels = _pick(eval_split, eval_idx)
    return ImageDataset(raw.name, train_images, train_labels, eval_images, eval_labels,
                        raw.classes, raw.source, "val" if validation else "test", raw.note)


def from_arrays(train_images, train_labels, test_images, test_labels, name: str = "arrays",
                classes: list[str] | None = None) -> ImageDataset:
    """An :class:`ImageDataset` from in-memory uint8 arrays (NHWC, NHW or NCHW)."""
    raw = sources.from_arrays(np.asarray(train_images), np.asarray(train_labels),
                              np.asarray(test_images), np.asarray(test_labels), name, classes)
    everything = (np.arange(len(raw.train)), np.arange(len(raw.test)))
    (xtr, ytr), (xte, yte) = _pick(raw.train, everything[0]), _pick(raw.test, everything[1])
    return ImageDataset(name, xtr, ytr, xte, yte, raw.classes, raw.source)


def available_datasets(download: bool = False) -> dict[str, str]:
    """Each dataset name -> where it would be read from, or why it is unavailable."""
    found = {}
    for name in DATASETS:
        try:
            found[name] = load_raw(name, download=download).source if name != "shapes10" \
                else "embedded (generated on demand)"
        except sources.DatasetUnavailable as error:
            found[name] = f"unavailable: {str(error).split(';')[0]}"
    return found
