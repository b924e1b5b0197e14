#!/usr/bin/env python
"""Measure the four fully trained ResNets and store ``results/pretrained-akamaster/``.

Test error on every test image of ``--dataset`` and Fig. 7's layer responses on
``--response-images`` of them (a seeded choice), each net with its publisher's input
normalisation; the findings these full-schedule nets settle (also written into
``results/findings-quick-cpu/FINDINGS.md``); and each net's provenance (with the publisher's
licence, which travels with anything derived from the files).

    RESLAB_OFFLINE=1 python scripts/pretrained_results.py --dataset cifar10-jpeg
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reslab.course import fully_trained  # noqa: E402
from reslab.course import findings_table
from reslab.data import load_dataset  # noqa: E402
from reslab.models.pretrained import licence_notice  # noqa: E402
from reslab.paths import findings_dir, pretrained_dir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10-jpeg")
    parser.add_argument("--response-images", type=int, default=1000)
    args = parser.parse_args()
    data = load_dataset(args.dataset, train_subset=1, seed=0)  # every test image
    nets = fully_trained.load_nets()
    errors = fully_trained.errors(nets, data.eval_images, data.eval_labels)
    other = fully_trained.errors(fully_trained.load_nets(zero_placement="after"),
                                 data.eval_images, data.eval_labels)
    responses = fully_trained.responses(nets, data.eval_images[:args.response_images])
    found = fully_trained.findings(errors, responses, data.name, len(data.eval_labels))
    folder = pretrained_dir()
    folder.mkdir(parents=True, exist_ok=True)
    provenance = {n: {k: v for k, v in m.provenance.items() if k not in ("loaded_from",
                                                                          "licence_text")}
                  for n, m in nets.items()}
    run = {"command": "RESLAB_OFFLINE=1 python " + shlex.join(sys.argv),
           "dataset": data.name, "dataset_note": data.note,
           "test_images": len(data.eval_labels),
           "response_images": min(args.response_images, len(data.eval_labels)),
           "images_chosen": "load_dataset(dataset, seed=0)'s order of the test set; responses "
                            "on its first response_images",
           "device": f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)",
           "torch": torch.__version__, "platform": platform.platform(), "precision": "float32",
           "inputs": "each net's publisher's normalisation: (images / 255 - mean) / std, "
                     "mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)",
           "test_error_with_zeros_after": other,
           "note": "test_error_with_zeros_after: the same weights in nets whose option A puts "
                   "all zeros after the input's channels (the kit's default) -- another "
                   "function"}
    files = {"run": run, "errors": errors, "responses": responses,
             "findings": [f.as_dict() for f in found], "provenance": provenance}
    for name, value in files.items():
        (folder / f"{name}.json").write_text(json.dumps(value, indent=1) + "\n")
    (folder / "LICENSE-akamaster.txt").write_text(licence_notice())
    table = findings_dir("quick", "cpu") / "FINDINGS.md"  # gains the section
    if table.exists():
        table.write_text(findings_table.with_full_schedule(table.read_text()))
    for n in nets:
        print(f"{n}: test error {errors[n]:.2f}% (zeros after: {other[n]:.2f}%), mean response "
              f"std {fully_trained.mean_std(responses[n]):.3f}")
    print(fully_trained.findings_lines(found))
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
