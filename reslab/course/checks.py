"""Self-checks for the notebooks' exercises: specific feedback, compared with hidden references.

Each check prints one line per finding (✓ right, ✗ wrong: what is wrong and a hint) and
returns a :class:`CheckResult`, which is *falsy* when something is wrong. A check never raises
and reads no environment variable. The graded test cell of an exercise asserts the result::

    verdict = checks.some_check(answer)
    assert verdict, "not yet right: see the ✗ lines above"

so the ``AssertionError`` is raised in the notebook's own (locked) cell: nbgrader's autograder
takes the points and ``nbgrader validate`` fails, the student sees the ✓/✗ report first, and
no traceback leads into this module. For counting and value exercises a check never prints
the expected value, only what is wrong with the answer given.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class CheckResult:
    """What a check found: ``passed`` and one message per finding; falsy when not passed."""

    name: str
    passed: bool = True
    messages: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str, expected=None, got=None, hint: str = "") -> bool:
        """Record one finding; ``expected``/``got`` are shown when it is wrong."""
        if ok:
            self.messages.append(f"✓ {what}")
        else:
            self.passed = False
            parts = ([f"expected {expected}"] if expected is not None else []) + (
                [f"got {got}"] if got is not None else [])
            detail = ": " + ", ".join(parts) if parts else ""
            self.messages.append(f"✗ {what}{detail}" + (f" -- hint: {hint}" if hint else ""))
        return ok

    def report(self) -> CheckResult:
        """Print the verdict and every finding; return ``self`` (never raises)."""
        verdict = "all checks passed" if self.passed else "not yet right"
        print(f"{self.name}: {verdict}")
        for m in self.messages:
            print(f"  {m}")
        return self

    def __bool__(self) -> bool:
        return self.passed

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


def _layers_in_order(block: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The conv and BN layers of ``block`` in the order its forward pass calls them."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda module, i, o: order.append(module))
             for m in block.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    try:
        with torch.no_grad():
            block(x)
    finally:
        for hook in hooks:
            hook.remove()
    return order


def _randomise(module: nn.Module) -> None:
    """Give every BN non-trivial weights and running statistics (so a missing BN shows)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5), m.bias.normal_(0, 0.5)
                m.running_mean.normal_(0, 0.5), m.running_var.uniform_(0.5, 2.0)


def _same_as_reference(mine: nn.Module, reference: nn.Module, x: torch.Tensor) -> str:
    """Copy ``mine``'s layers, in call order, into ``reference``; compare the outputs.

    Returns "" when both compute the same function, else what differs.
    """
    ours, theirs = _layers_in_order(mine, x), _layers_in_order(reference, x)
    kinds = [type(m).__name__ for m in ours]
    if kinds != [type(m).__name__ for m in theirs]:
        return f"its layers run in the order {kinds}"
    for a, b in zip(ours, theirs):
        if a.weight.shape != b.weight.shape or getattr(a, "stride", 1) != getattr(b, "stride", 1):
            return f"a {type(a).__name__} has weights {tuple(a.weight.shape)}, stride " \
                   f"{getattr(a, 'stride', '-')}"
        b.load_state_dict(a.state_dict())
    with torch.no_grad():
        got, want = mine(x.clone()), reference(x.clone())
    if tuple(got.shape) != tuple(want.shape):
        return f"its output has shape {tuple(got.shape)}"
    return "" if torch.allclose(got, want, atol=1e-5) else "its output has other values"


def _build(result: CheckResult, cls: Callable, *args) -> nn.Module | None:
    """``cls(*args)`` in eval mode with random BNs, or None (recorded) if that fails."""
    module = _runs(result, cls, *args)
    if _missing(result, module):
        return None
    if not isinstance(module, nn.Module):
        result.expect(False, f"{cls.__name__}{args} is a module", "an nn.Module",
                      type(module).__name__, "subclass torch.nn.Module")
        return None
    _randomise(module)
    return module.eval()


def _count(module: nn.Module, kind: type, kernel: int | None = None) -> int:
    return sum(isinstance(m, kind) and (kernel is None or m.kernel_size[0] == kernel)
               for m in module.modules())


