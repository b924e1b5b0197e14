"""The kept ImageNet counts of reslab.course.imagenet_costs (notebook 03's Table 1) are the real ones."""
from __future__ import annotations

import pytest

from reslab import paper
from reslab.course import imagenet_costs


def test_kept_costs_cover_every_imagenet_net_and_agree_with_the_paper_entries():
    assert set(imagenet_costs.COSTS) == set(paper.IMAGENET)
    for name, ref in paper.IMAGENET.items():
        params, macs = imagenet_costs.costs(name, "paper")
        assert params == ref["params"]
        assert macs == pytest.approx(ref["macs_paper"], abs=0.5e6)  # paper.py: 4 digits
        assert imagenet_costs.costs(name, "torchvision")[1] == pytest.approx(
            ref["macs_torchvision"], abs=0.5e6)
    with pytest.raises(ValueError, match="layout must be one of"):
        imagenet_costs.costs("resnet18", "v2")


# The kept counts are checked against a new count_macs measurement of every net in both layouts
# by tests/test_models_he2016.py::test_imagenet_params_and_macs_both_layouts.
