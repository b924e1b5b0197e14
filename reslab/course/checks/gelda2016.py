"""Checks of notebooks 05 and 08: Gelda, Schiller, Shenoy, Srinivasan 2016, *Residual Neural
Networks for Image Recognition* (gelda2016-resresnet-report.txt beside SPEC.md).

* 05, Sec. III.A (ResResNet, Fig. 7): :func:`resres_stage`, a stage with its own shortcut,
  ReLU(stage(x) + S(x)); :func:`stage_shortcut`, that shortcut as option A (He et al.'s
  zero-padding, the report's natural reading), plugged into a ResResNet-20.
* 08, Sec. III.B and IV (successive block training): :func:`partial_net`, bottom-up's first
  partial net; :func:`phase_plan`, the order in which stages join, for any number of stages.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslab.course.checks.result import (CheckResult, missing, module_from, not_done, runs,
                                         same_model_outputs)


def resres_stage(fn: Callable[[nn.Module, nn.Module, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise (05): ``fn(stage, shortcut, x)`` is a ResResNet stage, ReLU(stage(x) + S(x))."""
    from reslab.models import build_model

    result = CheckResult("ResResNet stage")
    if not_done(result, fn):
        return result.report()
    torch.manual_seed(0)
    # a projection stage shortcut can be negative, so the ReLU matters (with option A both
    # terms are non-negative and the ReLU changes nothing)
    model = build_model("resresnet20", stage_shortcut="B").eval()
    x = torch.relu(torch.randn(2, 16, 32, 32))
    with torch.no_grad():
        got = runs(result, fn, model.stages[1], model.middle[1], x)
        if missing(result, got):
            return result.report()
        want = torch.relu(model.stages[1](x) + model.middle[1](x))
        without_relu = model.stages[1](x) + model.middle[1](x)
    if not result.expect(tuple(got.shape) == tuple(want.shape), "output shape",
                         tuple(want.shape), tuple(got.shape)):
        return result.report()
    if torch.allclose(got, without_relu):
        result.expect(False, "the sum is rectified", "ReLU(stage(x) + shortcut(x))",
                      "the sum without ReLU", "Gelda et al.: 'then rectifying the sum'")
    else:
        result.expect(torch.allclose(got, want, atol=1e-6), "values", "ReLU(stage(x) + S(x))",
                      "other values", "add the stage's output and the shortcut's, then ReLU")
    return result.report()


def stage_shortcut(factory: Callable[[int, int, int], nn.Module]) -> CheckResult:
    """Exercise (05): ``factory(in, out, stride)`` is an option-A stage shortcut (Gelda et al.
    2016, Sec. III.A with He et al.'s option A), plugged into a ResResNet-20."""
    from reslab.models import build_model
    from reslab.models.shortcuts import ZeroPadShortcut as Reference

    result = CheckResult("stage-level shortcut (option A)")
    if not_done(result, factory):
        return result.report()
    for cin, cout, stride in ((16, 16, 1), (16, 32, 2), (32, 64, 2)):
        module = module_from(result, factory, cin, cout, stride)
        if module is None:
            return result.report()
        x = torch.rand(2, cin, 8, 8) + 0.5
        got, want = runs(result, module, x), Reference(cin, cout, stride)(x)
        if missing(result, got) or not result.expect(
                tuple(got.shape) == tuple(want.shape), f"{cin}->{cout}, stride {stride}: shape",
                tuple(want.shape), tuple(got.shape),
                "subsample with the stride (every stride-th pixel), then add out - in channels"):
            continue
        result.expect(torch.equal(got, want), f"{cin}->{cout}, stride {stride}: values",
                      "the input's pixels, then zero channels", "other values",
                      "keep the input's channels first, unchanged; the new ones are all zeros")
        result.expect(sum(p.numel() for p in module.parameters()) == 0,
                      f"{cin}->{cout}: no learnable parameters", "none", "some",
                      "option A only copies and pads")
    same_model_outputs(result, "ResResNet-20 built with it computes what the library's does",
                       lambda **kw: build_model("resresnet20", **kw),
                       {"stage_shortcut": factory}, "check each stage's shortcut above")
    return result.report()


