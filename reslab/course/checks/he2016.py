"""Checks of notebooks 00-04: He, Zhang, Ren, Sun 2016, *Deep Residual Learning for Image
Recognition* (he2016-*.txt beside SPEC.md).

* 00 :func:`fashion_mnist_model`: a 6n+2-layer CIFAR ResNet (Sec. 4.2) for 1-channel images.
* 01 :func:`identity_at_init`: the constructed solution (Sec. 1), blocks that start as
  identities; :func:`basic_block`: the building block of Fig. 2 (conv-BN-ReLU-conv-BN, add, ReLU).
* 02 :func:`zero_pad_shortcut` and :func:`projection_shortcut`: options A and B (Sec. 3.3;
  the projection ``W_s x`` of Eq. 2); :func:`shortcut_param_counts`: options A/B/C (Sec. 4.1,
  Table 3).
* 03 :func:`bottleneck_block` and :func:`bottleneck_param_formula`: the bottleneck of Fig. 5
  (right), Sec. 4.1 "Deeper Bottleneck Architectures".
* 04 :func:`response_std`: the layer responses of Fig. 7 (Sec. 4.2).

A block check copies the reader's conv and BN layers, in the order its forward calls them, into
the library's block and compares the outputs: a block is right when it computes the paper's
function, whatever its attributes are called.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslab.course.checks.result import FAILED, CheckResult, missing, not_done, runs


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
    module = runs(result, cls, *args)
    if missing(result, module):
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


def _residual_blocks(model: nn.Module) -> list[nn.Module]:
    """The blocks of ``model`` that add a shortcut (a plain block's ``shortcut`` is None)."""
    return [m for m in model.modules() if getattr(m, "shortcut", None) is not None]


def fashion_mnist_model(model: nn.Module) -> CheckResult:
    """Exercise (00): a 32-layer ResNet for 1-channel 32x32 images and 10 classes.

    A plain-32 has the same parameters (option A adds none), so the check also asks that the
    blocks are residual: 15 blocks that add their input, and the hidden reference's outputs
    when it is given the answer's weights.
    """
    from reslab.models import build_model
    from reslab.models.analysis import count_params

    result = CheckResult("a ResNet-32 for Fashion-MNIST")
    if not_done(result, model):
        return result.report()
    out = runs(result, model.eval(), torch.zeros(2, 1, 32, 32))
    if out is FAILED:
        result.expect(False, "accepts (N, 1, 32, 32) batches", hint="pass in_channels=1")
        return result.report()
    result.expect(tuple(out.shape) == (2, 10), "output shape", (2, 10), tuple(out.shape),
                  "Fashion-MNIST has 10 classes")
    reference = build_model("resnet32", in_channels=1).eval()
    want, got = count_params(reference), count_params(model)
    more = "more" if got > want else "fewer"
    result.expect(got == want, "the parameters of a 32-layer ResNet with 1 input channel",
                  hint=f"yours has {more} parameters: depth 32 = 6n+2 with n=5, option A "
                  "shortcuts, 10 classes")
    blocks, wanted = len(_residual_blocks(model)), len(_residual_blocks(reference))
    if result.expect(blocks == wanted, "the blocks are residual: each adds its input",
                     f"{wanted} blocks with a shortcut", blocks, "a plain net has exactly the "
                     "parameters of its ResNet: the family is what makes a block residual"):
        result.expect(_same_function(model, reference), "computes a ResNet-32 with its "
                      "weights", "the reference's outputs", "other outputs",
                      "every block: y = ReLU(F(x) + x), option A where the shape changes")
    return result.report()


def _same_function(model: nn.Module, reference: nn.Module) -> bool:
    """Does ``reference``, given ``model``'s weights, compute what ``model`` computes?"""
    try:
        reference.load_state_dict(model.state_dict())
    except RuntimeError:
        return False
    x = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        return torch.allclose(model.eval()(x), reference.eval()(x), atol=1e-5)


def identity_at_init(model: nn.Module) -> CheckResult:
    """Exercise (01): every residual block of ``model`` starts as an identity mapping, and can
    still learn.

    The constructed-solution argument: a deeper net whose extra layers are identities is at
    least as good as the shallower one. Checked on every block, the downsampling ones
    included, on a non-negative input (what a block receives after a ReLU): the block returns
    what its shortcut alone gives, ``ReLU(shortcut(x))`` (``x`` for an identity). And the
    branch must still learn: ReLU passes no gradient at 0, so a branch silenced *before* its
    last layer never learns. So only the branch's last BN may start at zero (its scale γ, its
    shift β stays 0); every other BN keeps its built γ = 1, β = 0 and no conv is zeroed.
    """
    result = CheckResult("identity at initialisation")
    if not_done(result, model):
        return result.report()
    blocks = _residual_blocks(model)
    if not result.expect(len(blocks) > 0, "the model has residual blocks", "> 0 blocks",
                         len(blocks), "use a ResNet, not a plain net"):
        return result.report()
    model.eval()
    changes, silenced, not_last = [], [], []
    for i, block in enumerate(blocks):
        x = torch.rand(2, block.conv1.in_channels, 8, 8)
        with torch.no_grad():
            if not torch.allclose(block(x), torch.relu(block.shortcut(x)), atol=1e-6):
                changes.append(i)
        convs, bns = _branch_layers(block, x)
        if any(not conv.weight.detach().any() for conv in convs) or any(
                not _as_built(bn) for bn in bns[:-1]):
            silenced.append(i)
        if bns and (bns[-1].weight.detach().any() or bns[-1].bias.detach().any()):
            not_last.append(i)
    result.expect(not changes, "every block returns what its shortcut gives (downsampling "
                  "blocks included)", "block(x) == ReLU(shortcut(x))",
                  f"blocks {changes[:5]} change it" if changes else None,
                  "the branch must add nothing at the start")
    result.expect(not silenced, "every branch can still learn", "its layers as built, but "
                  "the last", f"blocks {silenced[:5]} are silenced earlier" if silenced else None,
                  "ReLU's gradient is 0 at 0: a branch whose earlier layers output zeros never "
                  "learns, so leave them as built")
    result.expect(not not_last, "each branch's last layer makes it add nothing",
                  "the last BN adds 0", f"blocks {not_last[:5]}" if not_last else None,
                  "a BN outputs gamma * normalised input + beta")
    return result.report()


def _branch_layers(block: nn.Module, x: torch.Tensor) -> tuple[list[nn.Module], list[nn.Module]]:
    """The convs and the BNs of ``block``'s branch (not its shortcut), in call order."""
    shortcut = set(block.shortcut.modules())
    layers = [m for m in _layers_in_order(block, x) if m not in shortcut]
    return ([m for m in layers if isinstance(m, nn.Conv2d)],
            [m for m in layers if isinstance(m, nn.BatchNorm2d)])


def _as_built(bn: nn.BatchNorm2d) -> bool:
    """A BN as PyTorch builds it: scale γ = 1 and shift β = 0."""
    return bool((bn.weight == 1).all() and (bn.bias == 0).all())


def basic_block(cls: Callable[..., nn.Module]) -> CheckResult:
    """Exercise (01): ``cls(in_channels, out_channels, stride=1, shortcut="A")`` is a basic
    block (He et al. 2016, Fig. 2); ``shortcut=None`` the same block without its shortcut."""
    from reslab.models import BasicBlock

    result = CheckResult("your basic block")
    if not_done(result, cls):
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
    if not_done(result, fn):
        return result.report()
    x = torch.randn(2, 16, 8, 8) + 3.0  # no zeros by chance
    got = runs(result, fn, x, 32, 2)
    if missing(result, got):
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
    same = runs(result, fn, x, 16, 1)
    result.expect(same is not FAILED and isinstance(same, torch.Tensor) and torch.equal(same, x),
                  "stride 1 and equal channels give the identity", hint="x unchanged")
    return result.report()


def projection_shortcut(cls: Callable[..., nn.Module]) -> CheckResult:
    """Exercise (02): ``cls(in_channels, out_channels, stride)`` is option B's projection
    ``W_s x``: a 1x1 conv with the stride and no bias, then BN (He et al. 2016, Eq. 2)."""
    from reslab.models.shortcuts import ProjectionShortcut

    result = CheckResult("option B projection")
    if not_done(result, cls):
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
    from reslab.models import build_model
    from reslab.models.analysis import count_params

    result = CheckResult(f"extra parameters of shortcut options, ResNet-{depth}")
    if not_done(result, answers):
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
    if not_done(result, cls):
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
    from reslab.models import Bottleneck
    from reslab.models.analysis import count_params

    result = CheckResult("bottleneck parameter formula")
    if not_done(result, fn):
        return result.report()
    for cin, width in ((256, 64), (512, 128), (64, 16), (24, 8)):
        got = runs(result, fn, cin, width)
        if missing(result, got):
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
    from reslab.models import build_model
    from reslab.models.analysis import layer_responses, response_layers

    result = CheckResult("layer response std")
    if not_done(result, fn):
        return result.report()
    torch.manual_seed(0)
    model = build_model("resnet20").eval()
    images = torch.randn(64, 3, 32, 32)
    name, layer = response_layers(model)[5]
    expected = layer_responses(model, images)[5]["std"]
    got = runs(result, fn, model, layer, images)
    if missing(result, got):
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