def _words(n: int) -> str:
    return {0: "no", 1: "one", 2: "two", 3: "three", 4: "four"}.get(n, str(n))


def _compare_block(result: CheckResult, mine: nn.Module, reference: nn.Module,
                   args: tuple, x: torch.Tensor, hint: str) -> None:
    """One finding: ``mine`` (built with ``args``) computes what the hidden reference does."""
    _randomise(reference)
    what = _same_as_reference(mine, reference.eval(), x)
    result.expect(not what, f"block{args} computes what the paper's block computes",
                  hint=f"{what}: {hint}")


def fashion_mnist_model(model: nn.Module) -> CheckResult:
    """Exercise (00): a 32-layer ResNet for 1-channel 32x32 images and 10 classes."""
    from reslab.models.analysis import count_params
    from reslab.models import build_model

    result = CheckResult("a ResNet-32 for Fashion-MNIST")
    if _not_done(result, model):
        return result.report()
    out = _runs(result, model.eval(), torch.zeros(2, 1, 32, 32))
    if out is _FAILED:
        result.expect(False, "accepts (N, 1, 32, 32) batches", hint="pass in_channels=1")
        return result.report()
    result.expect(tuple(out.shape) == (2, 10), "output shape", (2, 10), tuple(out.shape),
                  "Fashion-MNIST has 10 classes")
    reference, got = count_params(build_model("resnet32", in_channels=1)), count_params(model)
    more = "more" if got > reference else "fewer"
    result.expect(got == reference, "the parameters of a 32-layer ResNet with 1 input channel",
                  hint=f"yours has {more} parameters: depth 32 = 6n+2 with n=5, option A "
                  "shortcuts, 10 classes")
    return result.report()


def basic_block(cls: Callable[..., nn.Module]) -> CheckResult:
    """Exercise (01): ``cls(in_channels, out_channels, stride=1, shortcut="A")`` is a basic
    block (He et al. 2016, Fig. 2); ``shortcut=None`` the same block without its shortcut."""
    from reslab.models import BasicBlock

    result = CheckResult("your basic block")
    if _not_done(result, cls):
        return result.report()
    for args in ((16, 16, 1, "A"), (16, 32, 2, "A"), (16, 16, 1, None)):
        mine = _build(result, cls, *args)
        if mine is None:
            return result.report()
        convs, bns = _count(mine, nn.Conv2d, 3), _count(mine, nn.BatchNorm2d)
        if not (result.expect(convs == 2, f"block{args}: two 3x3 convs", hint=f"your block has "
                              f"{_words(convs)}, a basic block has two")
                and result.expect(bns == 2, f"block{args}: two BNs", hint=f"your block has "
                                  f"{_words(bns)}, a basic block has two (one after each conv)")):
            continue
        x = torch.relu(torch.randn(2, 16, 8, 8))
        hint = ("conv-BN-ReLU, conv-BN, then add the shortcut (none when shortcut=None), then "
                "ReLU; the first conv takes the stride; build the shortcut with "
                "make_shortcut(shortcut, in_channels, out_channels, stride)")
        _compare_block(result, mine, BasicBlock(*args), args, x, hint)
    return result.report()