def partial_net(fn: Callable[[nn.Module], nn.Module]) -> CheckResult:
    """Exercise (08): ``fn(full)`` is bottom-up's first partial net: stem, adapter, stage 3.

    Checks the adapter by its function (stage 3 must receive option A of the stem's output:
    subsampled by 2, 16 zero channels after the 16 of the stem) and the classifier by being
    new (not the full net's module, nor a copy of its weights).
    """
    from reslab.models import build_model
    from reslab.models.analysis import count_params
    from reslab.models.shortcuts import ZeroPadShortcut

    result = CheckResult("partial net for stage 3 alone")
    if not_done(result, fn):
        return result.report()
    full = build_model("resnet32").eval()
    net = runs(result, fn, full)
    if missing(result, net):
        return result.report()
    x = torch.rand(2, 3, 32, 32)
    seen = _stage_input(full.stages[2], lambda: runs(result, net.eval(), x))
    if missing(result, seen["out"]):
        return result.report()
    result.expect(tuple(seen["out"].shape) == (2, 10), "output shape", (2, 10),
                  tuple(seen["out"].shape), "end with global average pooling and a 64 -> 10 "
                  "classifier")
    if not result.expect("input" in seen, "stage 3 is the full net's own module (weights "
                         "carry over)", "full.stages[2] inside the net", "a copy or another "
                         "stage", "use full.stages[2] itself, not a new stage"):
        return result.report()
    with torch.no_grad():
        want = ZeroPadShortcut(16, 32, stride=2)(full.stem(x))
    got = seen["input"]
    result.expect(tuple(got.shape) == tuple(want.shape) and torch.allclose(got, want),
                  "the adapter is option A: stage 3 gets the stem's output subsampled, with "
                  "zero channels added", "option A's values", "other values", "the adapter "
                  "keeps every second pixel and appends zero channels after the existing ones")
    expected = count_params(full.stem) + count_params(full.stages[2]) + 64 * 10 + 10
    got_params = count_params(net)
    result.expect(got_params == expected, "parameters (stem + stage 3 + new fc, adapter free)",
                  f"{expected:,}", f"{got_params:,}", "the adapter has no parameters")
    result.expect(_new_head(net, full), "the classifier is new, not the full net's",
                  "a freshly built classifier", "the full net's or a copy of it",
                  "each phase trains a classifier of its own (Sec. III.B)")
    return result.report()


def _stage_input(stage: nn.Module, call: Callable) -> dict:
    """Run ``call()``; return its output and what ``stage`` received, if it was called."""
    seen: dict = {}
    hook = stage.register_forward_pre_hook(lambda m, args: seen.setdefault("input", args[0]))
    try:
        with torch.no_grad():
            seen["out"] = call()
    finally:
        hook.remove()
    return seen


def _new_head(net: nn.Module, full: nn.Module) -> bool:
    """No weight of ``net`` outside the full net's stem and stage 3 is, or equals, a weight
    of the full net's classifier."""
    kept = {id(p) for m in (full.stem, full.stages[2]) for p in m.parameters()}
    old = list(full.head.parameters())
    return not any(id(p) not in kept and any(p is q or (p.shape == q.shape and torch.equal(p, q))
                                             for q in old) for p in net.parameters())


def phase_plan(fn: Callable[[str, int], list]) -> CheckResult:
    """Exercise (08): ``fn(order, num_stages)`` is successive training's phase plan (Gelda et
    al. 2016, Sec. IV's naming), for any number of stages. Prints no plan."""
    from reslab.training.successive import check_stage_orders

    result = CheckResult("phase plan for successive training")
    if not_done(result, fn):
        return result.report()
    for order, n in (("bottom-up", 3), ("top-down", 3), ("bottom-up", 4), ("top-down", 2)):
        got = runs(result, fn, order, n)
        if missing(result, got):
            return result.report()
        try:
            plan = check_stage_orders(got, n)
        except (TypeError, ValueError) as error:
            result.expect(False, f"{order}, {n} stages: a valid plan", "a valid plan",
                          "an invalid one", str(error)[:200])
            continue
        want = tuple(tuple(range(n - k, n)) if order == "bottom-up" else tuple(range(k))
                     for k in range(1, n + 1))
        hint = ("top-down starts with the input-side stage alone" if order == "top-down"
                else "bottom-up starts with the output-side stage alone (Sec. IV)")
        result.expect(plan == want, f"{order}, {n} stages", "one phase per stage count",
                      "another plan", hint if plan[0] != want[0] else
                      "add one stage per phase, next to the stages already trained")
    return result.report()
