"""Wrong answers that once passed an exercise check, and now fail with a hint that does not
print the solution (issue 25): 00's plain-32, 01's silenced branches and skipped downsampling
blocks, 08's adapters and reused classifier heads, and 06's hint."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reslab
from reslab.course import checks
from reslab.models.network import StagedNet, classifier
from reslab.models.shortcuts import ZeroPadShortcut


def _blocks(model):
    return [m for m in model.modules() if getattr(m, "shortcut", None) is not None]


@pytest.mark.parametrize("wrong,hint", [
    (lambda: _zeroed_weight("bn1"), "earlier layers output zeros"),
    (lambda: _zeroed_weight("conv1"), "earlier layers output zeros"),
    (lambda: _zeroed_weight("bn2", downsampling=False), "the branch must add nothing"),
], ids=["bn1 zeroed", "conv1 zeroed", "downsampling blocks left out"])
def test_01_identity_needs_a_branch_that_can_learn(wrong, hint, capsys):
    assert not checks.identity_at_init(wrong())
    printed = capsys.readouterr().out
    assert hint in printed, printed
    assert "bn2" not in printed and "weight" not in printed


def _zeroed_weight(layer: str, downsampling: bool = True):
    model = reslab.build_model("resnet20")
    for block in _blocks(model):
        if downsampling or isinstance(block.shortcut, nn.Identity):
            torch.nn.init.zeros_(getattr(block, layer).weight)
    return model


def test_01_the_constructed_solution_passes():
    assert checks.identity_at_init(_zeroed_weight("bn2"))


def test_01_the_student_version_does_not_give_the_answer_away():
    """The exercise cell a student gets names the goal, not the layer to zero."""
    import json
    from pathlib import Path

    from reslab.course.assignments import student_version
    path = Path(__file__).resolve().parents[1] / "notebooks" / "01_degradation.ipynb"
    student = student_version(json.loads(path.read_text()), path.name)
    (cell,) = [c for c in student["cells"] if "def make_identity_blocks" in "".join(c["source"])]
    text = "".join(cell["source"])
    assert "bn2" not in text and "BN" not in text and "zero" not in text.lower()


def test_00_a_plain_net_with_a_resnets_parameters_is_not_a_resnet(capsys):
    assert not checks.fashion_mnist_model(reslab.build_model("plain32", in_channels=1))
    printed = capsys.readouterr().out
    assert "the blocks are residual" in printed and "✗" in printed
    assert "resnet32" not in printed and "build_model" not in printed


class _AvgAdapter(nn.Module):
    """Parameter-free and of the right shape, but not option A: averages 2x2 pixels."""

    def forward(self, x):
        return F.pad(F.avg_pool2d(x, 2), (0, 0, 0, 0, 0, 16))


class _ZerosFirst(nn.Module):
    """Option A's values, but the zero channels before the stem's."""

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 16, 0))


def _partial(adapter=None, head=None):
    def build(full):
        return StagedNet(nn.Sequential(full.stem, adapter or ZeroPadShortcut(16, 32, 2)),
                         [full.stages[2]], head(full) if head else classifier(64, 10), 3, 32)
    return build


@pytest.mark.parametrize("wrong,hint", [
    (_partial(adapter=_AvgAdapter()), "appends zero channels"),
    (_partial(adapter=_ZerosFirst()), "appends zero channels"),
    (_partial(head=lambda full: full.head), "a classifier of its own"),
    (_partial(head=lambda full: copy.deepcopy(full.head)), "a classifier of its own"),
], ids=["averaging adapter", "zeros first", "reused head", "copied head"])
def test_08_the_adapter_is_option_a_and_the_head_is_new(wrong, hint, capsys):
    assert not checks.partial_net(wrong)
    printed = capsys.readouterr().out
    assert hint in printed, printed
    assert "F.pad" not in printed and "::2" not in printed


def test_08_the_solution_passes():
    assert checks.partial_net(_partial())


def test_06_the_hint_does_not_print_the_solution_line(capsys):
    class Transposed(nn.Conv2d):
        def __init__(self, cin, cout, stride=1):
            super().__init__(cin, cout, 3, stride, padding=1, bias=False)
            identity = torch.zeros(cout, cin, 3, 3)
            identity[:min(cin, cout), :min(cin, cout), 1, 1] = torch.eye(min(cin, cout))
            self.register_buffer("identity", identity)

        def forward(self, x):
            return F.conv2d(x, self.weight - self.identity, None, self.stride, self.padding)

    assert not checks.generalized_conv(Transposed)
    printed = capsys.readouterr().out
    assert "self.weight + self.identity" not in printed and "F.conv2d" not in printed
