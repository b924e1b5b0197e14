"""Fully trained CIFAR-10 ResNets from a public reproduction, loaded exactly.

``build_model("resnet56", pretrained="akamaster")`` returns He et al.'s ResNet-56 (Sec. 4.2,
option A) with the weights that akamaster/pytorch_resnet_cifar10 publishes (Y. Idelbayev,
BSD 2-clause), trained with the paper's recipe for 200 epochs. Their option A puts the zero
channels on both sides of the input's (``zero_placement="split"``); with the kit's default
("after") the same weights compute another function (see
:class:`~reslab.models.shortcuts.ZeroPadShortcut`).

Where a file comes from, in order: ``$RESLAB_PRETRAINED`` (a folder, or the file itself),
``shared/pretrained/akamaster/`` beside the checkout (:func:`reslab.paths.shared_dirs`), torch
hub's cache (``<torch.hub.get_dir()>/checkpoints``); otherwise it is downloaded from the
publisher's URL into that cache with torch hub's hash check (the eight hex digits in each
file name start its sha256), and the publisher's licence is written beside it. Offline
(``RESLAB_OFFLINE`` set, or no network) the call fails with one line that says where it looked
and what to download.

Every file is checked against its sha256 and read on the CPU with
``torch.load(path, weights_only=True)`` (``map_location="cpu"``); keys are mapped onto the kit's names and loaded strictly. The model
carries ``model.provenance``: publisher, licence, recipe, published test error, and the input
normalisation it was trained with -- use :func:`pretrained_inputs` to give it its inputs (the
kit's per-pixel mean is for the kit's own nets).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reslab.paths import shared_dirs

AKAMASTER_LICENSE = """\
Copyright (c) 2018, Yerlan Idelbayev

Redistribution and use in source and binary forms, with or without modification, are \
permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of \
conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice, this list of \
conditions and the following disclaimer in the documentation and/or other materials provided \
with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR \
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY \
AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR \
CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR \
CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR \
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY \
THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR \
OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE \
POSSIBILITY OF SUCH DAMAGE.
"""


@dataclass(frozen=True)
class Source:
    """One publisher of trained weights: where its files are and how its nets were made."""

    name: str
    publisher: str
    url: str                      # "{file}" is replaced by the file name
    licence: str
    licence_text: str
    recipe: str
    dataset: str
    mean: tuple[float, float, float]   # applied to images / 255
    std: tuple[float, float, float]
    zero_placement: str
    files: dict[str, tuple[str, str, float]]  # model -> (file, sha256 or its prefix, error %)


AKAMASTER = Source(
    name="akamaster",
    publisher="Yerlan Idelbayev, github.com/akamaster/pytorch_resnet_cifar10",
    url="https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"
        "{file}",
    licence="BSD 2-clause, Copyright (c) 2018, Yerlan Idelbayev",
    licence_text=AKAMASTER_LICENSE,
    recipe=("their trainer.py: SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 128, "
            "200 epochs, lr divided by 10 at epochs 100 and 150 (ResNet-110/1202: lr 0.01 in "
            "the first epoch), random 32x32 crops of 4-pixel-padded images and horizontal "
            "flips, all 50,000 training images (no 45k/5k split); best_prec1 in each file "
            "is the best test accuracy seen during training"),
    dataset="CIFAR-10 (the original images)",
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    zero_placement="split",
    files={
        "resnet20": ("resnet20-12fca82f.th",
                     "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", 8.27),
        "resnet32": ("resnet32-d509ac18.th",
                     "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850", 7.37),
        "resnet44": ("resnet44-014dd654.th",
                     "014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4", 6.90),
        "resnet56": ("resnet56-4bfd9763.th",
                     "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", 6.61),
        "resnet110": ("resnet110-1d1ed7c2.th", "1d1ed7c2", 6.32),
        "resnet1202": ("resnet1202-f3b1deed.th", "f3b1deed", 6.18),
    },
)
SOURCES = {"akamaster": AKAMASTER}
LICENSE_NAME = "{source}-LICENSE.txt"


def get_source(source: str) -> Source:
    """The :class:`Source` called ``source``, or one line naming the known ones."""
    if source not in SOURCES:
        raise ValueError(f"unknown pretrained source {source!r}: pretrained= must be one of "
                         f"{', '.join(map(repr, SOURCES))}")
    return SOURCES[source]


def _entry(name: str, source: Source) -> tuple[str, str, float]:
    key = name.lower() if isinstance(name, str) else name
    if key not in source.files:
        raise ValueError(f"{source.name} publishes no weights for {name!r}: pretrained="
                         f"{source.name!r} takes {', '.join(source.files)}")
    return source.files[key]


def _hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def search_places(source: Source) -> list[Path]:
    """The folders searched for ``source``'s files, in order (the file itself comes first when
    ``$RESLAB_PRETRAINED`` names one)."""
    places = []
    env = os.environ.get("RESLAB_PRETRAINED")
    if env:
        places += [Path(env).expanduser(), Path(env).expanduser() / source.name]
    places += [s / "pretrained" / source.name for s in shared_dirs()]
    places.append(_hub_checkpoints())
    return list(dict.fromkeys(places))


def find_weights(name: str, source: str = "akamaster") -> Path:
    """The file of ``name``'s weights from ``source``: found (see the module docstring), or
    downloaded with torch hub's hash check; one-line ``ValueError`` when neither works."""
    src = get_source(source)
    file, _, _ = _entry(name, src)
    plain = f"{name.lower()}.th"  # the name the publisher's README links without the hash
    env = os.environ.get("RESLAB_PRETRAINED")
    if env and Path(env).expanduser().is_file():
        return Path(env).expanduser()
    for place in search_places(src):
        for candidate in (place / file, place / plain):
            if candidate.is_file():
                return candidate
    return _download(name, src)