def zero_pad_shortcut(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> CheckResult:
    """Exercise (02): ``fn(x, out_channels, stride)`` implements option A."""
    from reslab.models.shortcuts import ZeroPadShortcut

    result = CheckResult("option A shortcut")
    if _not_done(result, fn):
        return result.report()
    x = torch.randn(2, 16, 8, 8) + 3.0  # no zeros by chance
    got = _runs(result, fn, x, 32, 2)
    if _missing(result, got):
        return result.report()
    want = ZeroPadShortcut(16, 32, 2)(x)
    if not result.expect(tuple(got.shape) == tuple(want.shape), "output shape",
                         tuple(want.shape), tuple(got.shape),
                         "subsample with stride 2 (x[:, :, ::2, ::2]) and add 16 channels"):
        return result.report()
    result.expect(torch.equal(got[:, :16], want[:, :16]), "the first 16 channels are the "
                  "input, subsampled", hint="take every second pixel, starting at 0")
    result.expect(bool(torch.all(got[:, 16:] == 0)), "the 16 new channels are all zeros",
                  hint="pad the channel dimension (dim 1) with zeros, after the input's "
                  "channels")
    same = _runs(result, fn, x, 16, 1)
    result.expect(same is not _FAILED and isinstance(same, torch.Tensor) and torch.equal(same, x),
                  "stride 1 and equal channels give the identity", hint="x unchanged")
    return result.report()


def projection_shortcut(cls: Callable[..., nn.Module]) -> CheckResult:
    """Exercise (02): ``cls(in_channels, out_channels, stride)`` is option B's projection
    ``W_s x``: a 1x1 conv with the stride and no bias, then BN (He et al. 2016, Eq. 2)."""
    from reslab.models.shortcuts import ProjectionShortcut

    result = CheckResult("option B projection")
    if _not_done(result, cls):
        return result.report()
    for args in ((16, 32, 2), (32, 64, 2)):
        mine = _build(result, cls, *args)
        if mine is None:
            return result.report()
        convs, bns = _count(mine, nn.Conv2d, 1), _count(mine, nn.BatchNorm2d)
        if not (result.expect(convs == 1 and _count(mine, nn.Conv2d) == 1,
                              f"projection{args}: one 1x1 conv",
                              hint=f"yours has {_words(convs)} 1x1 convs; W_s is one")
                and result.expect(bns == 1, f"projection{args}: one BN", hint=f"yours has "
                                  f"{_words(bns)}; the paper's projection has a BN after "
                                  "the 1x1 conv")):
            continue
        bias = any(m.bias is not None for m in mine.modules() if isinstance(m, nn.Conv2d))
        result.expect(not bias, f"projection{args}: the conv has no bias",
                      hint="bias=False: the BN after it has its own shift")
        x = torch.randn(2, args[0], 8, 8)
        _compare_block(result, mine, ProjectionShortcut(*args), args, x,
                       "1x1 conv (stride, no bias) from in to out channels, then BN")
    return result.report()


def shortcut_param_counts(answers: dict[str, int], depth: int = 20) -> CheckResult:
    """Exercise (02): extra parameters of options A, B and C over the plain net of ``depth``.

    Says which answers are wrong and whether they are too high or too low, never the counts.
    """
    from reslab.models.analysis import count_params
    from reslab.models import build_model

    result = CheckResult(f"extra parameters of shortcut options, ResNet-{depth}")
    if _not_done(result, answers):
        return result.report()
    plain = count_params(build_model("plain", depth=depth))
    hints = {"A": "zero-padding has no weights",
             "B": "a 1x1 conv + BN projection where the channels double, twice",
             "C": "a 1x1 conv + BN on every one of the 3n shortcuts"}
    for option in ("A", "B", "C"):
        extra = count_params(build_model("resnet", depth=depth, shortcut=option)) - plain
        got = answers.get(option) if isinstance(answers, dict) else None
        if not isinstance(got, int) or isinstance(got, bool):
            result.expect(False, f"option {option}", hint="give a whole number")
            continue
        side = "too many" if got > extra else "too few"
        result.expect(got == extra, f"option {option}", hint=f"{got:,} is {side}; {hints[option]}"
                      + ("; count 2 BN parameters per output channel" if option != "A" else ""))
    return result.report()


def bottleneck_block(cls: Callable[..., nn.Module]) -> CheckResult:
    """Exercise (03): ``cls(in_channels, width, stride=1, shortcut="A")`` is a bottleneck
    block (He et al. 2016, Fig. 5 right) with ``expansion = 4``."""
    from reslab.models import Bottleneck

    result = CheckResult("your bottleneck block")
    if _not_done(result, cls):
        return result.report()
    result.expect(getattr(cls, "expansion", None) == 4, "the class says expansion = 4",
                  hint="set the class attribute expansion = 4 (out channels = 4 * width)")
    for args in ((16, 16, 1, "A"), (64, 16, 1, "A"), (64, 32, 2, "A"), (64, 16, 1, None)):
        mine = _build(result, cls, *args)
        if mine is None:
            return result.report()
        counts = (_count(mine, nn.Conv2d, 1), _count(mine, nn.Conv2d, 3))
        bns = _count(mine, nn.BatchNorm2d)
        if not (result.expect(counts == (2, 1), f"block{args}: 1x1, 3x3, 1x1 convs", hint=f"yours "
                              f"has {_words(counts[0])} 1x1 and {_words(counts[1])} 3x3 convs")
                and result.expect(bns == 3, f"block{args}: three BNs", hint=f"yours has "
                                  f"{_words(bns)}, a bottleneck has one after each conv")):
            continue
        x = torch.relu(torch.randn(2, args[0], 8, 8))
        hint = ("reduce (1x1, with the stride), 3x3, restore to 4*width (1x1), a BN after each "
                "conv, ReLU after the first two; add the shortcut, then ReLU")
        _compare_block(result, mine, Bottleneck(*args), args, x, hint)
    return result.report()


def bottleneck_param_formula(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (03): ``fn(in_channels, width)`` computes the parameters of a bottleneck block
    with an identity (or option A) shortcut, by formula; compared on hidden sizes."""
    from reslab.models.analysis import count_params
    from reslab.models import Bottleneck

    result = CheckResult("bottleneck parameter formula")
    if _not_done(result, fn):
        return result.report()
    for cin, width in ((256, 64), (512, 128), (64, 16), (24, 8)):
        got = _runs(result, fn, cin, width)
        if _missing(result, got):
            return result.report()
        want = count_params(Bottleneck(cin, width, shortcut="A"))
        convs = cin * width + 9 * width * width + width * 4 * width
        hint = ("the convs are right; each BN adds 2 parameters per channel" if got == convs
                else "1x1: in*out weights; 3x3: 9*in*out; no biases; BN: 2 per channel")
        side = "too many" if isinstance(got, (int, float)) and got > want else "too few"
        result.expect(got == want, f"{cin} -> {width} -> {4 * width}",
                      hint=f"{side}; {hint}" if isinstance(got, (int, float)) else
                      "return a whole number")
    return result.report()


def response_std(fn: Callable[[nn.Module, nn.Module, torch.Tensor], float]) -> CheckResult:
    """Exercise (04): ``fn(model, layer, images)`` returns the std of ``layer``'s output."""
    from reslab.models.analysis import layer_responses, response_layers
    from reslab.models import build_model

    result = CheckResult("layer response std")
    if _not_done(result, fn):
        return result.report()
    torch.manual_seed(0)
    model = build_model("resnet20").eval()
    images = torch.randn(64, 3, 32, 32)
    name, layer = response_layers(model)[5]
    expected = layer_responses(model, images)[5]["std"]
    got = _runs(result, fn, model, layer, images)
    if _missing(result, got):
        return result.report()
    ok = isinstance(got, (int, float, torch.Tensor)) and torch.as_tensor(got).numel() == 1
    if result.expect(ok, "returns one number", hint="return a float (tensor.item())"):
        got = float(got)
        result.expect(abs(got - expected) < 1e-3 * max(1, expected), f"std of {name}",
                      hint="register_forward_hook on the layer and keep a *clone* of its output "
                      "(the ReLU after a BN works in place and would overwrite it); run the "
                      "model in eval mode under torch.no_grad(); std over all elements, "
                      "unbiased=False")
    result.expect(len(layer._forward_hooks) == 0, "the hook is removed afterwards",
                  hint=f"{len(layer._forward_hooks)} left: call handle.remove()")
    return result.report()


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
    from reslab.models.analysis import count_params
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
    from reslab.models.analysis import count_params

    torch.manual_seed(0)
    want_model = build().eval()
    torch.manual_seed(0)
    got_model = _runs(result, lambda: build(**hook).eval())
    if _missing(result, got_model):
        return
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        got = _runs(result, got_model, x)  # a reader's module may fail inside the net
        if _missing(result, got):
            return
        same = count_params(got_model) == count_params(want_model) and torch.allclose(
            got, want_model(x), atol=1e-5)
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
    from reslab.models.analysis import count_params
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
    from reslab.training.successive import check_stage_orders

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
