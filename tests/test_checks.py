"""Self-checks: right answers pass, wrong ones get specific feedback, grading mode raises."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import reslab
from reslab import checks
from reslab.models import ZeroPadShortcut
from reslab.models.network import StagedNet, classifier


@pytest.fixture(autouse=True)
def polite(monkeypatch):
    monkeypatch.delenv("RESLAB_GRADING", raising=False)


def _identity_kernel(cin, cout):
    k = torch.zeros(cout, cin, 3, 3)
    for j in range(min(cin, cout) // 2):
        k[j, j, 1, 1] = 1
    return k


def _zero_gamma(model):
    for m in model.modules():
        if isinstance(m, reslab.BasicBlock):
            torch.nn.init.zeros_(m.bn2.weight)
    return model


def _layer_std(model, layer, images):
    outs = []
    handle = layer.register_forward_hook(lambda m, i, o: outs.append(o.clone()))
    with torch.no_grad():
        model.eval()(images)
    handle.remove()
    return torch.cat(outs).std(unbiased=False).item()


RIGHT_AND_WRONG = [
    (checks.fashion_mnist_model, reslab.build_model("resnet32", in_channels=1),
     reslab.build_model("resnet32"), "in_channels=1"),
    (checks.identity_at_init, _zero_gamma(reslab.build_model("resnet20")),
     reslab.build_model("resnet20"), "change x"),
    (checks.zero_pad_shortcut,
     lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, 0, c - x.shape[1])),
     lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, c - x.shape[1], 0)),
     "first 16 channels"),
    (checks.shortcut_param_counts, {"A": 0, "B": 2752, "C": 2752 + 3 * 288 + 2 * 1088 + 2 * 4224},
     {"A": 0, "B": 2560, "C": 0}, "option B: expected 2,752, got 2,560"),
    (checks.bottleneck_params, 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256),
     256 * 64 + 9 * 64 * 64 + 64 * 256, "each BN adds 2 per channel"),
    (checks.response_std, _layer_std, lambda model, layer, images: 1.0, "keep a *clone*"),
    (checks.resres_stage, lambda s, sc, x: torch.relu(s(x) + sc(x)),
     lambda s, sc, x: s(x) + sc(x), "the sum is rectified"),
    (checks.resnet_init_identity, _identity_kernel,
     lambda cin, cout: torch.zeros(cout, cin, 3, 3), "expected 8 ones"),
    (checks.linear_survival, lambda n, p: [1 - l / n * (1 - p) for l in range(1, n + 1)],
     lambda n, p: [1 - l / n * (1 - p) for l in range(n)], "block l of L"),
    (checks.partial_net,
     lambda full: StagedNet(torch.nn.Sequential(full.stem, ZeroPadShortcut(16, 32, 2)),
                            [full.stages[2]], classifier(64, 10), 3, 32),
     lambda full: StagedNet(torch.nn.Sequential(full.stem, ZeroPadShortcut(16, 32, 2)),
                            [reslab.build_model("resnet32").stages[2]], classifier(64, 10), 3, 32),
     "weights carry over"),
]


@pytest.mark.parametrize("check,right,wrong,message", RIGHT_AND_WRONG,
                         ids=[c[0].__name__ for c in RIGHT_AND_WRONG])
def test_check_passes_right_answer_and_explains_wrong_one(check, right, wrong, message, capsys):
    assert check(right).passed
    assert "all checks passed" in capsys.readouterr().out
    result = check(wrong)
    printed = capsys.readouterr().out
    assert not result.passed and "not yet right" in printed
    assert message in printed, printed


@pytest.mark.parametrize("check", [c[0] for c in RIGHT_AND_WRONG])
def test_unfinished_stub_is_reported_not_raised(check, capsys):
    stub = ... if check in (checks.shortcut_param_counts, checks.bottleneck_params) else None
    assert not check(stub).passed
    assert "the stub is still there" in capsys.readouterr().out


def test_grading_mode_raises(monkeypatch):
    monkeypatch.setenv("RESLAB_GRADING", "1")
    with pytest.raises(AssertionError, match="option B: expected 2,752"):
        checks.shortcut_param_counts({"A": 0, "B": 1, "C": 2})
    assert checks.bottleneck_params(70_400).passed
