"""torch.hub entry points: every net of reslab's model registry, by its registry name.

    import torch
    model = torch.hub.load("OWNER/NAME:TAG", "resnet56", pretrained=True)   # the README's
    torch.hub.list("OWNER/NAME:TAG")                                        # every name
    print(torch.hub.help("OWNER/NAME:TAG", "resnet56"))

Each entry is ``reslab.build_model(name, **options)``. ``pretrained=True`` loads the weights a
publisher has for that net through reslab's sha256-checked path (:mod:`reslab.models.pretrained`),
in eval mode, with ``model.provenance``; its docstring says the inputs the net expects.
Nothing beyond torch and torchvision is imported (torch hub puts this checkout's ``reslab`` on
the path).
"""
from __future__ import annotations

from reslab.models import pretrained as _pretrained
from reslab.models import registry as _registry

dependencies = ["torch", "torchvision"]


def _publishers(name: str) -> list[_pretrained.Source]:
    """The sources that publish trained weights for ``name``."""
    return [source for source in _pretrained.SOURCES.values() if name in source.files]


def _weights_doc(name: str) -> str:
    sources = _publishers(name)
    if not sources:
        return ("Untrained (the kit's initialisation): no publisher has weights for this net, "
                "so pretrained=True raises ValueError.")
    source = sources[0]
    error = source.files[name][2]
    return (f"pretrained=True: trained weights published by {source.publisher} "
            f"({source.licence}); trained on {source.dataset}, published test error {error}%. "
            "Loaded and sha256-checked by reslab (downloaded into torch hub's cache when not "
            "found locally); the net comes in eval mode, with model.provenance.\n"
            "Inputs: (N, 3, 32, 32) images scaled to [0, 1] (uint8 / 255), then per channel "
            f"(x - mean) / std with the publisher's mean {source.mean} and std {source.std}: "
            "reslab.models.pretrained.pretrained_inputs(model, uint8_images) does it.")


def _doc(name: str) -> str:
    spec = _registry.model_spec(name)
    return (f"{name}: {spec.paper} ({spec.family} family), as reslab.build_model({name!r}) "
            "builds it.\n\n"
            f"Options (keywords of reslab.build_model): {', '.join(spec.options())}.\n"
            f"{_weights_doc(name)}")


def _source(name: str, pretrained: bool | str) -> str | None:
    """``pretrained`` as build_model takes it: a source name, or None for no weights."""
    if pretrained is True:
        sources = _publishers(name)
        return sources[0].name if sources else "akamaster"  # build_model's one-line error
    return pretrained or None


def _entry(name: str):
    def entry(pretrained: bool | str = False, **options):
        return _registry.build_model(name, pretrained=_source(name, pretrained), **options)
    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = _doc(name)
    return entry


# One entry per registry name: torch.hub.list shows every public callable of this module.
globals().update({_name: _entry(_name) for _name in _registry.list_models()})
