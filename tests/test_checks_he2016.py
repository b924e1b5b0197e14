"""Checks of notebooks 00-04: stubs fail, reference solutions pass, wrong answers get a hint
that says what is wrong, and no check prints a value that answers its own exercise."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reslab
from reslab.course import checks
from reslab.models.analysis import count_params
from reslab.models.shortcuts import make_shortcut


class Basic(nn.Module):
    """A reference solution of notebook 01's block exercise."""

    def __init__(self, in_channels, out_channels, stride=1, shortcut="A"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride)

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + self.shortcut(x) if self.shortcut is not None else out)


class OneBN(Basic):
    """Wrong: the second BN is missing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bn2 = nn.Identity()


class NoFinalReLU(Basic):
    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return out + self.shortcut(x) if self.shortcut is not None else out


class Projection(nn.Sequential):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class ProjectionNoBN(nn.Sequential):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False))


class Bottle(nn.Module):
    expansion = 4

    def __init__(self, in_channels, width, stride=1, shortcut="A"):
        super().__init__()
        out = 4 * width
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut = make_shortcut(shortcut, in_channels, out, stride)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(torch.relu(self.bn2(self.conv2(out)))))
        return torch.relu(out + self.shortcut(x) if self.shortcut is not None else out)


class BottleStride3x3(Bottle):
    """Wrong for the paper's layout: the stride on the 3x3 conv (torchvision's v1.5)."""

    def __init__(self, in_channels, width, stride=1, shortcut="A"):
        super().__init__(in_channels, width, stride, shortcut)
        self.conv1.stride, self.conv2.stride = (1, 1), (stride, stride)


def _zero_gamma(model):
    for m in model.modules():
        if getattr(m, "shortcut", None) is not None and hasattr(m, "bn2"):
            torch.nn.init.zeros_(m.bn2.weight)
    return model


def _layer_std(model, layer, images):
    outs = []
    handle = layer.register_forward_hook(lambda m, i, o: outs.append(o.clone()))
    with torch.no_grad():
        model.eval()(images)
    handle.remove()
    return torch.cat(outs).std(unbiased=False).item()


def _bottleneck_formula(cin, width):
    return cin * width + 9 * width * width + 4 * width * width + 2 * (2 * width + 4 * width)


B_EXTRA = 2752
C_EXTRA = B_EXTRA + 3 * 288 + 2 * 1088 + 2 * 4224
# check, its stub, a solution, a wrong answer, the hint the wrong answer must get, and the
# values that answer the exercise (never printed)
CASES = {
    "fashion_mnist_model": (checks.fashion_mnist_model, None,
                            lambda: reslab.build_model("resnet32", in_channels=1),
                            lambda: reslab.build_model("resnet20", in_channels=1), "fewer",
                            [count_params(reslab.build_model("resnet32", in_channels=1))]),
    "identity_at_init": (checks.identity_at_init, None,
                         lambda: _zero_gamma(reslab.build_model("resnet20")),
                         lambda: reslab.build_model("resnet20"),
                         "the branch must add nothing at the start", []),
    "basic_block": (checks.basic_block, None, lambda: Basic, lambda: OneBN,
                    "your block has one, a basic block has two", []),
    "basic_block_relu": (checks.basic_block, None, lambda: Basic, lambda: NoFinalReLU,
                         "other values", []),
    "zero_pad_shortcut": (checks.zero_pad_shortcut, None,
                          lambda: lambda x, c, s: F.pad(x[:, :, ::s, ::s],
                                                        (0, 0, 0, 0, 0, c - x.shape[1])),
                          lambda: lambda x, c, s: F.pad(x[:, :, ::s, ::s],
                                                        (0, 0, 0, 0, c - x.shape[1], 0)),
                          "take every second pixel", []),
    "projection_shortcut": (checks.projection_shortcut, None, lambda: Projection,
                            lambda: ProjectionNoBN, "yours has no", []),
    "shortcut_param_counts": (checks.shortcut_param_counts, {"A": None, "B": None, "C": None},
                              lambda: {"A": 0, "B": B_EXTRA, "C": C_EXTRA},
                              lambda: {"A": 0, "B": 2560, "C": 0}, "too few",
                              [B_EXTRA, C_EXTRA]),
    "bottleneck_block": (checks.bottleneck_block, None, lambda: Bottle,
                         lambda: BottleStride3x3, "stride", []),
    "bottleneck_param_formula": (checks.bottleneck_param_formula, None,
                                 lambda: _bottleneck_formula,
                                 lambda: lambda cin, w: cin * w + 9 * w * w + 4 * w * w,
                                 "each BN adds 2", [_bottleneck_formula(c, w) for c, w in
                                                    ((256, 64), (512, 128), (64, 16), (24, 8))]),
    "response_std": (checks.response_std, None, lambda: _layer_std,
                     lambda: lambda model, layer, images: 1.0, "keep a *clone*", []),
}


def _numbers(text: str) -> set[int]:
    return {int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stub_fails_solution_passes_wrong_answer_is_explained(case, capsys):
    check, stub, right, wrong, hint, answers = CASES[case]
    result = check(stub)
    assert not result and "not yet right" in capsys.readouterr().out
    assert check(right())
    assert "all checks passed" in capsys.readouterr().out
    result = check(wrong())
    printed = capsys.readouterr().out
    assert not result and "✗" in printed and hint in printed, printed
    assert not _numbers(printed) & set(answers), printed


def test_response_check_does_not_print_the_measured_std(capsys):
    checks.response_std(lambda model, layer, images: 0.5)
    printed = capsys.readouterr().out
    assert not re.search(r"\d\.\d{3}", printed), printed


def test_a_check_never_raises_and_its_result_is_falsy(capsys):
    def broken(*args):
        raise RuntimeError("student bug")
    for check in (checks.basic_block, checks.projection_shortcut, checks.bottleneck_block,
                  checks.zero_pad_shortcut, checks.bottleneck_param_formula,
                  checks.response_std):
        assert not check(broken)
    assert "RuntimeError: student bug" in capsys.readouterr().out


def test_student_block_plugs_into_build_model_and_trains():
    model = reslab.build_model("resnet20", block=Basic)
    assert count_params(model) == count_params(reslab.build_model("resnet20"))
    assert count_params(reslab.build_model("resnet29", block=Bottle)) == count_params(
        reslab.build_model("resnet29", block="bottleneck"))
    history = reslab.train("resnet20", budget="smoke", dataset="shapes10", block=Basic,
                           out=False, progress=False)
    assert history.last("train_error") is not None
