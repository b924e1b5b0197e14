"""Architecture diagrams: drawn from the model objects, so their labels follow the model."""
from __future__ import annotations

import re

import matplotlib
import pytest
import torch
from matplotlib import patches
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from reslab.course import diagrams as D
from reslab.course import plots
from reslab.models import BasicBlock, Bottleneck, PreActBlock, build_model

SHAPE = re.compile(r"^\d+×\d+×\d+$")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


def texts(fig: Figure) -> list[str]:
    """Every text in the figure, in the order it was drawn."""
    return [t.get_text() for t in fig.axes[0].texts]


def cells(fig: Figure, colour: str) -> int:
    """How many boxes of the figure are filled with ``colour``."""
    rgba = to_rgba(colour)
    return sum(isinstance(p, patches.FancyBboxPatch) and p.get_facecolor() == rgba
               for p in fig.axes[0].patches)


def measured_shapes(model: torch.nn.Module, size: int = 32) -> list[str]:
    """Stem and stage output shapes, run by hand (independently of the diagram's hooks)."""
    model.eval()
    with torch.no_grad():
        h = model.stem(torch.zeros(1, model.in_channels, size, size))
        shapes = [h.shape[1:]]
        for stage in model.stages:
            h = stage(h)
            shapes.append(h.shape[1:])
    return ["×".join(map(str, s)) for s in shapes]


@pytest.mark.parametrize("name,options", [
    ("resnet20", {}), ("resnet110", {}), ("plain56", {}), ("resnet20", {"shortcut": "B"}),
    ("resnet56", {"shortcut": "C"}), ("resnet50", {}), ("resresnet20", {}), ("rir32", {}),
    ("resnet_init32", {}), ("ror3_resnet110", {}), ("preresnet164", {}), ("wrn40_2", {}),
])
def test_every_model_draws_its_architecture(name, options):
    model = build_model(name, **options)
    fig = D.draw_architecture(model)
    drawn = texts(fig)
    classes = 1000 if name == "resnet50" else 10
    assert isinstance(fig, Figure)
    assert drawn[-1].startswith(name)  # the title names the model
    assert f"output {classes}" in drawn
    assert "stage 2, block 1" in drawn
    assert all(f"stage {i + 1}\n{len(s)} × {type(s[0]).__name__}" in drawn
               for i, s in enumerate(model.stages))
    assert model.training  # drawing leaves the model in its mode


def test_plots_reexports_draw_architecture():
    assert "resnet32" in texts(plots.draw_architecture(build_model("resnet32")))[-1]


@pytest.mark.parametrize("options,expected", [
    ({}, ["16×32×32", "16×32×32", "32×16×16", "64×8×8"]),
    ({"widths": (8, 24, 40)}, ["8×32×32", "8×32×32", "24×16×16", "40×8×8"]),
    ({"in_channels": 1, "input_size": 28}, ["16×28×28", "16×28×28", "32×14×14", "64×7×7"]),
])
def test_stage_shapes_drawn_are_the_shapes_measured(options, expected):
    model = build_model("resnet20", **options)
    size = options.get("input_size", 32)
    drawn = [t for t in texts(D.draw_stages(model)) if SHAPE.match(t)]
    assert drawn == measured_shapes(model, size) == expected
    assert [s for _, s in D.tensor_shapes(model)][1:-1] == [
        tuple(int(v) for v in e.split("×")) for e in expected]
    assert D.tensor_shapes(model)[-1] == ("output", (10,))


