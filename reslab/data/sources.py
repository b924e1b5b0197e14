"""Where images come from: each source turns a dataset into uint8 arrays, decoded lazily.

A source returns a :class:`RawDataset`: labels of every image, and a function that decodes any
subset of images to a uint8 ``(N, C, H, W)`` array. Decoding only what a budget needs keeps
small runs fast (the JPEG copy of CIFAR-10 decodes at about 7,000 images/s).

Sources: torchvision (CIFAR-10/100, SVHN, Fashion-MNIST, ImageFolder), Debian's
``dataset-fashion-mnist`` files, the ``cifar10-jpeg`` npz copy, in-memory arrays, and the
embedded procedurally generated ``shapes10`` (:mod:`reslab.data.synthetic`).
"""
from __future__ import annotations

import gzip
import io
import os
import socket
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reslab.paths import data_dir, shared_dirs


class DatasetUnavailable(RuntimeError):
    """A dataset could not be found or downloaded; the message says where we looked."""


@dataclass
class Split:
    """Labels of every image in a split, and a decoder for any subset of them."""

    labels: np.ndarray
    decode: Callable[[np.ndarray], np.ndarray]  # indices -> uint8 (n, C, H, W)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class RawDataset:
    name: str
    train: Split
    test: Split
    classes: list[str]
    source: str
    note: str = ""
    extra: dict = field(default_factory=dict)


def from_arrays(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                test_labels: np.ndarray, name: str = "arrays", classes: list[str] | None = None,
                source: str = "in-memory arrays", note: str = "") -> RawDataset:
    """A dataset from uint8 arrays: ``(N, H, W, C)``, ``(N, H, W)`` or ``(N, C, H, W)``."""
    train, test = _to_nchw(train_images), _to_nchw(test_images)
    labels = np.asarray(train_labels).astype(np.int64)
    classes = classes or [str(c) for c in range(int(max(labels.max(), 0)) + 1)]
    return RawDataset(name, _in_memory(train, train_labels), _in_memory(test, test_labels),
                      classes, source, note)


def _to_nchw(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0-255), got {images.dtype}; convert with "
                         "(x * 255).round().astype(np.uint8) if they are floats in [0, 1]")
    if images.ndim == 3:
        return images[:, None]
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W[, C]) or (N, C, H, W); "
                         f"got {images.shape}")
    return images if images.shape[1] in (1, 3) else images.transpose(0, 3, 1, 2)


def _in_memory(images: np.ndarray, labels) -> Split:
    images = np.ascontiguousarray(images)
    return Split(np.asarray(labels).astype(np.int64), lambda idx: images[idx])


# ----------------------------------------------------------------- the JPEG copy of CIFAR-10

CIFAR10_JPEG_NOTE = ("cifar10-jpeg: CIFAR-10 re-encoded as JPEG (quality 75), lossy; results on "
                     "it are labelled cifar10-jpeg, not CIFAR-10")


def cifar10_jpeg_places() -> list[Path]:
    """Every folder searched for ``train.npz``/``test.npz`` of the cifar10-jpeg copy."""
    places = [Path(os.environ["RESLAB_CIFAR10_JPEG"])] if os.environ.get(
        "RESLAB_CIFAR10_JPEG") else []
    places.append(data_dir() / "cifar10-jpeg")
    places += [s / "data" / "cifar10-jpeg" for s in shared_dirs()]
    return places


def load_cifar10_jpeg() -> RawDataset:
    """The offline JPEG copy of CIFAR-10 (shared/data/cifar10-jpeg); decodes on demand."""
    for place in cifar10_jpeg_places():
        if (place / "train.npz").exists() and (place / "test.npz").exists():
            train, test = (_jpeg_split(place / f"{s}.npz") for s in ("train", "test"))
            with np.load(place / "test.npz") as f:
                classes = [str(c) for c in f["classes"]]
            return RawDataset("cifar10-jpeg", train, test, classes, str(place),
                              CIFAR10_JPEG_NOTE)
    looked = ", ".join(str(p) for p in cifar10_jpeg_places())
    raise DatasetUnavailable(
        f"cifar10-jpeg not found: looked for train.npz and test.npz in {looked}; copy the "
        "folder shared/data/cifar10-jpeg there or set RESLAB_CIFAR10_JPEG to it")


