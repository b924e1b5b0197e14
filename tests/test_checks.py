"""Self-checks of notebooks 05-08 (00-04: test_checks_he2016.py) and the CheckResult they return:
right answers pass, wrong ones get specific feedback, a failing check is falsy and never raises."""
from __future__ import annotations

import pytest
import torch

import reslab
from reslab.course import checks
from reslab.models import ZeroPadShortcut
from reslab.models.network import StagedNet, classifier


def _identity_kernel(cin, cout):
    k = torch.zeros(cout, cin, 3, 3)
    for j in range(min(cin, cout) // 2):
        k[j, j, 1, 1] = 1
    return k


RIGHT_AND_WRONG = [
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
    assert not check(None).passed
    assert "the stub is still there" in capsys.readouterr().out


def test_failing_result_is_falsy_and_no_environment_variable_changes_that(monkeypatch, capsys):
    """Graded cells ``assert result``: grading depends on the result only, never on a
    variable a student could set or remove."""
    for value in ("1", "0", ""):
        monkeypatch.setenv("RESLAB_GRADING", value)
        result = checks.linear_survival(lambda n, p: [1.0] * n)
        assert not result and not result.passed
    monkeypatch.delenv("RESLAB_GRADING")
    assert not checks.linear_survival(None)
    assert checks.linear_survival(lambda n, p: [1 - l / n * (1 - p) for l in range(1, n + 1)])
    assert "✗" in capsys.readouterr().out
