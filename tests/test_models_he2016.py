"""He et al. 2016 architectures against the numbers in shared/papers/SPEC.md."""
from __future__ import annotations

import io
import math

import pytest
import torch

import reslab
from reslab import paper
from reslab.course import imagenet_costs
from reslab.models import ZeroPadShortcut, make_shortcut


@pytest.mark.parametrize("depth,params", sorted(paper.CIFAR_PARAMS.items()))
def test_cifar_resnet_params_option_a(depth, params):
    assert reslab.count_params(reslab.build_model(f"resnet{depth}")) == params


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_plain_net_has_option_a_param_count(depth):
    assert reslab.count_params(reslab.build_model(f"plain{depth}")) == paper.CIFAR_PARAMS[depth]


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_option_b_adds_2752_and_c_adds_more(depth):
    a = reslab.count_params(reslab.build_model(f"resnet{depth}"))
    b = reslab.count_params(reslab.build_model(f"resnet{depth}", shortcut="B"))
    c = reslab.count_params(reslab.build_model(f"resnet{depth}", shortcut="C"))
    assert b - a == paper.OPTION_B_EXTRA_PARAMS
    n = (depth - 2) // 6
    # C projects every shortcut: B's two plus (n-1) 16->16, (n-1) 32->32, (n-1) 64->64 (+BN),
    # and the first stage's first block 16->16.
    same = n * (16 * 16 + 32) + (n - 1) * (32 * 32 + 64) + (n - 1) * (64 * 64 + 128)
    assert c - b == same


def test_acceptance_numbers():
    assert reslab.count_params(reslab.build_model("resnet110")) == 1_727_962
    assert reslab.count_params(reslab.build_model("resnet20", shortcut="B")) == 272_474
    assert reslab.count_params(reslab.build_model("resnet1202")) == 19_421_274
    assert reslab.count_params(reslab.build_model("plain56")) == 853_018
    assert reslab.count_params(reslab.build_model("resnet56")) == 853_018


def test_hundred_classes_add_5850():
    m = reslab.build_model("resnet20", num_classes=100)
    assert reslab.count_params(m) == 269_722 + paper.CIFAR100_EXTRA_PARAMS


def test_any_6n_plus_2_depth_and_bottleneck_9n_plus_2():
    assert reslab.build_model("resnet", depth=38).depth == 38
    assert reslab.build_model("resnet38").depth == 38
    m = reslab.build_model("resnet", depth=29, block="bottleneck")
    assert len(m.stages[0]) == 3 and m.head[-1].in_features == 256


@pytest.mark.parametrize("name", sorted(paper.IMAGENET))
def test_imagenet_params_and_macs_both_layouts(name):
    ref = paper.IMAGENET[name]
    for layout in ("paper", "torchvision"):
        model = reslab.build_model(name, layout=layout)
        assert reslab.count_params(model) == ref["params"]
        macs = reslab.count_macs(model, (1, 3, 224, 224))
        assert macs == pytest.approx(ref[f"macs_{layout}"], rel=0.01)
        # ... and notebook 03's kept table is this very count
        assert imagenet_costs.costs(name, layout) == (reslab.count_params(model), macs)


def test_resnet50_macs_acceptance():
    paper_macs = reslab.count_macs(reslab.build_model("resnet50"), (1, 3, 224, 224))
    tv_macs = reslab.count_macs(reslab.build_model("resnet50", layout="torchvision"),
                                (1, 3, 224, 224))
    assert abs(paper_macs / 3.858e9 - 1) < 0.01
    assert abs(tv_macs / 4.089e9 - 1) < 0.01


def test_cifar_macs_grow_linearly_with_depth():
    macs = {d: reslab.count_macs(reslab.build_model(f"resnet{d}"), (1, 3, 32, 32))
            for d in (20, 56)}
    assert 40e6 < macs[20] < 42e6
    # Every block costs the same: maps halve where channels double. Two 3x3 convs of
    # 16 -> 16 channels on 32x32 maps; resnet56 has 18 more blocks than resnet20.
    per_block = (macs[56] - macs[20]) / 18
    assert per_block == pytest.approx(2 * 32 * 32 * 16 * 16 * 9, rel=0.01)


@pytest.mark.parametrize("name", reslab.list_models("cifar"))
def test_cifar_forward_backward(name):
    model = reslab.build_model(name)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", reslab.list_models("imagenet"))
def test_imagenet_forward_backward(name):
    model = reslab.build_model(name, input_size=None)  # any size: 64x64 keeps the test quick
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1000)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_torchvision_state_dict_loads_strict(depth):
    torchvision = pytest.importorskip("torchvision")
    theirs = getattr(torchvision.models, f"resnet{depth}")().eval()
    ours = reslab.build_model(f"resnet{depth}", layout="torchvision").eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224)
    torch.testing.assert_close(ours(x), theirs(x))