def _jpeg_split(path: Path) -> Split:
    with np.load(path) as f:
        jpeg, offsets, labels = f["jpeg"], f["offsets"], f["labels"].astype(np.int64)
    cache = data_dir() / "cache" / f"cifar10-jpeg-{path.stem}.npy"  # decoded once, in full

    def decode(indices: np.ndarray) -> np.ndarray:
        if cache.exists():
            return np.load(cache, mmap_mode="r")[indices]
        from PIL import Image
        out = np.empty((len(indices), 32, 32, 3), np.uint8)
        for k, i in enumerate(indices):
            data = jpeg[offsets[i]:offsets[i + 1]].tobytes()
            out[k] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        out = out.transpose(0, 3, 1, 2)
        if len(indices) == len(labels) and np.array_equal(indices, np.arange(len(labels))):
            _save_quietly(cache, out)
        return out

    return Split(labels, decode)


def _save_quietly(path: Path, array: np.ndarray) -> None:
    """Cache ``array`` atomically; a read-only or full disk only costs the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, np.ascontiguousarray(array))
        tmp.replace(path)
    except OSError:
        pass


# ------------------------------------------------------ Debian's dataset-fashion-mnist files

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


def load_fashion_mnist_idx(folder: Path = DEBIAN_FASHION_MNIST) -> RawDataset:
    """Fashion-MNIST from the idx files of Debian's ``dataset-fashion-mnist`` package.

    Images are zero-padded from 28x28 to 32x32 so the CIFAR nets apply unchanged.
    """
    def read(prefix: str) -> tuple[np.ndarray, np.ndarray]:
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        return pad_to_32(images), labels

    (xtr, ytr), (xte, yte) = read("train"), read("t10k")
    return RawDataset("fashion-mnist", _in_memory(xtr, ytr), _in_memory(xte, yte),
                      FASHION_CLASSES, str(folder), "28x28 grayscale, zero-padded to 32x32")


def pad_to_32(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 1, 32, 32), two zero pixels on each side."""
    return np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None]


# --------------------------------------------------------------------------- torchvision

