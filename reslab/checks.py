"""Self-checks for the notebooks' exercises: specific feedback, expected vs got.

Each check prints one line per finding (✓ right, ✗ wrong: what was expected, what came back,
and a hint) and returns a :class:`CheckResult`. A failing check does not raise, so a student's
notebook still runs to the end -- unless ``RESLAB_GRADING=1`` is set (autograding with
nbgrader), where a failure raises ``AssertionError`` so the graded cell loses its points.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class CheckResult:
    """What a check found: ``passed`` and one message per finding."""

    name: str
    passed: bool = True
    messages: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str, expected=None, got=None, hint: str = "") -> bool:
        """Record one finding; ``expected``/``got`` are shown when it is wrong."""
        if ok:
            self.messages.append(f"✓ {what}")
        else:
            self.passed = False
            detail = f": expected {expected}, got {got}" if expected is not None or \
                got is not None else ""
            self.messages.append(f"✗ {what}{detail}" + (f" -- hint: {hint}" if hint else ""))
        return ok

    def report(self) -> CheckResult:
        verdict = "all checks passed" if self.passed else "not yet right"
        print(f"{self.name}: {verdict}")
        for m in self.messages:
            print(f"  {m}")
        if not self.passed and os.environ.get("RESLAB_GRADING"):
            raise AssertionError(f"{self.name}: " + "; ".join(
                m for m in self.messages if m.startswith("✗")))
        return self

    def __repr__(self) -> str:
        return f"CheckResult({self.name!r}, passed={self.passed})"


def _not_done(result: CheckResult, value) -> bool:
    """A stub left as ``...``/None: say so once instead of failing every finding."""
    if value is None or value is Ellipsis:
        result.expect(False, "an answer is given", "your code", "nothing (the stub is still "
                      "there)", "replace the `...` in the exercise cell")
        return True
    return False


def identity_at_init(model: nn.Module) -> CheckResult:
    """Exercise (01): every residual block of ``model`` starts as an identity mapping.

    The constructed-solution argument: a deeper net whose extra layers are identities is at
    least as good as the shallower one. Checks each block on a non-negative input (what a
    block receives after a ReLU): ``block(x) == x`` with the branch zeroed.
    """
    result = CheckResult("identity at initialisation")
    if _not_done(result, model):
        return result.report()
    blocks = [m for m in model.modules() if hasattr(m, "shortcut") and m.shortcut is not None]
    result.expect(len(blocks) > 0, "the model has residual blocks", "> 0 blocks", len(blocks),
                  "use a ResNet, not a plain net")
    model.eval()
    wrong = []
    with torch.no_grad():
        for i, block in enumerate(blocks):
            channels = block.conv1.in_channels
            x = torch.rand(2, channels, 8, 8)
            same_shape = isinstance(block.shortcut, nn.Identity)
            if same_shape and not torch.allclose(block(x), x, atol=1e-6):
                wrong.append(i)
    result.expect(not wrong, "blocks with identity shortcuts return their input",
                  "block(x) == x", f"blocks {wrong[:5]} change x" if wrong else None,
                  "zero the weight (gamma) of the last BN in each block: its branch then adds 0")
    return result.report()


def fashion_mnist_model(model: nn.Module) -> CheckResult:
    """Exercise (00): a 32-layer ResNet for 1-channel 32x32 images and 10 classes."""
    from reslab.analysis import count_params
    from reslab.models import build_model

    result = CheckResult("a ResNet-32 for Fashion-MNIST")
    if _not_done(result, model):
        return result.report()
    try:
        out = model.eval()(torch.zeros(2, 1, 32, 32))
    except Exception as error:  # noqa: BLE001
        result.expect(False, "accepts (N, 1, 32, 32) batches", "10 logits per image",
                      f"{type(error).__name__}: {str(error)[:120]}", "pass in_channels=1")
        return result.report()
    result.expect(tuple(out.shape) == (2, 10), "output shape", (2, 10), tuple(out.shape),
                  "Fashion-MNIST has 10 classes")
    expected = count_params(build_model("resnet32", in_channels=1))
    got = count_params(model)
    result.expect(got == expected, "parameters of a 32-layer ResNet with 1 input channel",
                  f"{expected:,}", f"{got:,}", "depth 32 = 6n+2 with n=5; option A shortcuts")
    return result.report()


def zero_pad_shortcut(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> CheckResult:
    """Exercise (02): ``fn(x, out_channels, stride)`` implements option A."""
    from reslab.models.shortcuts import ZeroPadShortcut

    result = CheckResult("option A shortcut")
    if _not_done(result, fn):
        return result.report()
    x = torch.randn(2, 16, 8, 8) + 3.0  # no zeros by chance
    try:
        got = fn(x, 32, 2)
    except Exception as error:  # noqa: BLE001 - show the student what went wrong
        result.expect(False, "the function runs", "a tensor", f"{type(error).__name__}: {error}")
        return result.report()
    if _not_done(result, got):
        return result.report()
    want = ZeroPadShortcut(16, 32, 2)(x)
    if not result.expect(tuple(got.shape) == tuple(want.shape), "output shape",
                         tuple(want.shape), tuple(got.shape),
                         "subsample with stride 2 (x[:, :, ::2, ::2]) and add 16 channels"):
        return result.report()
    result.expect(torch.equal(got[:, :16], want[:, :16]), "the first 16 channels are the "
                  "input, subsampled", "x[:, :, ::2, ::2]", "other values",
                  "take every second pixel, starting at 0")
    result.expect(bool(torch.all(got[:, 16:] == 0)), "the 16 new channels are all zeros",
                  "zeros", f"max |value| {got[:, 16:].abs().max().item():.3g}",
                  "pad the channel dimension (dim 1) with zeros, after the input's channels")
    same = fn(x, 16, 1)
    result.expect(same is not None and torch.equal(same, x), "stride 1 and equal channels "
                  "give the identity", "x unchanged", "something else")
    return result.report()


def shortcut_param_counts(answers: dict[str, int], depth: int = 20) -> CheckResult:
    """Exercise (02): extra parameters of options A, B and C over the plain net of ``depth``."""
    from reslab.analysis import count_params
    from reslab.models import build_model

    result = CheckResult(f"extra parameters of shortcut options, ResNet-{depth}")
    if _not_done(result, answers):
        return result.report()
    plain = count_params(build_model("plain", depth=depth))
    for option in ("A", "B", "C"):
        extra = count_params(build_model("resnet", depth=depth, shortcut=option)) - plain
        got = answers.get(option)
        hints = {"A": "zero-padding has no weights",
                 "B": "two 1x1 conv + BN projections, where the channels double",
                 "C": "a 1x1 conv + BN on every one of the 3n shortcuts"}
        result.expect(got == extra, f"option {option}", f"{extra:,}",
                      f"{got:,}" if isinstance(got, int) else got, hints[option])
    return result.report()


def bottleneck_params(answer: int, in_channels: int = 256, width: int = 64) -> CheckResult:
    """Exercise (03): parameters of one bottleneck block (convs + BNs, identity shortcut)."""
    from reslab.analysis import count_params
    from reslab.models import Bottleneck

    result = CheckResult(f"bottleneck {in_channels}-{width}-{4 * width} parameters")
    if _not_done(result, answer):
        return result.report()
    block = Bottleneck(in_channels, width, shortcut="A")
    expected = count_params(block)
    convs = in_channels * width + 9 * width * width + width * 4 * width
    hint = (f"the three convs alone have {convs:,} weights; each BN adds 2 per channel"
            if answer == convs else "1x1: in*out weights; 3x3: 9*in*out; BN: 2 per channel")
    result.expect(answer == expected, "parameter count", f"{expected:,}",
                  f"{answer:,}" if isinstance(answer, int) else answer, hint)
    return result.report()


def response_std(fn: Callable[[nn.Module, nn.Module, torch.Tensor], float]) -> CheckResult:
    """Exercise (04): ``fn(model, layer, images)`` returns the std of ``layer``'s output."""
    from reslab.analysis import layer_responses, response_layers
    from reslab.models import build_model

    result = CheckResult("layer response std")
    if _not_done(result, fn):
        return result.report()
    torch.manual_seed(0)
    model = build_model("resnet20").eval()
    images = torch.randn(64, 3, 32, 32)
    name, layer = response_layers(model)[5]
    expected = layer_responses(model, images)[5]["std"]
    try:
        got = fn(model, layer, images)
    except Exception as error:  # noqa: BLE001
        result.expect(False, "the function runs", "a number", f"{type(error).__name__}: {error}")
        return result.report()
    if _not_done(result, got):
        return result.report()
    got = float(got)
    result.expect(abs(got - expected) < 1e-3 * max(1, expected), f"std of {name}",
                  f"{expected:.4f}", f"{got:.4f}",
                  "register_forward_hook on the layer and keep a *clone* of its output (the "
                  "ReLU after a BN works in place and would overwrite it); run the model in "
                  "eval mode under torch.no_grad(); std over all elements, unbiased=False")
    result.expect(len(layer._forward_hooks) == 0, "the hook is removed afterwards",
                  "0 hooks left", f"{len(layer._forward_hooks)} left", "call handle.remove()")
    return result.report()


