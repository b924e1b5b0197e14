"""Model names -> builders: :func:`build_model` and :func:`list_models`.

Every name a notebook or the CLI accepts is registered here, with the options fixed by the
name (``resnet56`` fixes ``depth=56``); the rest of the builder's arguments are the options a
caller may pass. Bad names, depths and options become one-line ``ValueError``s.
"""
from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from reslab.models.analysis import count_macs, count_params
from reslab.models.cifar import CifarResNet
from reslab.models.imagenet import ImageNetResNet
from reslab.models.preact import PreActResNet
from reslab.models.pretrained import load_pretrained, pretrained_options
from reslab.models.resres import ResResNet
from reslab.models.rir import RiRNet
from reslab.models.ror import RoR
from reslab.validate import check_positive_whole


@dataclass(frozen=True)
class ModelSpec:
    """One registered name: its builder, the arguments the name fixes, and its source."""

    name: str
    builder: Callable[..., nn.Module]
    fixed: dict[str, Any] = field(default_factory=dict)
    family: str = "cifar"
    paper: str = "He et al. 2016"
    listed: bool = True  # False for generic names such as "resnet" that take depth=

    def options(self) -> list[str]:
        """The keyword arguments a caller may still pass."""
        params = inspect.signature(self.builder).parameters
        return [p for p in params if p not in self.fixed and p != "self"]


_REGISTRY: dict[str, ModelSpec] = {}
# CIFAR names whose depth is read from the name, for depths that are not registered.
_CIFAR_PATTERN = re.compile(r"^(plain|resnet|resresnet)(\d+)$")


def register(name: str, builder: Callable[..., nn.Module], family: str, paper: str,
             listed: bool = True, **fixed: Any) -> None:
    """Add ``name`` to the registry (used by each family's module and by extensions)."""
    _REGISTRY[name] = ModelSpec(name, builder, fixed, family, paper, listed)


def _register_he2016() -> None:
    for depth in (20, 32, 44, 56, 110):
        register(f"plain{depth}", CifarResNet, "cifar", "He et al. 2016, Sec. 4.2",
                 depth=depth, shortcut=None)
    for depth in (20, 32, 44, 56, 110, 1202):
        register(f"resnet{depth}", CifarResNet, "cifar", "He et al. 2016, Sec. 4.2",
                 depth=depth)
    register("plain", CifarResNet, "cifar", "He et al. 2016, Sec. 4.2", listed=False,
             shortcut=None)
    register("resnet", CifarResNet, "cifar", "He et al. 2016, Sec. 4.2", listed=False)
    for depth in (18, 34):
        register(f"plain{depth}", ImageNetResNet, "imagenet", "He et al. 2016, Table 1",
                 depth=depth, shortcut=None)
    for depth in (18, 34, 50, 101, 152):
        register(f"resnet{depth}", ImageNetResNet, "imagenet", "He et al. 2016, Table 1",
                 depth=depth)
    for depth in (18, 34):  # Table 2 / Fig. 4 compare plain nets with option-A ResNets
        register(f"resnet{depth}a", ImageNetResNet, "imagenet", "He et al. 2016, Table 2",
                 depth=depth, shortcut="A")


def _register_gelda2016() -> None:
    paper = "Gelda et al. 2016, Sec. III.A (ResResNet)"
    for depth in (20, 32, 44, 56, 110):
        register(f"resresnet{depth}", ResResNet, "resresnet", paper, depth=depth)
    register("resresnet", ResResNet, "resresnet", paper, listed=False)


def _register_rir() -> None:
    paper = "Targ et al. 2016 (RiR), Fig. 2 and Table 7"
    thin = {"blocks": (5, 5, 5), "widths": (16, 32, 64)}
    wide = {"blocks": (2, 3, 3), "widths": (96, 192, 384), "wide_head": True}
    for arch, thin_name, wide_name in (("cnn", "cnn32", "cnn18w"),
                                       ("resnet", "rir_resnet32", "resnet18w"),
                                       ("resnet_init", "resnet_init32", "resnet_init18w"),
                                       ("rir", "rir32", "rir18w")):
        register(thin_name, RiRNet, "rir", paper, architecture=arch, **thin)
        register(wide_name, RiRNet, "rir", paper, architecture=arch, **wide)
    register("rir", RiRNet, "rir", paper, listed=False)