TORCHVISION = {
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
    "cifar100": ("CIFAR100", "cifar-100-python"),
    "svhn": ("SVHN", "svhn"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST"),
}


@contextmanager
def _socket_timeout(seconds: float):
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _torchvision_split(name: str, train: bool, download: bool):
    import torchvision.datasets as tvd
    cls = getattr(tvd, TORCHVISION[name][0])
    root = data_dir()
    if name == "svhn":
        return cls(str(root / "svhn"), split="train" if train else "test", download=download)
    return cls(str(root), train=train, download=download)


def _arrays_of(name: str, ds) -> tuple[np.ndarray, np.ndarray]:
    if name == "svhn":
        return np.asarray(ds.data), np.asarray(ds.labels)
    images = np.asarray(ds.data)
    if name == "fashion-mnist":
        return pad_to_32(images), np.asarray(ds.targets)
    return images.transpose(0, 3, 1, 2), np.asarray(ds.targets)


def load_torchvision(name: str, download: bool = True) -> RawDataset:
    """CIFAR-10/100, SVHN or Fashion-MNIST via torchvision, in ``data_dir()``.

    Uses a copy already there, else downloads (30 s socket timeout; never when RESLAB_OFFLINE
    is set); offline, Fashion-MNIST falls back to Debian's files. Otherwise
    :class:`DatasetUnavailable` says where it looked.
    """
    download = download and not os.environ.get("RESLAB_OFFLINE")
    reason = None
    for attempt_download in ([False, True] if download else [False]):
        try:
            with _socket_timeout(30):
                splits = [_torchvision_split(name, t, attempt_download) for t in (True, False)]
            break
        except (RuntimeError, OSError) as error:  # missing files, no network, bad archive
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    else:
        debian = DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz"
        if name == "fashion-mnist" and debian.exists():
            return load_fashion_mnist_idx()
        raise DatasetUnavailable(_unavailable_message(name, download, reason))
    (xtr, ytr), (xte, yte) = (_arrays_of(name, s) for s in splits)
    classes = list(getattr(splits[0], "classes", [str(i) for i in range(10)]))
    return RawDataset(name, _in_memory(xtr, ytr), _in_memory(xte, yte), classes,
                      f"torchvision ({data_dir()})")


def _unavailable_message(name: str, download: bool, reason: str | None) -> str:
    folder = TORCHVISION[name][1]
    looked = [str(data_dir() / folder)]
    if name == "fashion-mnist":
        looked.append(f"{DEBIAN_FASHION_MNIST} (Debian package dataset-fashion-mnist)")
    tried = f"; download failed ({reason})" if download else \
        "; not downloaded (download=False or RESLAB_OFFLINE set)"
    hint = {"cifar10": "or use the offline copy dataset='cifar10-jpeg'",
            "fashion-mnist": "or `apt-get install dataset-fashion-mnist`"}.get(name, "")
    return (f"{name} is not available: looked in {', '.join(looked)}{tried}. Get it on a "
            f"machine with internet (`python -m reslab data {name}` downloads it into "
            f"{data_dir()}; set RESLAB_DATA to use another folder) {hint}").rstrip()


def load_image_folder(root: str | Path, image_size: int = 32) -> RawDataset:
    """A torchvision ``ImageFolder`` tree with ``train/`` and ``test/`` (or ``val/``) folders.

    Images are resized (shorter side) and centre-cropped to ``image_size``, stored as uint8.
    Both splits need the same class folders, at least two, each with readable images; a
    problem is one ``ValueError`` line naming the folder or file.
    """
    root = Path(root).expanduser()
    test_dir = next((root / d for d in ("test", "val") if (root / d).is_dir()), None)
    if not (root / "train").is_dir() or test_dir is None:
        raise DatasetUnavailable(f"ImageFolder {root} needs train/ and test/ (or val/) "
                                 "subfolders, one folder per class in each")
    train, test = _class_files(root / "train", root), _class_files(test_dir, root)
    if list(test) != list(train):
        raise ValueError(f"imagefolder:{root}: {test_dir.name}/ has the classes "
                         f"{', '.join(test)} but train/ has {', '.join(train)}; both need "
                         "the same class folders")
    classes = list(train)
    splits = [_decode_folder(files, classes, root, image_size) for files in (train, test)]
    return RawDataset(root.name, splits[0], splits[1], classes, str(root))


def _class_files(folder: Path, root: Path) -> dict[str, list[Path]]:
    """``{class: image files}`` of one split; at least two classes, none empty."""
    from torchvision.datasets.folder import IMG_EXTENSIONS
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise ValueError(f"imagefolder:{root}: {folder.name}/ has {len(classes)} class "
                         f"folder(s) ({', '.join(classes) or 'none'}); a classifier needs at "
                         "least 2, one folder of images per class")
    files = {c: sorted(p for p in (folder / c).rglob("*")
                       if p.is_file() and p.name.lower().endswith(IMG_EXTENSIONS))
             for c in classes}
    empty = next((c for c in classes if not files[c]), None)
    if empty is not None:
        raise ValueError(f"imagefolder:{root}: class folder {folder.name}/{empty} has no "
                         f"images ({', '.join(IMG_EXTENSIONS)}); add images or remove it")
    return files


def _decode_folder(files: dict[str, list[Path]], classes: list[str], root: Path,
                   size: int) -> Split:
    """Every image of one split as uint8, RGB, resized and centre-cropped to ``size``."""
    import torch
    from torchvision import transforms
    tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size),
                             transforms.PILToTensor()])
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in files[name]:
            images.append(tf(_read_image(path, root)))
            labels.append(label)
    return _in_memory(torch.stack(images).numpy(), np.asarray(labels))


def _read_image(path: Path, root: Path):
    """One image as RGB; an unreadable file is one ValueError line naming it."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"imagefolder:{root}: {path.relative_to(root)} is not a readable "
                         f"image ({type(error).__name__}); replace it with a valid image file "
                         "or remove it") from None
