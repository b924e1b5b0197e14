"""Parameters and multiply-adds of the ImageNet ResNets (He et al. 2016, Table 1), measured once.

Counting ten ImageNet nets at 224×224 with :func:`reslab.models.analysis.count_macs` takes about a
minute of CPU (several on a busy 2-core machine), so notebook 03 reads the counts kept here.
They are measurements, not paper numbers: ``tests/test_models_he2016.py`` recounts every
entry with ``count_macs`` and fails if one differs. After a change to the ImageNet models,
recount with ``python -m reslab.course.imagenet_costs`` and paste its output below.
"""
from __future__ import annotations

from reslab.models.analysis import count_macs, count_params

INPUT_SHAPE = (1, 3, 224, 224)
LAYOUTS = ("paper", "torchvision")

# name -> layout -> (parameters, multiply-adds of one 224×224 image), from measure(); the
# paper layout strides a downsampling bottleneck's first 1×1 conv, torchvision its 3×3.
COSTS: dict[str, dict[str, tuple[int, int]]] = {
    "resnet18": {"paper": (11_689_512, 1_814_073_344), "torchvision": (11_689_512, 1_814_073_344)},
    "resnet34": {"paper": (21_797_672, 3_663_761_408), "torchvision": (21_797_672, 3_663_761_408)},
    "resnet50": {"paper": (25_557_032, 3_857_973_248), "torchvision": (25_557_032, 4_089_184_256)},
    "resnet101": {"paper": (44_549_160, 7_570_194_432),
                  "torchvision": (44_549_160, 7_801_405_440)},
    "resnet152": {"paper": (60_192_808, 11_282_415_616),
                  "torchvision": (60_192_808, 11_513_626_624)},
}


def measure(name: str, layout: str) -> tuple[int, int]:
    """Build ``name`` in ``layout`` and count its parameters and multiply-adds on INPUT_SHAPE."""
    from reslab.models import build_model

    model = build_model(name, layout=layout)
    return count_params(model), count_macs(model, INPUT_SHAPE)


def costs(name: str, layout: str, recount: bool = False) -> tuple[int, int]:
    """(parameters, multiply-adds) of ``name`` in ``layout``: the kept count, or a new one."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    if recount or name not in COSTS:
        return measure(name, layout)
    return COSTS[name][layout]


def main() -> None:
    """Print COSTS recounted, ready to paste into this module."""
    for name in COSTS:
        counted = {layout: measure(name, layout) for layout in LAYOUTS}
        print(f"    {name!r}: {{" + ", ".join(f"{k!r}: ({p:_}, {m:_})"
                                            for k, (p, m) in counted.items()) + "},")


if __name__ == "__main__":
    main()
