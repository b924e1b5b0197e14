"""Checks of notebook 06: Targ, Almeida, Lyman 2016, *ResNet in ResNet: Generalizing Residual
Architectures* (rir-resnet-in-resnet.txt beside SPEC.md).

* :func:`resnet_init_identity`: ResNet Init's identity on the residual stream (appendix 6.1).
* :func:`generalized_conv`: the generalized residual block's four convolutions (Eq. 1) as one
  convolution with kernel ``weight + identity`` (Eq. 2), plugged into a ResNet Init-32.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslab.course.checks.result import (CheckResult, missing, module_from, not_done, runs,
                                         same_model_outputs)


def resnet_init_identity(fn: Callable[[int, int], torch.Tensor]) -> CheckResult:
    """Exercise (06): ``fn(in_channels, out_channels)`` builds ResNet Init's partial identity."""
    from reslab.models.rir import GeneralizedResidualConv

    result = CheckResult("ResNet Init identity kernel")
    if not_done(result, fn):
        return result.report()
    for cin, cout in ((16, 16), (16, 32)):
        want = GeneralizedResidualConv(cin, cout).identity
        got = runs(result, fn, cin, cout)
        if missing(result, got):
            return result.report()
        if not result.expect(tuple(got.shape) == tuple(want.shape), f"shape for {cin}->{cout}",
                             tuple(want.shape), tuple(got.shape), "(out, in, 3, 3)"):
            continue
        ones = int(got.sum())
        result.expect(torch.equal(got, want), f"{cin}->{cout} channels", f"{int(want.sum())} "
                      "ones at the kernel centre, residual channel j -> j",
                      f"{ones} ones" + ("" if ones == int(want.sum()) else ""),
                      "only the first half of the input channels (r) map to the first half "
                      "of the output channels, at [j, j, 1, 1]")
    return result.report()


def _conv_outputs(result: CheckResult, conv: nn.Module, cin: int, cout: int, stride: int):
    """The reader's conv and the reference (given the reader's learnable weight) on one input."""
    import torch.nn.functional as F

    from reslab.models.rir import GeneralizedResidualConv

    reference = GeneralizedResidualConv(cin, cout, stride)
    with torch.no_grad():
        reference.weight.copy_(conv.weight)
        x = torch.randn(2, cin, 8, 8)
        got = runs(result, conv, x)
        plain = F.conv2d(x, conv.weight, None, stride, 1)
        return got, reference(x), plain


def generalized_conv(cls: Callable[[int, int, int], nn.Conv2d]) -> CheckResult:
    """Exercise (06): ``cls(in, out, stride)`` computes Eq. 1's four convolutions as one (Eq. 2):
    ``conv(x, weight + identity)``, identity fixed (not learnable, not decayed)."""
    from reslab.models import build_model

    result = CheckResult("generalized residual convolution")
    if not_done(result, cls):
        return result.report()
    for cin, cout, stride in ((16, 16, 1), (16, 32, 2)):
        conv = module_from(result, cls, cin, cout, stride)
        if conv is None or not result.expect(
                isinstance(getattr(conv, "weight", None), nn.Parameter),
                "has a learnable .weight", "a Parameter", type(getattr(conv, "weight", None)),
                "subclass nn.Conv2d(in, out, 3, stride, padding=1, bias=False)"):
            return result.report()
        learnable = sum(p.numel() for p in conv.parameters())
        result.expect(learnable == cout * cin * 9, f"{cin}->{cout}: learnable parameters",
                      "one 3x3 kernel, no bias", f"{learnable:,}", "bias=False; register the "
                      "identity with register_buffer, so weight decay never sees it")
        got, want, plain = _conv_outputs(result, conv, cin, cout, stride)
        if missing(result, got):
            return result.report()
        ok = tuple(got.shape) == tuple(want.shape) and torch.allclose(got, want, atol=1e-5)
        hint = ("that is the plain convolution: add the identity to the kernel in forward"
                if tuple(got.shape) == tuple(plain.shape) and torch.allclose(got, plain,
                                                                              atol=1e-5)
                else "convolve with the learnable kernel plus the fixed partial identity (Eq. 2), "
                "at the layer's own stride and padding; the identity stays out of the weight, "
                "so decay acts on kernel - identity")
        result.expect(ok, f"{cin}->{cout}, stride {stride}: outputs on random inputs",
                      "conv with weight + identity", "other values", hint)
    same_model_outputs(result, "resnet_init32 built with it computes what the library's does",
                       lambda **kw: build_model("resnet_init32", **kw),
                       {"generalized_conv": cls}, "check the single convolutions above")
    return result.report()