def test_imagenet_shapes_are_measured_at_224():
    shapes = dict(D.tensor_shapes(build_model("resnet50")))
    assert shapes["stem"] == (64, 56, 56)
    assert [shapes[f"stage {i}"] for i in range(1, 5)] == [
        (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]


def test_deep_nets_are_drawn_compactly():
    drawn = texts(D.draw_architecture(build_model("resnet110")))
    assert drawn.count("⋮") == 3  # one ellipsis per stage of 18 blocks
    assert sum(t == "3×3, 16 → 3×3, 16" for t in drawn) == 3  # blocks 1, 2 and 18 of stage 1
    small = texts(D.draw_architecture(build_model("resnet20")))
    assert small.count("⋮") == 0


def test_tracing_leaves_parameters_statistics_and_hooks_alone():
    model = build_model("resnet20")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    D.draw_architecture(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_option_a_draws_the_zero_padded_channels():
    fig = D.draw_shortcut_options(build_model("resnet20", shortcut="A"))
    drawn = texts(fig)
    assert "16 zero channels\n(zero padding)" in drawn
    assert "subsample /2\n+ 16 zero channels" in drawn
    assert "identity: 7 · zero-pad: 2 · projection: 0" in drawn
    assert "input\n16×32×32" in drawn and "output\n32×16×16" in drawn


def test_option_b_projects_only_where_dimensions_grow():
    fig = D.draw_shortcut_options(build_model("resnet56", shortcut="B"))
    assert "identity: 25 · zero-pad: 0 · projection: 2" in texts(fig)
    assert cells(fig, D.KIND_COLOURS["projection"]) == 2
    assert not any("zero padding" in t for t in texts(fig))


def test_option_c_projects_every_shortcut():
    fig = D.draw_shortcut_options(build_model("resnet56", shortcut="C"))
    assert "identity: 0 · zero-pad: 0 · projection: 27" in texts(fig)
    assert cells(fig, D.KIND_COLOURS["projection"]) == 27
    assert cells(fig, D.KIND_COLOURS["identity"]) == 0


def test_default_options_figure_has_one_panel_per_option():
    drawn = texts(D.draw_shortcut_options())
    assert ["option A", "option B", "option C"] == [t for t in drawn if t.startswith("option")]


def test_shortcut_option_is_read_from_the_modules():
    assert [D.shortcut_option(build_model("resnet20", shortcut=o)) for o in "ABC"] == [
        "A", "B", "C"]
    assert D.shortcut_option(build_model("plain20")) is None


def test_plain_vs_residual_differ_by_the_shortcut_only():
    fig = D.draw_plain_vs_residual()
    drawn = texts(fig)
    assert drawn.count("3×3 conv, 64") == 4 and "identity" in drawn
    assert sum(isinstance(p, patches.Circle) for p in fig.axes[0].patches) == 1  # one ⊕
    assert r"$\mathcal{F}(x) + x$" in drawn and r"$\mathcal{H}(x)$" in drawn
    models = texts(D.draw_plain_vs_residual(build_model("resnet20"), build_model("plain20")))
    assert models.count("3×3 conv, 16") == 4 and "16-d" in models


def test_bottleneck_labels_come_from_the_convolutions():
    paper = texts(D.draw_basic_vs_bottleneck())
    assert {"3×3 conv, 64", "1×1 conv, 64", "1×1 conv, 256", "256-d", "64-d"} <= set(paper)
    wider = texts(D.draw_basic_vs_bottleneck(BasicBlock(32, 32), Bottleneck(512, 128)))
    assert {"3×3 conv, 32", "1×1 conv, 128", "3×3 conv, 128", "1×1 conv, 512"} <= set(wider)
    assert "1×1 conv, 256" not in wider
    cifar = build_model("resnet", depth=29, block="bottleneck", widths=(8, 16, 32))
    drawn = texts(D.draw_basic_vs_bottleneck(bottleneck=cifar))
    assert {"1×1 conv, 8", "3×3 conv, 8", "1×1 conv, 32", "32-d"} <= set(drawn)


def test_imagenet_bottleneck_from_the_model():
    drawn = texts(D.draw_basic_vs_bottleneck(build_model("resnet34"), build_model("resnet50")))
    assert {"3×3 conv, 64", "1×1 conv, 64", "1×1 conv, 256", "256-d"} <= set(drawn)


def test_preactivation_projection_reads_the_preactivated_input():
    assert D.block_view(PreActBlock(16, 32, 2, shortcut="B")).split == 2  # after BN, ReLU
    assert D.block_view(PreActBlock(16, 16, 1, shortcut="B")).split == 0  # identity: x
    assert D.block_view(BasicBlock(16, 32, 2, shortcut="B")).split == 0


def test_ror_draws_root_middle_and_final_levels():
    drawn = texts(D.draw_architecture(build_model("ror3_resnet110")))
    assert "root: 1×1 conv, 64, /4 + BN" in drawn
    assert [t for t in drawn if t.startswith("middle:")] == [
        "middle: 1×1 conv, 16 + BN", "middle: 1×1 conv, 32, /2 + BN",
        "middle: 1×1 conv, 64, /2 + BN"]
    assert {"root-level shortcut", "middle-level shortcut (per stage)"} <= set(drawn)
    assert any("Zhang et al. 2017, Fig. 1" in t for t in drawn)
    two = texts(D.draw_architecture(build_model("ror3_resnet110", levels=2)))
    assert not any(t.startswith("middle:") for t in two) and "root-level shortcut" in two
    one = texts(D.draw_architecture(build_model("ror3_resnet110", levels=1)))
    assert not any(t.startswith(("middle:", "root:")) for t in one)


@pytest.mark.parametrize("option,expected", [
    ("A", ["stage: identity", "stage: subsample /2 + 16 zero channels",
           "stage: subsample /2 + 32 zero channels"]),
    ("B", ["stage: identity", "stage: 1×1 conv, 32, /2 + BN", "stage: 1×1 conv, 64, /2 + BN"]),
])
def test_resresnet_draws_a_shortcut_round_every_stage(option, expected):
    drawn = texts(D.draw_architecture(build_model("resresnet20", stage_shortcut=option)))
    assert [t for t in drawn if t.startswith("stage:")] == expected
    assert "stage shortcut (per stage)" in drawn


def test_rir_block_draws_two_streams_and_four_cross_connections():
    drawn = texts(D.draw_rir_block())
    for name in ("r→r", "t→r", "r→t", "t→t"):
        assert drawn.count(name) == 2  # two generalized residual layers per block
    assert "outer shortcut" in drawn and drawn.count("identity\n(r only)") == 2
    assert {"r: 8×32×32", "t: 8×32×32", "x = [r; t]: 16×32×32"} <= set(drawn)
    init = texts(D.draw_rir_block(build_model("resnet_init32")))
    assert "outer shortcut" not in init
    wide = texts(D.draw_rir_block(build_model("rir18w")))
    assert "r: 48×32×32" in wide
    with pytest.raises(ValueError, match="generalized"):
        D.draw_rir_block(build_model("cnn32"))


def test_rir_architectures_draw_the_four_nets_of_fig_2():
    drawn = texts(D.draw_rir_architectures())
    assert {"CNN", "ResNet", "ResNet Init", "RiR"} <= set(drawn)
    assert drawn.count("outer shortcut") == 1  # RiR only; ResNet's is a plain identity


def test_a_bare_block_is_drawn_as_a_block():
    drawn = texts(D.draw_architecture(Bottleneck(64, 16)))
    assert {"1×1 conv, 16", "3×3 conv, 16", "1×1 conv, 64"} <= set(drawn)


def test_figures_are_sized_to_keep_text_legible():
    for fig in (D.draw_architecture(build_model("resnet56")), D.draw_shortcut_options()):
        width, height = fig.get_size_inches()
        assert 3 < width < 16 and 3 < height < 16
    assert matplotlib.rcParams["axes.spines.top"] is False  # the kit's style is applied


class StudentBlock(torch.nn.Module):
    """A block written the way a student might: its own shortcut, functional ReLUs."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        relu = torch.nn.functional.relu
        return relu(self.bn2(self.conv2(relu(self.bn1(self.conv1(x))))) + self.shortcut(x))


def test_a_students_own_block_is_read_from_its_modules():
    drawn = texts(D.draw_plain_vs_residual(StudentBlock(16, 32, 2)))
    assert {"3×3 conv, 32, /2", "3×3 conv, 32", "1×1 conv, 32, /2 + BN", "$x$: 16-d",
            "32-d"} <= set(drawn)
    assert "projection shortcut (conv)" in drawn
