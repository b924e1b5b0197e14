"""The publisher's weights load exactly: reslab's nets give the logits of the publisher's own
code (``tests/data/akamaster_reference_logits.json``, made by
``scripts/akamaster_reference.py`` from akamaster/pytorch_resnet_cifar10's ``resnet.py``), and
option A's zero placement is part of the function.

Tests that read the weights need ``shared/pretrained/akamaster/`` beside the checkout (or
``$RESLAB_PRETRAINED``); without them they are skipped with that reason.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import reslab
import reslab.models.pretrained
from reslab.data.datasets import load_raw
from reslab.models.pretrained import (AKAMASTER, export_state_dict, pretrained_inputs,
                                      read_weights, search_places, to_kit_names)
from reslab.models.shortcuts import ZeroPadShortcut

REFERENCE = json.loads((Path(__file__).parent / "data" /
                        "akamaster_reference_logits.json").read_text())
HAVE_WEIGHTS = any((p / "resnet20-12fca82f.th").is_file() for p in search_places(AKAMASTER))
needs_weights = pytest.mark.skipif(not HAVE_WEIGHTS, reason="the akamaster weights are not "
                                   "at hand (shared/pretrained/akamaster or RESLAB_PRETRAINED)")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """The reference images, decoded by reslab's own loader (uint8)."""
    raw = load_raw("cifar10-jpeg")
    indices = np.array(REFERENCE["indices"])
    assert raw.test.labels[indices].tolist() == REFERENCE["labels"]
    return torch.from_numpy(np.ascontiguousarray(raw.test.decode(indices)))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("RESLAB_OFFLINE", "1")


def test_split_placement_puts_half_the_zeros_before():
    x = torch.arange(1.0, 1 + 2 * 4 * 4).view(1, 2, 4, 4)
    after = ZeroPadShortcut(2, 6, stride=2)(x)
    split = ZeroPadShortcut(2, 6, stride=2, placement="split")(x)
    assert torch.equal(after[:, :2], x[:, :, ::2, ::2]) and not after[:, 2:].any()
    assert torch.equal(split[:, 2:4], x[:, :, ::2, ::2])
    assert not split[:, :2].any() and not split[:, 4:].any()


@pytest.mark.parametrize("name,options", [
    ("resnet20", {}), ("resresnet20", {}), ("resnet29", {"block": "bottleneck", "shortcut": "A"}),
    ("preresnet164", {"shortcut": "A"}), ("wrn40_2", {"shortcut": "A"}),
    ("ror3_resnet110", {"shortcut": "A"})])
def test_every_cifar_family_places_option_a_zeros_as_asked(name, options):
    """Same weights, the two placements: the shortcuts differ, so the functions do."""
    split = reslab.build_model(name, zero_placement="split", **options).eval()
    after = reslab.build_model(name, **options).eval()
    after.load_state_dict(split.state_dict())
    pads = [m for m in split.modules() if isinstance(m, ZeroPadShortcut)]
    assert pads and all(m.placement == "split" for m in pads)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(split(x), after(x))


@needs_weights
@pytest.mark.parametrize("name", ["resnet20", "resnet32", "resnet44", "resnet56"])
def test_pretrained_logits_match_the_publishers_code(name, images):
    model = reslab.build_model(name, pretrained="akamaster")
    with torch.no_grad():
        logits = model(pretrained_inputs(model, images))
    want = torch.tensor(REFERENCE["logits"][name])
    diff = (logits - want).abs().max().item()
    assert diff < 1e-4, f"{name}: max |logit difference| {diff:.2e}"
    assert model.provenance["zero_placement"] == "split"
    assert model.provenance["licence"].startswith("BSD 2-clause")


@needs_weights
@pytest.mark.parametrize("name", ["resnet20", "resnet56"])
def test_the_other_zero_placement_is_another_function(name, images):
    split = reslab.build_model(name, pretrained="akamaster")
    after = reslab.build_model(name, pretrained="akamaster", zero_placement="after")
    # the very same tensors
    assert all(torch.equal(a, b) for a, b in zip(split.state_dict().values(),
                                                 after.state_dict().values()))
    with torch.no_grad():
        a = after(pretrained_inputs(after, images))
        s = split(pretrained_inputs(split, images))
    want = torch.tensor(REFERENCE["logits"][name])
    assert (a - want).abs().max() > 1.0
    labels = torch.tensor(REFERENCE["labels"])
    assert (s.argmax(1) == labels).sum() > (a.argmax(1) == labels).sum()


