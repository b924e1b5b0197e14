"""Successive block training (Gelda et al. 2016, Sec. III.B) as a trainer feature."""
from __future__ import annotations

import pytest
import torch

import reslab
from reslab.training.successive import ORDERS, partial_net, train_successively


def test_orders_follow_section_iv():
    assert ORDERS["top-down"][0] == (0,) and ORDERS["bottom-up"][0] == (2,)
    assert ORDERS["top-down"][-1] == ORDERS["bottom-up"][-1] == (0, 1, 2)


def test_partial_nets_share_stages_with_the_full_net_and_adapt_shapes():
    full = reslab.build_model("resnet32")
    last_only = partial_net(full, (2,), 10)
    assert last_only.stages[0] is full.stages[2] and last_only.stem[0] is full.stem
    assert last_only(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert last_only.head[-1].in_features == 64
    first_only = partial_net(full, (0,), 10)
    assert first_only.head[-1].in_features == 16 and len(first_only.stem) == 1
    assert first_only(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("order", ["bottom-up", "top-down"])
def test_three_phases_carry_weights_and_end_with_the_full_net(tmp_path, order):
    histories = train_successively("resnet32", order, dataset="cifar10-jpeg", budget="smoke",
                                   out=tmp_path, progress=False, iterations=8, eval_every=2,
                                   device="cpu", train_subset=256, test_subset=64)
    labels = list(histories)
    assert len(labels) == 3 and labels[-1] == "phase3-stage1+2+3"
    assert [h.last("step") for h in histories.values()] == [2, 2, 4]
    assert histories[labels[0]].config["milestones"] == [0.8]
    assert histories[labels[-1]].config["milestones"] == [0.4, 0.8]
    full = reslab.load_trained(histories[labels[-1]])
    assert reslab.count_params(full) == 464_154
    first = torch.load(tmp_path / labels[0] / "checkpoint.pt", weights_only=False)["model"]
    trained_stage = "stages.0.0.conv1.weight"      # stage 3 (bottom-up) or stage 1 (top-down)
    index = 2 if order == "bottom-up" else 0
    untouched = reslab.build_model("resnet32")  # not the same as the first phase's result
    assert not torch.equal(first[trained_stage], untouched.stages[index][0].conv1.weight)
    # resuming a finished schedule retrains nothing and returns the same histories
    again = train_successively("resnet32", order, dataset="cifar10-jpeg", budget="smoke",
                               out=tmp_path, progress=False, iterations=8, eval_every=2,
                               device="cpu", train_subset=256, test_subset=64)
    assert [h.records for h in again.values()] == [h.records for h in histories.values()]


def test_stage_orders_are_checked_and_named():
    from reslab.training.successive import check_stage_orders, plan_name
    assert check_stage_orders([[2], [1, 2], [0, 1, 2]]) == ORDERS["bottom-up"]
    assert plan_name([(2,), (1, 2), (0, 1, 2)]) == "bottom-up"
    assert plan_name([(1,), (1, 2), (0, 1, 2)]) == "s2-s2+3-s1+2+3"
    for plan, message in (([(0,), (0, 1)], "full net"), ([(0, 2), (0, 1, 2)], "consecutive"),
                          ([(1,), (0,), (0, 1, 2)], "keep phase 1"),
                          ([(0, 1, 2), (0, 1, 2)], "keep phase 1")):
        with pytest.raises(ValueError, match=message):
            check_stage_orders(plan)


def test_the_stage_order_picker_reads_one_based_phases():
    from reslab.course.widgets import StageOrderPicker, parse_stage_orders
    assert parse_stage_orders("3 | 2,3 | 1,2,3") == ORDERS["bottom-up"]
    with pytest.raises(ValueError, match="numbers"):
        parse_stage_orders("three | 1,2,3")
    picker = StageOrderPicker(total_iterations=400)
    assert picker.stage_orders == ((1,), (1, 2), (0, 1, 2))       # middle stage first