def _download(name: str, src: Source) -> Path:
    file, sha, _ = _entry(name, src)
    url = src.url.format(file=file)
    looked = ", ".join(str(p) for p in search_places(src))
    env = "" if os.environ.get("RESLAB_PRETRAINED") else " ($RESLAB_PRETRAINED unset)"
    what = (f"{name} pretrained={src.name!r}: {file} is not in {looked}{env}")
    todo = f"download {url} into one of them, or set RESLAB_PRETRAINED to its folder"
    if os.environ.get("RESLAB_OFFLINE"):
        raise ValueError(f"{what}; RESLAB_OFFLINE is set, so it was not downloaded: {todo}")
    target = _hub_checkpoints() / file
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:  # into a scratch folder first: a failed download leaves nothing in the cache
        with tempfile.TemporaryDirectory() as scratch:
            part = Path(scratch) / file
            torch.hub.download_url_to_file(url, str(part), hash_prefix=sha[:8], progress=False)
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / LICENSE_NAME.format(source=src.name)).write_text(src.licence_text)
            shutil.move(str(part), target)
    except (OSError, RuntimeError, ValueError) as error:  # no network, HTTP error, bad hash
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{what}; downloading it failed ({reason}): {todo}") from None
    finally:
        socket.setdefaulttimeout(old)
    return target


def sha256(path: Path) -> str:
    """The file's sha256 as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_weights(path: Path, name: str, source: str = "akamaster") -> dict[str, torch.Tensor]:
    """The publisher's state dict in ``path``, hash-checked and safely loaded (CPU tensors)."""
    src = get_source(source)
    file, want, _ = _entry(name, src)
    got = sha256(path)
    if not got.startswith(want):
        kind = ("is corrupted (not a readable torch file)" if not zipfile.is_zipfile(path)
                else "does not hold the publisher's weights (hash mismatch)")
        raise ValueError(f"{path} {kind}: its sha256 starts {got[:8]}, the publisher's {file} "
                         f"starts {want[:8]}; delete it and download "
                         f"{src.url.format(file=file)}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure to read is one line
        raise ValueError(f"{path} is corrupted (torch.load failed: "
                         f"{str(error).splitlines()[0][:120]}); delete it and download "
                         f"{src.url.format(file=file)}") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a {src.name} checkpoint (no 'state_dict'); use the "
                         f"file {src.url.format(file=file)}")
    return state


# The publisher's names -> the kit's (CifarResNet: stem.0 conv, stem.1 BN, stages.k, head.2 fc).
_TO_KIT = [(r"^module\.", ""), (r"^conv1\.", "stem.0."), (r"^bn1\.", "stem.1."),
           (r"^layer(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}."),
           (r"^linear\.", "head.2.")]