@needs_weights
def test_export_round_trips_through_the_publishers_layout(tmp_path, monkeypatch):
    """A reslab net saved in akamaster's layout reads back with the same names and values."""
    model = reslab.build_model("resnet20", zero_placement="split")
    exported = export_state_dict(model)
    published = read_weights(next(p / "resnet20-12fca82f.th" for p in search_places(AKAMASTER)
                                  if (p / "resnet20-12fca82f.th").is_file()), "resnet20")
    assert set(exported) == set(published)
    torch.save({"state_dict": exported}, tmp_path / "mine.th")
    back = torch.load(tmp_path / "mine.th", map_location="cpu", weights_only=True)
    again = reslab.build_model("resnet20", zero_placement="split")
    again.load_state_dict(to_kit_names(back["state_dict"]), strict=True)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values()))


def test_offline_without_the_file_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("RESLAB_PRETRAINED", str(tmp_path / "empty"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("RESLAB_SHARED", str(tmp_path / "noshared"))
    monkeypatch.setattr("reslab.models.pretrained.shared_dirs", lambda: [tmp_path / "noshared"])
    with pytest.raises(ValueError) as info:
        reslab.build_model("resnet56", pretrained="akamaster")
    line = str(info.value)
    assert "\n" not in line and "RESLAB_OFFLINE" in line
    assert str(tmp_path / "empty") in line and str(tmp_path / "hub") in line
    assert "resnet56-4bfd9763.th" in line and line.count("https://") == 1
    assert not (tmp_path / "hub").exists()


def test_committed_findings_are_computed_from_the_committed_measurement():
    from reslab.course import fully_trained
    stored = fully_trained.committed()
    assert stored is not None, "results/pretrained-akamaster is committed"
    again = fully_trained.findings(stored["errors"], stored["responses"],
                                   stored["run"]["dataset"])
    assert [f.as_dict() for f in again] == stored["findings"]
    assert stored["run"]["dataset"] == "cifar10-jpeg" and stored["run"]["torch"]
    assert all(p["licence"].startswith("BSD 2-clause") and p["zero_placement"] == "split"
               for p in stored["provenance"].values())
    licence = (fully_trained.results_dir() / fully_trained.FOLDER / "LICENSE-akamaster.txt")
    assert licence.read_text() == reslab.models.pretrained.licence_notice()


@needs_weights
def test_download_goes_through_torch_hub_with_its_hash_check(tmp_path, monkeypatch):
    """The download path, with the publisher's URL replaced by a file:// URL of the copy."""
    import dataclasses

    import reslab.models.pretrained as P
    folder = next(p for p in search_places(AKAMASTER) if (p / "resnet20-12fca82f.th").is_file())
    monkeypatch.delenv("RESLAB_OFFLINE")
    monkeypatch.delenv("RESLAB_PRETRAINED", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(P, "shared_dirs", lambda: [])
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    # a file whose content is not what its name's hash says: torch hub refuses, nothing kept
    wrong = {**AKAMASTER.files, "resnet20": ("resnet32-d509ac18.th", "12fca82f", 8.27)}
    monkeypatch.setitem(P.SOURCES, "akamaster", dataclasses.replace(
        AKAMASTER, url=f"file://{folder}/{{file}}", files=wrong))
    with pytest.raises(ValueError, match=r"downloading it failed .*hash") as info:
        P.find_weights("resnet20")
    assert "\n" not in str(info.value) and not cache.exists()
    monkeypatch.setitem(P.SOURCES, "akamaster", dataclasses.replace(
        AKAMASTER, url=f"file://{folder}/{{file}}"))
    model = reslab.build_model("resnet20", pretrained="akamaster")
    assert model.provenance["loaded_from"] == str(cache / "resnet20-12fca82f.th")
    assert (cache / "akamaster-LICENSE.txt").read_text() == P.licence_notice()


def test_without_the_weights_notebooks_say_so_in_one_line_and_read_the_committed(
        tmp_path, monkeypatch, capsys):
    """What a notebook does on Colab: one line, then the committed measurement."""
    from reslab.course import fully_trained
    monkeypatch.setattr(fully_trained, "search_places", lambda source: [tmp_path])
    errors, where = fully_trained.measure("errors", 10)
    responses, _ = fully_trained.measure("responses", 10)
    compared = fully_trained.compare_placements("resnet20", 10)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 3 and all("not on this machine" in line and str(tmp_path) in line
                                     for line in printed)
    stored = fully_trained.committed()
    assert errors == stored["errors"] and responses == stored["responses"]
    assert where == "committed: cifar10-jpeg, 10,000 test images"
    assert compared["errors"]["after"] > 50 > compared["errors"]["split"]
