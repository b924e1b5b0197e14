"""ResResNet, RiR, RoR, Pre-ResNet/WRN and stochastic depth against SPEC.md and the papers."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import reslab
from reslab import paper
from reslab.models import BasicBlock, PreActBlock, ZeroPadShortcut, linear_survival
from reslab.models.rir import (GeneralizedResidualConv, RiRNet, ablated_stream, four_conv_form,
                               stream_layers)
from reslab.models.ror import RoR


def params(name: str, **options) -> int:
    return reslab.count_params(reslab.build_model(name, **options))


# ----- parameter counts --------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    # RiR-32: He et al.'s counting convention exactly (no bias, BN gamma+beta, fc with bias);
    # ResNet/RiR add 3x3 stride-2 conv projections without BN on the outer shortcut.
    ("cnn32", 464_154), ("resnet_init32", 464_154), ("rir_resnet32", 487_194), ("rir32", 487_194),
    # Pre-ResNet-164 (bottleneck, bare 1x1 projections) and WRN-28-10 (bare 1x1 projections).
    ("preresnet164", 1_703_258), ("wrn28_10", 36_479_194), ("wrn40_4", 8_949_210),
    ("preresnet1001", 10_327_706),
])
def test_exact_parameter_counts(name, expected):
    assert params(name) == expected


def test_rir_18_layer_wide_within_the_papers_rounding():
    # Head convention (the paper states only 9.5M / 10.3M): a 1x1 conv to the classes WITH
    # bias and no BN after it, then global mean pool. With it the counts are SPEC.md's.
    for name in ("cnn18w", "resnet_init18w"):
        assert params(name) == 9_469_930
        assert round(params(name) / 1e6, 1) == 9.5
    for name in ("resnet18w", "rir18w"):
        assert params(name) == 10_299_370
        assert round(params(name) / 1e6, 1) == 10.3


@pytest.mark.parametrize("name,expected", [
    # Convention: post-activation RoR-3 with 1x1 conv + BN on every RoR shortcut (root and
    # middle) and projection (option B) final-level shortcuts where shapes change.
    ("ror3_resnet110", 1_637_690), ("ror3_resnet164", 2_512_634),
    # Convention: pre-activation RoR-3-WRN with bare 1x1 RoR shortcuts, as WRN's projections.
    ("ror3_wrn40_2", 2_256_346), ("ror3_wrn40_4", 8_995_290), ("ror3_wrn58_4", 13_645_530),
])
def test_ror_counts_derived_in_spec(name, expected):
    assert params(name) == expected


def test_ror_shortcut_bn_is_352_parameters_on_110_layers():
    assert params("ror3_resnet110", shortcut_bn=False) == 1_637_338


def test_ror_levels_add_root_then_middle_shortcuts():
    m1, m2, m3 = (params("ror3_resnet110", levels=m) for m in (1, 2, 3))
    assert m2 - m1 == 16 * 64 + 2 * 64                      # root: 1x1 16->64 + BN
    assert m3 - m2 == (16 * 16 + 32) + (16 * 32 + 64) + (32 * 64 + 128)  # three middle


def test_resresnet_adds_three_stage_shortcuts():
    for depth, base in paper.CIFAR_PARAMS.items():
        if depth in (20, 56, 110):
            assert params(f"resresnet{depth}") == base          # option A: no parameters
    assert params("resresnet20", stage_shortcut="B") == 269_722 + 2_752
    assert params("resresnet20", stage_shortcut="C") == 269_722 + 2_752 + 16 * 16 + 32


# ----- RiR's generalized residual block -------------------------------------------------------

@pytest.mark.parametrize("cin,cout,stride", [(16, 16, 1), (16, 32, 2), (96, 192, 2)])
def test_one_conv_generalized_block_equals_four_conv_form(cin, cout, stride):
    torch.manual_seed(0)
    conv = GeneralizedResidualConv(cin, cout, stride)
    torch.nn.init.normal_(conv.weight)
    x = torch.randn(2, cin, 8, 8)
    ri, ro = cin // 2, cout // 2
    # Eq. 1 with four separate conv modules and He et al.'s option-A identity on r
    streams = {}
    r_out, t_out, r_in, t_in = slice(0, ro), slice(ro, None), slice(0, ri), slice(ri, None)
    blocks = {"rr": (r_out, r_in), "tr": (r_out, t_in), "rt": (t_out, r_in), "tt": (t_out, t_in)}
    for name, (rows, cols) in blocks.items():
        part = torch.nn.Conv2d(ri if name[0] == "r" else cin - ri, ro if name[1] == "r"
                               else cout - ro, 3, stride, 1, bias=False)
        part.weight.data = conv.weight.data[rows, cols].clone()
        streams[name] = part
    r, t = x[:, :ri], x[:, ri:]
    r_next = streams["rr"](r) + streams["tr"](t) + ZeroPadShortcut(ri, ro, stride)(r)
    t_next = streams["rt"](r) + streams["tt"](t)
    expected = torch.cat([r_next, t_next], 1)
    torch.testing.assert_close(conv(x), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(four_conv_form(conv, x), expected, rtol=1e-4, atol=1e-4)


def test_weight_decay_acts_on_the_learnable_kernel_only():
    model = reslab.build_model("rir32")
    conv = next(m for m in model.modules() if isinstance(m, GeneralizedResidualConv))
    names = [n for n, _ in model.named_parameters()]
    assert not any("identity" in n for n in names)          # never seen by the optimiser
    identity = conv.identity.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, weight_decay=0.1)
    before = conv.weight.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(conv.identity, identity)
    torch.testing.assert_close(conv.weight, before * (1 - 0.5 * 0.1))
    # the effective kernel decays towards the identity, not towards zero
    effective = conv.weight + conv.identity
    torch.testing.assert_close(effective - identity, (before) * 0.95)


def test_resnet_init_starts_with_identity_on_the_residual_stream():
    conv = GeneralizedResidualConv(16, 16)
    torch.nn.init.zeros_(conv.weight)
    x = torch.randn(1, 16, 8, 8)
    out = conv(x)
    assert torch.equal(out[:, :8], x[:, :8]) and torch.all(out[:, 8:] == 0)


def test_rir_blocks_and_layers_are_configurable():
    # Table 5: 9 blocks x 3 layers/block = 3 blocks per stage, 3 generalized layers each.
    model = RiRNet("rir", blocks=(3, 3, 3), layers_per_block=3)
    assert model.depth == 2 + 27 and len(stream_layers(model)) == 27
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert len(stream_layers(reslab.build_model("cnn32"))) == 0


def test_stream_ablation_zeroes_each_stream_of_each_layer():
    torch.manual_seed(0)
    model = reslab.build_model("resnet_init32").eval()   # the paper ablates ResNet Init
    images, labels = torch.randn(40, 3, 32, 32), torch.randint(0, 10, (40,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = reslab.models.analysis.stream_ablation(model, images, labels)
    assert rows[0]["stream"] == "none" and len(rows) == 1 + 2 * 30
    assert {r["stream"] for r in rows[1:]} == {"residual", "transient"}
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    for k, v in model.state_dict().items():          # every weight restored
        assert torch.equal(v, before[k]), k


def test_stream_ablation_zeroes_learned_connections_but_keeps_the_identity():
    torch.manual_seed(0)
    conv = GeneralizedResidualConv(8, 8)
    torch.nn.init.normal_(conv.weight)
    r = torch.randn(1, 4, 6, 6)
    x = torch.cat([r, torch.zeros(1, 4, 6, 6)], 1)     # only the residual stream is non-zero
    with ablated_stream(conv, "residual"):
        assert conv.weight[:, :4].abs().sum() == 0 and conv.weight[:, 4:].abs().sum() > 0
        out = conv(x)
    # the learned r-connections are gone, the fixed identity r_j -> r_j is not
    torch.testing.assert_close(out, torch.cat([r, torch.zeros(1, 4, 6, 6)], 1))
    with ablated_stream(conv, "transient"):
        assert conv.weight[:, 4:].abs().sum() == 0 and conv.weight[:, :4].abs().sum() > 0
    assert conv.weight[:, 4:].abs().sum() > 0           # restored on exit
    with pytest.raises(ValueError, match="stream"):
        with ablated_stream(conv, "both"):
            pass


# ----- RoR ----------------------------------------------------------------------------------

def test_ror_with_one_level_is_the_plain_resnet():
    ror = RoR(depth=110, levels=1)                       # 17 blocks per stage, option B
    resnet = reslab.build_model("resnet", depth=104, shortcut="B")
    assert reslab.count_params(ror) == reslab.count_params(resnet)
    ror.load_state_dict(resnet.state_dict(), strict=True)
    ror.eval(), resnet.eval()
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(ror(x), resnet(x))


def test_ror_forward_backward_on_every_base():
    for name in ("ror3_resnet110", "pre_ror3_resnet164", "ror3_wrn40_2", "resresnet20"):
        model = reslab.build_model(name)
        model(torch.randn(2, 3, 32, 32)).sum().backward()
        assert all(p.grad is not None for p in model.parameters())


def test_bad_ror_options():
    with pytest.raises(ValueError, match=r"levels must be one of 1, 2, 3 \(got 4\)"):
        reslab.build_model("ror3_resnet110", levels=4)
    with pytest.raises(ValueError, match=r"6n\+8.*Nearest valid depths: 110 and 116"):
        reslab.build_model("ror", depth=111)
    with pytest.raises(ValueError, match=r"6n\+4"):
        reslab.build_model("ror", depth=41, depth_counting="wrn", base="preact")


# ----- stochastic depth -----------------------------------------------------------------------

def test_linear_decay_rule():
    assert linear_survival(4, 0.5) == pytest.approx([0.875, 0.75, 0.625, 0.5])
    model = reslab.build_model("ror3_resnet110", stochastic_depth=0.5)
    probs = [b.drop.survival_prob for s in model.stages for b in s]
    assert len(probs) == 51
    assert probs == pytest.approx([1 - (i / 51) * 0.5 for i in range(1, 52)])


@pytest.mark.parametrize("block_cls", [BasicBlock, PreActBlock])
def test_dropped_block_returns_its_shortcut_exactly(block_cls):
    torch.manual_seed(0)
    block = block_cls(16, 16, shortcut="A", survival_prob=1e-9).train()
    x = torch.randn(4, 16, 8, 8)
    expected = F.relu(x) if block_cls is BasicBlock else x
    assert torch.equal(block(x), expected)


def test_eval_scales_the_branch_by_its_survival_probability():
    torch.manual_seed(0)
    block = BasicBlock(16, 16, shortcut="A", survival_prob=0.7).eval()
    x = torch.randn(4, 16, 8, 8)
    with torch.no_grad():
        branch = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
        torch.testing.assert_close(block(x), F.relu(x + 0.7 * branch))


def test_training_drops_about_one_minus_p_of_the_time():
    block = BasicBlock(4, 4, shortcut="A", survival_prob=0.6).train()
    x = torch.randn(2, 4, 4, 4)
    torch.manual_seed(1)
    dropped = sum(torch.equal(block(x), F.relu(x)) for _ in range(400))
    assert 0.3 < dropped / 400 < 0.5


def test_stochastic_depth_on_any_residual_net_but_not_plain():
    for name in ("resnet56", "preresnet164", "resresnet20", "rir32", "resnet50"):
        model = reslab.build_model(name, stochastic_depth=0.5)
        assert any(m.survival_prob < 1 for m in model.modules()
                   if isinstance(m, reslab.StochasticDepth))
    with pytest.raises(ValueError, match="stochastic depth needs a shortcut"):
        reslab.build_model("plain20", stochastic_depth=0.5)


# Hooks through which a reader's own modules plug in (notebooks 05-07).

def _same_outputs(name: str, **hook) -> bool:
    torch.manual_seed(0)
    want = reslab.build_model(name).eval()
    torch.manual_seed(0)
    got = reslab.build_model(name, **hook).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        return torch.equal(got(x), want(x))


def test_stage_shortcut_hook_takes_a_module_factory():
    assert _same_outputs("resresnet20", stage_shortcut=ZeroPadShortcut)
    calls = []
    model = reslab.build_model("resresnet20", stage_shortcut=lambda i, o, s: calls.append(
        (i, o, s)) or torch.nn.Conv2d(i, o, 1, s))
    assert calls == [(16, 16, 1), (16, 32, 2), (32, 64, 2)]
    assert isinstance(model.middle[2], torch.nn.Conv2d)
    with pytest.raises(ValueError, match="must return an nn.Module"):
        reslab.build_model("resresnet20", stage_shortcut=lambda i, o, s: None)


def test_generalized_conv_hook_replaces_every_generalized_layer():
    class Mine(GeneralizedResidualConv):
        pass

    assert _same_outputs("resnet_init32", generalized_conv=Mine)
    model = reslab.build_model("rir32", generalized_conv=Mine)
    convs = [m for m in model.modules() if isinstance(m, GeneralizedResidualConv)]
    assert len(convs) == 30 and all(type(c) is Mine for c in convs)


def test_ror_level_shortcut_and_survival_rule_hooks():
    from reslab.models.shortcuts import ProjectionShortcut
    assert _same_outputs("ror3_resnet110",
                         level_shortcut=lambda i, o, s: ProjectionShortcut(i, o, s))
    model = reslab.build_model("ror", depth=32, level_shortcut=lambda i, o, s: torch.nn.Conv2d(
        i, o, 1, s, bias=False))
    assert isinstance(model.root, torch.nn.Conv2d) and isinstance(model.middle[1], torch.nn.Conv2d)
    flat = reslab.build_model("ror", depth=32, stochastic_depth=0.5,
                              survival_rule=lambda n, p: [0.9] * n)
    probs = [m.survival_prob for m in flat.modules() if hasattr(m, "survival_prob")]
    assert probs == [0.9] * 12
    no_sd = reslab.build_model("ror", depth=32, survival_rule=lambda n, p: [0.9] * n)
    assert not [m for m in no_sd.modules() if getattr(m, "survival_prob", 1) < 1]
    with pytest.raises(ValueError, match="one per block"):
        reslab.build_model("ror", depth=32, stochastic_depth=0.5, survival_rule=lambda n, p: [1])