_TO_PUBLISHER = [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."),
                 (r"^stages\.(\d)\.", lambda m: f"layer{int(m.group(1)) + 1}."),
                 (r"^head\.2\.", "linear."), (r"^", "module.")]


def _rename(key: str, rules: list) -> str:
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key, count=1)
    return key


def to_kit_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """akamaster's keys (``module.layer2.0.conv1.weight``) -> reslab's (``stages.1.0.conv1...``)."""
    return {_rename(k, _TO_KIT): v for k, v in state.items()}


def export_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A reslab CIFAR ResNet's weights in akamaster's layout (``module.`` keys from their
    ``DataParallel``), so a run can be shared with that code: ``torch.save({"state_dict":
    export_state_dict(model)}, path)``. Its nets pad zeros with the "split" placement, so
    the function is the same only for a model built with ``zero_placement="split"``. BN's
    ``num_batches_tracked`` counters are left out, as in the published files."""
    return {_rename(k, _TO_PUBLISHER): v.detach().cpu().clone()
            for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def pretrained_options(name: str, source: str, options: dict[str, Any]) -> dict[str, Any]:
    """The build options of ``name`` as ``source`` trained it (an unknown name fails here,
    before anything is built). Only ``zero_placement`` may be passed (to see what the other
    placement does to the same weights); every other option is fixed by the published net."""
    src = get_source(source)
    _entry(name, src)
    extra = sorted(set(options) - {"zero_placement"})
    if extra:
        raise ValueError(f"pretrained={source!r} fixes the architecture; unknown option(s) "
                         f"{', '.join(map(repr, extra))} (only zero_placement may be passed)")
    return {"zero_placement": options.get("zero_placement", src.zero_placement)}


def load_pretrained(model: nn.Module, name: str, source: str = "akamaster") -> nn.Module:
    """``model`` (built by :func:`reslab.models.registry.build_model` with
    :func:`pretrained_options`) with ``source``'s trained weights and ``model.provenance``,
    in eval mode."""
    path = find_weights(name, source)
    state = to_kit_names(read_weights(path, name, source))
    _check_finite(state, path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: its keys do not map onto {name} "
                         f"({str(err).splitlines()[1].strip()[:160]})") from None
    model.eval()
    model.provenance = provenance(name, get_source(source), path, model.zero_placement)
    return model


def _check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"{path} holds NaN or infinite values ({bad[0]}); only finite "
                         "weights are loaded")


def provenance(name: str, src: Source, path: Path, placement: str) -> dict[str, Any]:
    """What a pretrained model is and where it came from (kept as ``model.provenance``)."""
    file, sha, error = _entry(name, src)
    from reslab.paper import TABLE6_ERROR
    return {"model": name.lower(), "source": src.name, "publisher": src.publisher,
            "url": src.url.format(file=file), "file": file, "sha256": sha,
            "licence": src.licence, "licence_text": src.licence_text, "recipe": src.recipe,
            "trained_on": src.dataset, "published_test_error": error,
            "paper_test_error": TABLE6_ERROR.get(name.lower()),
            "normalisation": {"scale": "images / 255", "mean": list(src.mean),
                              "std": list(src.std)},
            "zero_placement": placement, "loaded_from": str(path)}


def pretrained_inputs(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 3, 32, 32)`` images as inputs to a pretrained ``model``: its publisher's
    normalisation, ``(images / 255 - mean) / std``."""
    info = getattr(model, "provenance", None)
    if info is None:
        raise ValueError("this model has no provenance: pretrained_inputs is for nets from "
                         "build_model(name, pretrained=...); the kit's own nets use "
                         "data.normalised_eval()")
    norm = info["normalisation"]
    mean = torch.tensor(norm["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(norm["std"]).view(1, 3, 1, 1)
    return (images.float() / 255 - mean) / std


@torch.no_grad()
def pretrained_error(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               batch_size: int = 500) -> float:
    """Test error (%) of a pretrained ``model`` on uint8 ``images``, with its normalisation."""
    from reslab.models.analysis import accuracy
    return 100 * (1 - accuracy(model, pretrained_inputs(model, images), labels, batch_size))


def licence_notice(source: str = "akamaster") -> str:
    """The licence that must travel with ``source``'s files and anything copied from them."""
    return get_source(source).licence_text
