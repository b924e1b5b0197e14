#!/usr/bin/env python
"""Reference logits from the publisher's own code, for tests/test_pretrained.py.

Runs akamaster/pytorch_resnet_cifar10's ``resnet.py`` -- from a checkout *outside* this
repository; none of its code is copied into reslab -- on a few cifar10-jpeg test images with
the published weights, and writes only numbers (logits) to
``tests/data/akamaster_reference_logits.json``. It imports nothing from reslab: the images
are decoded with Pillow and normalised as the publisher's trainer does
(``transforms.ToTensor()`` then ``Normalize(mean=(0.485, 0.456, 0.406),
std=(0.229, 0.224, 0.225))``).

    git clone https://github.com/akamaster/pytorch_resnet_cifar10 /tmp/akamaster
    python scripts/akamaster_reference.py --code /tmp/akamaster \\
        --weights ../shared/pretrained/akamaster --data ../shared/data/cifar10-jpeg
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "akamaster_reference_logits.json"
# test.npz is ordered by class: two images of each class
INDICES = [c * 1000 + k for c in range(10) for k in (0, 1)]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FILES = {"resnet20": "resnet20-12fca82f.th", "resnet32": "resnet32-d509ac18.th",
         "resnet44": "resnet44-014dd654.th", "resnet56": "resnet56-4bfd9763.th"}


def images(data: Path) -> tuple[torch.Tensor, list[int]]:
    """The INDICES test images, decoded with Pillow and normalised as the publisher does."""
    from PIL import Image
    with np.load(data / "test.npz") as f:
        jpeg, offsets, labels = f["jpeg"], f["offsets"], f["labels"]
    pixels = np.stack([np.asarray(Image.open(io.BytesIO(
        jpeg[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB")) for i in INDICES])
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x, [int(labels[i]) for i in INDICES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, required=True, help="publisher's checkout")
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="cifar10-jpeg folder")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    import resnet  # the publisher's module, from their checkout

    x, labels = images(args.data)
    logits = {}
    for name, file in FILES.items():
        net = getattr(resnet, name)()
        state = torch.load(args.weights / file, map_location="cpu", weights_only=True)
        net.load_state_dict({k.removeprefix("module."): v
                             for k, v in state["state_dict"].items()}, strict=True)
        with torch.no_grad():
            logits[name] = net.eval()(x).tolist()
    commit = subprocess.run(["git", "-C", str(args.code), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    code_sha = hashlib.sha256((args.code / "resnet.py").read_bytes()).hexdigest()
    out = {
        "what": "logits of akamaster/pytorch_resnet_cifar10's own resnet.py with its "
                "published weights, on cifar10-jpeg test images (indices into test.npz)",
        "command": "python scripts/akamaster_reference.py --code /tmp/akamaster --weights "
                   "../shared/pretrained/akamaster --data ../shared/data/cifar10-jpeg",
        "publisher_commit": commit, "publisher_resnet_py_sha256": code_sha,
        "licence": "weights: BSD 2-clause, Copyright (c) 2018, Yerlan Idelbayev "
                   "(see reslab.models.pretrained.licence_notice())",
        "dataset": "cifar10-jpeg (CIFAR-10 re-encoded as JPEG quality 75; lossy)",
        "inputs": "Pillow decode, /255, then (x - mean) / std with mean (0.485, 0.456, "
                  "0.406), std (0.229, 0.224, 0.225)",
        "device": f"CPU ({platform.machine()}), float32", "torch": torch.__version__,
        "indices": INDICES, "labels": labels, "logits": logits,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, indent=1)  # then one line per list of numbers
    text = re.sub(r"\[[-\d.eE,\s]+\]", lambda m: " ".join(m.group(0).split()), text)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