def _register_ror() -> None:
    paper = "Zhang et al. 2017 (RoR), Fig. 2-3"
    register("ror3_resnet110", RoR, "ror", paper, depth=110, base="resnet")
    register("ror3_resnet164", RoR, "ror", paper, depth=164, base="resnet")
    register("pre_ror3_resnet164", RoR, "ror", paper, depth=164, base="preact")
    for depth, k in ((40, 2), (40, 4), (58, 4)):
        register(f"ror3_wrn{depth}_{k}", RoR, "ror", paper, depth=depth, widen_factor=k,
                 base="preact", depth_counting="wrn")
    register("ror", RoR, "ror", paper, listed=False)
    preact = "He et al. 2016b (Pre-ResNet); Zagoruyko & Komodakis 2016 (WRN)"
    for depth in (164, 1001):
        register(f"preresnet{depth}", PreActResNet, "preact", preact, depth=depth,
                 block="bottleneck")
    for depth, k in ((28, 10), (40, 2), (40, 4), (58, 4)):
        register(f"wrn{depth}_{k}", PreActResNet, "preact", preact, depth=depth,
                 widen_factor=k, block="basic")


_register_he2016()
_register_gelda2016()
_register_rir()
_register_ror()


def list_models(family: str | None = None) -> list[str]:
    """Every registered model name (of one ``family``: "cifar", "imagenet", ...), sorted.

    Generic names that take ``depth=`` ("plain", "resnet", ...) are accepted by
    :func:`build_model` but not listed.
    """
    families = list(dict.fromkeys(s.family for s in _REGISTRY.values()))
    specs = [s for s in _REGISTRY.values()
             if s.listed and (family is None or s.family == family)]
    specs.sort(key=lambda s: (families.index(s.family), _natural_key(s.name)))
    return [s.name for s in specs]


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` for ``name``; CIFAR depths not registered come from the name."""
    key = name.lower() if isinstance(name, str) else name
    if key in _REGISTRY:
        return _REGISTRY[key]
    match = _CIFAR_PATTERN.match(key) if isinstance(key, str) else None
    if match:
        base = _REGISTRY[match.group(1)]
        return ModelSpec(key, base.builder, {**base.fixed, "depth": int(match.group(2))},
                         base.family, base.paper, listed=False)
    close = difflib.get_close_matches(str(name).lower(), list(_REGISTRY), n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see reslab.list_models()"
    raise ValueError(f"unknown model {name!r}: {hint}")


def build_model(name: str, pretrained: str | None = None, **options: Any) -> nn.Module:
    """Build the model called ``name`` (see :func:`list_models`) with keyword ``options``.

    ``pretrained="akamaster"`` loads the fully trained weights a public reproduction publishes
    (ResNet-20/32/44/56/110/1202; see :mod:`reslab.models.pretrained`), in eval mode, with
    ``model.provenance``.

    >>> model = build_model("resnet56", shortcut="B")
    >>> model = build_model("resnet", depth=38)            # any 6n+2 depth
    >>> model = build_model("resnet20", in_channels=1)     # Fashion-MNIST
    >>> model = build_model("resnet56", pretrained="akamaster")
    """
    if pretrained is not None:
        net = build_model(name, **pretrained_options(name, pretrained, options))
        return load_pretrained(net, name, pretrained)
    spec = model_spec(name)
    allowed = spec.options()
    for key, value in options.items():
        if key not in allowed:
            fixed = f" ({name} fixes {key}={spec.fixed[key]!r})" if key in spec.fixed else ""
            raise ValueError(f"unknown option {key!r} for {name}{fixed}; valid options: "
                             f"{', '.join(allowed)}")
        if key in ("num_classes", "in_channels", "widen_factor") or (
                key == "input_size" and value is not None):
            check_positive_whole(key, value)
    model = spec.builder(**spec.fixed, **options)
    model.reslab_name = spec.name
    return model


def _natural_key(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def model_summary(name: str, **options) -> dict:
    """Parameters and multiply-adds of the model ``name`` on one image of its native size."""
    model = build_model(name, **options)
    size = model.input_size or 32
    shape = (1, model.in_channels, size, size)
    return {"name": name, "family": model_spec(name).family, "params": count_params(model),
            "macs": count_macs(model, shape), "input": "x".join(map(str, shape[1:]))}