def test_option_a_is_a_picklable_module_that_pads_with_zeros():
    model = reslab.build_model("resnet20")
    buffer = io.BytesIO()
    torch.save(model, buffer)  # popular reproductions' lambda fails here
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded.eval()(x), model.eval()(x))

    shortcut = ZeroPadShortcut(16, 32, stride=2)
    y = shortcut(torch.randn(2, 16, 8, 8) + 5)
    assert y.shape == (2, 32, 4, 4)
    assert torch.all(y[:, 16:] == 0) and torch.all(y[:, :16] != 0)
    assert sum(p.numel() for p in shortcut.parameters()) == 0


def test_shortcut_options_pick_the_right_module():
    assert isinstance(make_shortcut("A", 16, 32, 2), ZeroPadShortcut)
    assert isinstance(make_shortcut("A", 16, 16, 1), torch.nn.Identity)
    assert isinstance(make_shortcut("B", 16, 16, 1), torch.nn.Identity)
    assert isinstance(make_shortcut("B", 16, 32, 2), reslab.ProjectionShortcut)
    assert isinstance(make_shortcut("C", 16, 16, 1), reslab.ProjectionShortcut)
    assert make_shortcut(None, 16, 32, 2) is None


def test_he_initialisation():
    model = reslab.build_model("resnet56")
    conv = model.stages[2][3].conv1  # 64 -> 64, 3x3: std = sqrt(2 / (9 * 64))
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.05)
    bn = model.stages[2][3].bn1
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_plain_net_has_no_shortcut_and_resnet_adds_identity():
    plain, res = reslab.build_model("plain20"), reslab.build_model("resnet20")
    res.load_state_dict(plain.state_dict())
    assert all(b.shortcut is None for s in plain.stages for b in s)
    plain.eval(), res.eval()
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(plain(x), res(x))


# ----- errors: one clear line that says what is wrong and how to fix it -----

def test_bad_depth_names_rule_and_nearest_depths():
    with pytest.raises(ValueError, match=r"6n\+2.*20 and 26"):
        reslab.build_model("resnet21")
    with pytest.raises(ValueError, match=r"9n\+2.*20 and 29"):
        reslab.build_model("resnet", depth=21, block="bottleneck")
    with pytest.raises(ValueError, match=r"6n\+2.*Nearest valid depths: 8$"):
        reslab.build_model("plain", depth=3)


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"unknown model 'resnt56'.*resnet56"):
        reslab.build_model("resnt56")
    with pytest.raises(ValueError, match=r"list_models"):
        reslab.build_model("transformer")


def test_bad_option_names_valid_values():
    with pytest.raises(ValueError, match=r"shortcut must be one of 'A', 'B', 'C' \(got 'D'\)"):
        reslab.build_model("resnet20", shortcut="D")
    with pytest.raises(ValueError, match=r"layout must be one of 'paper', 'torchvision'"):
        reslab.build_model("resnet50", layout="v1.5")
    with pytest.raises(ValueError, match=r"block must be one of 'basic', 'bottleneck'"):
        reslab.build_model("resnet20", block="wide")
    with pytest.raises(ValueError, match=r"unknown option 'dropout'.*valid options: depth"):
        reslab.build_model("resnet", dropout=0.5)
    with pytest.raises(ValueError, match=r"plain20 fixes shortcut=None"):
        reslab.build_model("plain20", shortcut="A")
    with pytest.raises(ValueError, match=r"num_classes must be a positive whole number"):
        reslab.build_model("resnet20", num_classes=0)


def test_wrong_input_says_what_model_expects():
    model = reslab.build_model("resnet20")
    with pytest.raises(ValueError, match=r"expects 3-channel.*in_channels=1"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"expects 32x32 images.*got 28x28"):
        model(torch.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"shape \(N, 3, 32, 32\); got shape \(3, 32, 32\)"):
        model(torch.randn(3, 32, 32))
    assert reslab.build_model("resnet20", in_channels=1)(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"expects 224x224"):
        reslab.build_model("resnet18")(torch.randn(1, 3, 64, 64))


def test_option_a_imagenet_nets_of_table_2_have_the_plain_nets_parameters():
    # Table 2 / Fig. 4: "the residual networks have no extra parameter compared to their plain
    # counterparts" (option A)
    for depth in (18, 34):
        resnet, plain = reslab.build_model(f"resnet{depth}a"), reslab.build_model(f"plain{depth}")
        assert reslab.count_params(resnet) == reslab.count_params(plain)
        assert reslab.count_params(reslab.build_model(f"resnet{depth}")) > \
            reslab.count_params(plain)                       # option B adds projections


def test_zero_gamma_starts_every_residual_block_as_the_identity():
    model = reslab.build_model("resnet56", zero_gamma=True).eval()
    x = torch.rand(2, 16, 32, 32)
    for block in model.stages[0]:
        torch.testing.assert_close(block(x), x)
    assert not torch.allclose(reslab.build_model("resnet56").eval().stages[0][0](x), x)
    with pytest.raises(ValueError, match="zero_gamma needs shortcuts"):
        reslab.build_model("plain20", zero_gamma=True)