_FAILED = object()  # what _runs returns when the student's function raised


def _runs(result: CheckResult, fn: Callable, *args):
    """Call ``fn``; on an exception record it (with its message) and return ``_FAILED``."""
    try:
        return fn(*args)
    except Exception as error:  # noqa: BLE001 - shown to the student
        result.expect(False, "the function runs", "a result",
                      f"{type(error).__name__}: {str(error)[:160]}")
        return _FAILED


def _missing(result: CheckResult, value) -> bool:
    """The call raised, or returned a stub's nothing: either way there is nothing to check."""
    return value is _FAILED or _not_done(result, value)


def resres_stage(fn: Callable[[nn.Module, nn.Module, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise (05): ``fn(stage, shortcut, x)`` is a ResResNet stage, ReLU(stage(x) + S(x))."""
    from reslab.models import build_model

    result = CheckResult("ResResNet stage")
    if _not_done(result, fn):
        return result.report()
    torch.manual_seed(0)
    # a projection stage shortcut can be negative, so the ReLU matters (with option A both
    # terms are non-negative and the ReLU changes nothing)
    model = build_model("resresnet20", stage_shortcut="B").eval()
    x = torch.relu(torch.randn(2, 16, 32, 32))
    with torch.no_grad():
        got = _runs(result, fn, model.stages[1], model.middle[1], x)
        if _missing(result, got):
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


def resnet_init_identity(fn: Callable[[int, int], torch.Tensor]) -> CheckResult:
    """Exercise (06): ``fn(in_channels, out_channels)`` builds ResNet Init's partial identity."""
    from reslab.models.rir import GeneralizedResidualConv

    result = CheckResult("ResNet Init identity kernel")
    if _not_done(result, fn):
        return result.report()
    for cin, cout in ((16, 16), (16, 32)):
        want = GeneralizedResidualConv(cin, cout).identity
        got = _runs(result, fn, cin, cout)
        if _missing(result, got):
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


def partial_net(fn: Callable[[nn.Module], nn.Module]) -> CheckResult:
    """Exercise (08): ``fn(full)`` is bottom-up's first partial net: stem, adapter, stage 3."""
    from reslab.analysis import count_params
    from reslab.models import build_model

    result = CheckResult("partial net for stage 3 alone")
    if _not_done(result, fn):
        return result.report()
    full = build_model("resnet32")
    net = _runs(result, fn, full)
    if _missing(result, net):
        return result.report()
    out = _runs(result, net.eval(), torch.zeros(2, 3, 32, 32))
    if _missing(result, out):
        return result.report()
    result.expect(tuple(out.shape) == (2, 10), "output shape", (2, 10), tuple(out.shape),
                  "end with global average pooling and a 64 -> 10 classifier")
    shares = any(m is full.stages[2] for m in net.modules())
    result.expect(shares, "stage 3 is the full net's own module (weights carry over)",
                  "full.stages[2] inside the net", "a copy or another stage",
                  "use full.stages[2] itself, not a new stage")
    expected = (count_params(full.stem) + count_params(full.stages[2]) + 64 * 10 + 10)
    got = count_params(net)
    result.expect(got == expected, "parameters (stem + stage 3 + new fc, adapter free)",
                  f"{expected:,}", f"{got:,}", "the adapter (option A: subsample, zero-pad "
                  "16 -> 32 channels) has no parameters")
    return result.report()


# ---------------------------------------------------------------------------------------------
# Notebooks 05-08: the reader builds a module, a rule or a plan, and reslab then draws or trains
# it. Each check compares behaviour with a hidden reference (outputs on random inputs, parameter
# counts, the plugged-in model's outputs) and never prints the reference's values.

def _module_from(result: CheckResult, factory: Callable, *args) -> nn.Module | None:
    """``factory(*args)`` if it runs and returns a module; otherwise record why and ``None``."""
    module = _runs(result, factory, *args)
    if _missing(result, module):
        return None
    if not result.expect(isinstance(module, nn.Module), f"{args} gives an nn.Module",
                         "an nn.Module", type(module).__name__, "subclass torch.nn.Module"):
        return None
    return module


def _same_model_outputs(result: CheckResult, what: str, build: Callable[..., nn.Module],
                        hook: dict, hint: str) -> None:
    """Build the model with and without the reader's ``hook`` from one seed; compare outputs."""
    from reslab.analysis import count_params

    torch.manual_seed(0)
    want_model = build().eval()
    torch.manual_seed(0)
    got_model = _runs(result, lambda: build(**hook).eval())
    if _missing(result, got_model):
        return
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        same = count_params(got_model) == count_params(want_model) and torch.allclose(
            got_model(x), want_model(x), atol=1e-5)
    result.expect(same, what, "the library's outputs", "other outputs or parameters", hint)


def stage_shortcut(factory: Callable[[int, int, int], nn.Module]) -> CheckResult:
    """Exercise (05): ``factory(in, out, stride)`` is an option-A stage shortcut (Gelda et al.
    2016, Sec. III.A with He et al.'s option A), plugged into a ResResNet-20."""
    from reslab.models import build_model
    from reslab.models.shortcuts import ZeroPadShortcut as Reference

    result = CheckResult("stage-level shortcut (option A)")
    if _not_done(result, factory):
        return result.report()
    for cin, cout, stride in ((16, 16, 1), (16, 32, 2), (32, 64, 2)):
        module = _module_from(result, factory, cin, cout, stride)
        if module is None:
            return result.report()
        x = torch.rand(2, cin, 8, 8) + 0.5
        got, want = _runs(result, module, x), Reference(cin, cout, stride)(x)
        if _missing(result, got) or not result.expect(
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
    _same_model_outputs(result, "ResResNet-20 built with it computes what the library's does",
                        lambda **kw: build_model("resresnet20", **kw),
                        {"stage_shortcut": factory}, "check each stage's shortcut above")
    return result.report()


def _conv_outputs(result: CheckResult, conv: nn.Module, cin: int, cout: int, stride: int):
    """The reader's conv and the reference (given the reader's learnable weight) on one input."""
    import torch.nn.functional as F

    from reslab.models.rir import GeneralizedResidualConv

    reference = GeneralizedResidualConv(cin, cout, stride)
    with torch.no_grad():
        reference.weight.copy_(conv.weight)
        x = torch.randn(2, cin, 8, 8)
        got = _runs(result, conv, x)
        plain = F.conv2d(x, conv.weight, None, stride, 1)
        return got, reference(x), plain


def generalized_conv(cls: Callable[[int, int, int], nn.Conv2d]) -> CheckResult:
    """Exercise (06): ``cls(in, out, stride)`` computes Eq. 1's four convolutions as one (Eq. 2):
    ``conv(x, weight + identity)``, identity fixed (not learnable, not decayed)."""
    from reslab.models import build_model

    result = CheckResult("generalized residual convolution")
    if _not_done(result, cls):
        return result.report()
    for cin, cout, stride in ((16, 16, 1), (16, 32, 2)):
        conv = _module_from(result, cls, cin, cout, stride)
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
        if _missing(result, got):
            return result.report()
        ok = tuple(got.shape) == tuple(want.shape) and torch.allclose(got, want, atol=1e-5)
        hint = ("that is the plain convolution: add the identity to the kernel in forward"
                if tuple(got.shape) == tuple(plain.shape) and torch.allclose(got, plain,
                                                                              atol=1e-5)
                else "forward: F.conv2d(x, self.weight + self.identity, None, stride, padding=1)"
                "; the identity stays out of self.weight, so decay acts on kernel - identity")
        result.expect(ok, f"{cin}->{cout}, stride {stride}: outputs on random inputs",
                      "conv with weight + identity", "other values", hint)
    _same_model_outputs(result, "resnet_init32 built with it computes what the library's does",
                        lambda **kw: build_model("resnet_init32", **kw),
                        {"generalized_conv": cls}, "check the single convolutions above")
    return result.report()


def level_shortcut(factory: Callable[[int, int, int], nn.Module]) -> CheckResult:
    """Exercise (07): ``factory(in, out, stride)`` is RoR's middle/root-level shortcut (Zhang et
    al. 2017, Fig. 2: a 1x1 conv projection, with BN in the post-activation RoR)."""
    from reslab.analysis import count_params
    from reslab.models import build_model
    from reslab.models.shortcuts import ProjectionShortcut as Reference

    result = CheckResult("RoR level shortcut")
    if _not_done(result, factory):
        return result.report()
    for cin, cout, stride in ((16, 16, 1), (16, 32, 2), (16, 64, 4)):
        module = _module_from(result, factory, cin, cout, stride)
        if module is None:
            return result.report()
        got = _runs(result, module.eval(), torch.randn(2, cin, 16, 16))
        want = Reference(cin, cout, stride)
        if _missing(result, got) or not result.expect(
                tuple(got.shape) == (2, cout, 16 // stride, 16 // stride),
                f"{cin}->{cout}, stride {stride}: shape", (2, cout, 16 // stride, 16 // stride),
                tuple(got.shape), "a 1x1 convolution with the given stride and out channels"):
            continue
        result.expect(count_params(module) == count_params(want),
                      f"{cin}->{cout}: parameters", "a 1x1 conv without bias, then BN",
                      f"{count_params(module):,}", "bias=False (the BN that follows has a "
                      "shift); BatchNorm2d(out) after the conv")
    _same_model_outputs(result, "RoR-3-32 built with it computes what the library's does",
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
    if _not_done(result, fn):
        return result.report()
    for n, p in ((4, 0.5), (54, 0.5), (10, 0.8)):
        got = _runs(result, fn, n, p)
        if _missing(result, got):
            return result.report()
        got, want = [float(v) for v in got], reference(n, p)
        if not result.expect(len(got) == n, f"{n} blocks: one probability each", n, len(got)):
            continue
        result.expect(all(abs(a - b) < 1e-9 for a, b in zip(got, want)),
                      f"{n} blocks, p_L={p}", "the linear decay", "other values",
                      _survival_hint(got, n, p))
    model = _runs(result, lambda: build_model("ror", depth=32, stochastic_depth=0.5,
                                              survival_rule=fn))
    if not _missing(result, model):
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


def phase_plan(fn: Callable[[str, int], list]) -> CheckResult:
    """Exercise (08): ``fn(order, num_stages)`` is successive training's phase plan (Gelda et
    al. 2016, Sec. IV's naming), for any number of stages. Prints no plan."""
    from reslab.successive import check_stage_orders

    result = CheckResult("phase plan for successive training")
    if _not_done(result, fn):
        return result.report()
    for order, n in (("bottom-up", 3), ("top-down", 3), ("bottom-up", 4), ("top-down", 2)):
        got = _runs(result, fn, order, n)
        if _missing(result, got):
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
