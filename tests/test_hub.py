"""torch.hub: ``hubconf.py`` offers every registry name, and ``pretrained=True`` is the kit's
hash-checked ``build_model(name, pretrained="akamaster")``, exactly. Offline: ``source="local"``
for ``torch.hub.load``; ``torch.hub.list``/``help`` (GitHub only) read this checkout where torch
hub keeps a downloaded repository (``<hub dir>/OWNER_NAME_REF``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import reslab
from reslab.course.colab import REF, REPOSITORY
from reslab.data.datasets import load_raw
from reslab.models.pretrained import AKAMASTER, pretrained_inputs, search_places

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((ROOT / "tests" / "data" / "akamaster_reference_logits.json").read_text())
HAVE_WEIGHTS = any((p / "resnet56-4bfd9763.th").is_file() for p in search_places(AKAMASTER))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("RESLAB_OFFLINE", "1")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> str:
    """This checkout as torch hub's cached download of ``REPOSITORY:REF``; that name."""
    owner, name = REPOSITORY.split("/")
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / f"{owner}_{name}_{REF}").symlink_to(ROOT, target_is_directory=True)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # torch.hub.get_dir() is $TORCH_HOME/hub
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    return f"{REPOSITORY}:{REF}"


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="the akamaster weights are not at hand "
                    "(shared/pretrained/akamaster or RESLAB_PRETRAINED)")
def test_hub_load_pretrained_is_build_model_pretrained_exactly():
    raw = load_raw("cifar10-jpeg")
    images = torch.from_numpy(np.ascontiguousarray(raw.test.decode(
        np.array(REFERENCE["indices"]))))
    hub = torch.hub.load(str(ROOT), "resnet56", source="local", pretrained=True)
    kit = reslab.build_model("resnet56", pretrained="akamaster")
    with torch.no_grad():
        logits = hub(pretrained_inputs(hub, images))
        assert torch.equal(logits, kit(pretrained_inputs(kit, images)))
    assert (logits - torch.tensor(REFERENCE["logits"]["resnet56"])).abs().max() < 1e-4
    assert not hub.training and hub.provenance == kit.provenance


def test_hub_list_names_every_model_and_help_gives_the_inputs(hub_cache):
    listed = torch.hub.list(hub_cache, skip_validation=True, trust_repo=True, verbose=False)
    assert sorted(listed) == sorted(reslab.list_models())
    doc = torch.hub.help(hub_cache, "resnet56", skip_validation=True, trust_repo=True)
    mean, std = AKAMASTER.mean, AKAMASTER.std
    assert f"mean {mean}" in doc and f"std {std}" in doc and "pretrained_inputs" in doc
    assert "no publisher has weights" in torch.hub.help(hub_cache, "plain20",
                                                       skip_validation=True, trust_repo=True)


def test_hub_entries_take_build_models_options_and_refuse_weights_nobody_publishes():
    net = torch.hub.load(str(ROOT), "resnet20", source="local", shortcut="B", num_classes=7)
    assert net.head[-1].out_features == 7
    with pytest.raises(ValueError, match="publishes no weights for 'plain20'"):
        torch.hub.load(str(ROOT), "plain20", source="local", pretrained=True)


# Run in a fresh interpreter: blocks every installed distribution that torch and torchvision do
# not require (all the way down), then loads an entry; prints what it blocked and the net.
ONLY_TORCH = """
import sys
startup = set(sys.modules)
import importlib.abc, importlib.metadata as md
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as canonical

def required(names, installed):
    seen, todo = set(), [canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for r in map(Requirement, md.distribution(name).requires or []):
            if canonical(r.name) in installed and (
                    r.marker is None or r.marker.evaluate({"extra": ""})):
                todo.append(canonical(r.name))
    return seen

allowed = required(["torch", "torchvision"],
                   {canonical(d.metadata["Name"]) for d in md.distributions()})
blocked = {module for module, dists in md.packages_distributions().items()
           if not allowed & {canonical(d) for d in dists}} - {"reslab"}

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in blocked:
            raise ImportError(f"{name}: neither torch nor torchvision requires it")

for module in set(sys.modules) - startup:
    if module.partition(".")[0] in blocked:
        del sys.modules[module]
sys.meta_path.insert(0, Blocker())
import torch
model = torch.hub.load(sys.argv[1], "resnet20", source="local")
print(" ".join(sorted(blocked)))
print(type(model).__name__)
"""


def test_hub_entries_need_nothing_beyond_torch_and_torchvision():
    """hubconf in a process where only torch's and torchvision's requirements (all the way
    down) can be imported; reslab's other requirements (tqdm, matplotlib, ipywidgets) cannot."""
    done = subprocess.run([sys.executable, "-c", ONLY_TORCH, str(ROOT)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "RESLAB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    blocked, model = done.stdout.splitlines()[-2:]
    assert {"tqdm", "matplotlib", "ipywidgets"} <= set(blocked.split())
    assert model == "CifarResNet"
