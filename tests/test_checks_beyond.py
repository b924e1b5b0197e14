"""The exercise checks of notebooks 05-08: stubs fail, solutions pass, wrong answers fail with a
hint -- and no printed line gives away the value the exercise asks for."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reslab
from reslab.course import checks
from reslab.models.network import StagedNet, classifier


@pytest.fixture(autouse=True)
def polite(monkeypatch):
    monkeypatch.delenv("RESLAB_GRADING", raising=False)


class Pad(nn.Module):
    """Option A, as a reader writes it (05's stage shortcut, 08's adapter)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, channels_first: bool = False):
        super().__init__()
        self.extra, self.stride, self.first = cout - cin, stride, channels_first

    def forward(self, x):
        pad = (0, 0, 0, 0, self.extra, 0) if self.first else (0, 0, 0, 0, 0, self.extra)
        return F.pad(x[:, :, ::self.stride, ::self.stride], pad)


def _identity(cin, cout):
    k = torch.zeros(cout, cin, 3, 3)
    for j in range(min(cin, cout) // 2):
        k[j, j, 1, 1] = 1
    return k


class Generalized(nn.Conv2d):
    add_identity = True

    def __init__(self, cin, cout, stride=1):
        super().__init__(cin, cout, 3, stride, padding=1, bias=False)
        self.register_buffer("identity", _identity(cin, cout), persistent=False)

    def forward(self, x):
        kernel = self.weight + self.identity if self.add_identity else self.weight
        return F.conv2d(x, kernel, None, self.stride, self.padding)


class PlainConv(Generalized):
    add_identity = False


def _level(cin, cout, stride, bias=False):
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=bias), nn.BatchNorm2d(cout))


def _survival(n, p):
    return [1 - l / n * (1 - p) for l in range(1, n + 1)]


def _plan(order, n):
    return [tuple(range(n - k, n)) if order == "bottom-up" else tuple(range(k))
            for k in range(1, n + 1)]


def _stage3(full, adapter=Pad(16, 32, 2)):
    return StagedNet(nn.Sequential(full.stem, adapter), [full.stages[2]], classifier(64, 10),
                     3, 32)


def _numbers(values) -> list[str]:
    return [form.format(v) for v in values for form in ("{:,}", "{}", "{:.3f}", "{:.4f}")]


# check, a right answer, a wrong answer, a hint the wrong one gets, strings that would answer
# the exercise (the reference's values) and must never be printed
CASES = [
    (checks.resres_stage, lambda s, sc, x: torch.relu(s(x) + sc(x)),
     lambda s, sc, x: s(x) + sc(x), "the sum is rectified", []),
    (checks.stage_shortcut, Pad, lambda i, o, s: Pad(i, o, s, channels_first=True),
     "the new ones are all zeros", []),
    (checks.resnet_init_identity, _identity, lambda i, o: torch.eye(o, i)[:, :, None, None]
     .expand(o, i, 3, 3).clone(), "kernel centre", []),
    (checks.generalized_conv, Generalized, PlainConv, "add the identity",
     _numbers([16 * 16 * 9, 16 * 32 * 9])),
    (checks.level_shortcut, _level, lambda i, o, s: _level(i, o, s, bias=True), "bias=False",
     _numbers([16 * 16 + 32, 16 * 32 + 64, 16 * 64 + 128])),
    (checks.linear_survival, _survival, lambda n, p: [1 - l / n * (1 - p) for l in range(n)],
     "p_L", _numbers([0.875, 0.625, 0.98, 0.96]) + ["0.9907"]),
    (checks.phase_plan, _plan, lambda o, n: _plan("top-down" if o == "bottom-up" else
                                                  "bottom-up", n),
     "stage alone", ["(2,)", "(1, 2)", "(3,)", "(0, 1)"]),
    (checks.partial_net, _stage3,
     lambda full: _stage3(reslab.build_model("resnet32")), "weights carry over", []),
]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("check", [c[0] for c in CASES], ids=IDS)
def test_the_stub_fails(check, capsys):
    assert not check(None).passed
    assert "the stub is still there" in capsys.readouterr().out


@pytest.mark.parametrize("check,right", [c[:2] for c in CASES], ids=IDS)
def test_the_solution_passes(check, right, capsys):
    assert check(right).passed, capsys.readouterr().out
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("check,wrong,hint,answers", [(c[0], *c[2:]) for c in CASES], ids=IDS)
def test_a_wrong_answer_gets_a_hint_but_not_the_answer(check, wrong, hint, answers, capsys):
    assert not check(wrong).passed
    printed = capsys.readouterr().out
    assert "not yet right" in printed and hint in printed, printed
    assert not _leaks(printed, answers), f"{_leaks(printed, answers)} give the answer away"


def _leaks(printed: str, answers: list[str]) -> list[str]:
    return [a for a in answers + ["tensor("] if a in printed]


def test_the_leak_test_catches_a_check_that_prints_its_answer(capsys):
    """A check that showed the expected probabilities, as reslab's once did, is caught."""
    result = checks.CheckResult("leaky")
    result.expect(False, "4 blocks, p_L=0.5", "[0.8750 ... 0.5000]", "[1.0000 ... 1.0000]")
    result.report()
    assert "0.8750" in _leaks(capsys.readouterr().out, CASES[5][4])


def test_a_raising_answer_is_reported_not_raised(capsys):
    def broken(cin, cout, stride):
        raise RuntimeError("not written yet")

    assert not checks.stage_shortcut(broken).passed
    assert "RuntimeError: not written yet" in capsys.readouterr().out
