"""Checks of notebook 07: Zhang et al. 2017, *Residual Networks of Residual Networks: Multilevel
Residual Networks* (ror-multilevel-residual-networks-page1.txt and SPEC.md).

* :func:`level_shortcut`: the middle- and root-level 1x1 projection shortcuts (Fig. 2),
  plugged into a RoR-3-32.
* :func:`linear_survival`: the stochastic depth RoR trains with, Huang et al. 2016's linear
  decay of survival probabilities (Eq. 4), driving a RoR-3-32.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslab.course.checks.result import (CheckResult, missing, module_from, not_done, runs,
                                         same_model_outputs)


def level_shortcut(factory: Callable[[int, int, int], nn.Module]) -> CheckResult:
    """Exercise (07): ``factory(in, out, stride)`` is RoR's middle/root-level shortcut (Zhang et
    al. 2017, Fig. 2: a 1x1 conv projection, with BN in the post-activation RoR)."""
    from reslab.models import build_model
    from reslab.models.analysis import count_params
    from reslab.models.shortcuts import ProjectionShortcut as Reference

    result = CheckResult("RoR level shortcut")
    if not_done(result, factory):
        return result.report()
    for cin, cout, stride in ((16, 16, 1), (16, 32, 2), (16, 64, 4)):
        module = module_from(result, factory, cin, cout, stride)
        if module is None:
            return result.report()
        got = runs(result, module.eval(), torch.randn(2, cin, 16, 16))
        want = Reference(cin, cout, stride)
        if missing(result, got) or not result.expect(
                tuple(got.shape) == (2, cout, 16 // stride, 16 // stride),
                f"{cin}->{cout}, stride {stride}: shape", (2, cout, 16 // stride, 16 // stride),
                tuple(got.shape), "a 1x1 convolution with the given stride and out channels"):
            continue
        result.expect(count_params(module) == count_params(want),
                      f"{cin}->{cout}: parameters", "a 1x1 conv without bias, then BN",
                      f"{count_params(module):,}", "bias=False (the BN that follows has a "
                      "shift); BatchNorm2d(out) after the conv")
    same_model_outputs(result, "RoR-3-32 built with it computes what the library's does",
                       lambda **kw: build_model("ror", depth=32, **kw),
                       {"level_shortcut": factory}, "conv first, then BN, as He et al.'s "
                       "projections")
    return result.report()


def linear_survival(fn: Callable[[int, float], list]) -> CheckResult:
    """Exercise (07): ``fn(num_blocks, p_last)`` is stochastic depth's linear decay (Huang et
    al. 2016, Eq. 4), checked on several depths and in a RoR. Prints no probabilities."""
    from reslab.models import build_model
    from reslab.models import linear_survival as reference

    result = CheckResult("linear decay of survival probabilities")
    if not_done(result, fn):
        return result.report()
    for n, p in ((4, 0.5), (54, 0.5), (10, 0.8)):
        got = runs(result, fn, n, p)
        if missing(result, got):
            return result.report()
        got, want = [float(v) for v in got], reference(n, p)
        if not result.expect(len(got) == n, f"{n} blocks: one probability each", n, len(got)):
            continue
        result.expect(all(abs(a - b) < 1e-9 for a, b in zip(got, want)),
                      f"{n} blocks, p_L={p}", "the linear decay", "other values",
                      _survival_hint(got, n, p))
    model = runs(result, lambda: build_model("ror", depth=32, stochastic_depth=0.5,
                                             survival_rule=fn))
    if not missing(result, model):
        probs = [m.survival_prob for m in model.modules() if hasattr(m, "survival_prob")]
        result.expect(probs == reference(len(probs), 0.5), "drives RoR-3-32's stochastic depth",
                      "the linear decay", "other probabilities", "the same rule, called by RoR")
    return result.report()


def _survival_hint(got: list[float], n: int, p: float) -> str:
    """What is wrong with a survival list, without its right values."""
    if abs(got[0] - 1) < 1e-9:
        return "block 1 already decays a little: block l of L counts l from 1, not 0"
    if abs(got[-1] - p) > 1e-9:
        return "the last block (l = L) must survive with p_L"
    steps = {round(b - a, 9) for a, b in zip(got, got[1:])}
    return "the decay is linear: equal steps from block to block" if len(steps) > 1 else \
        "block l of L survives with 1 - l/L * (1 - p_L)"
