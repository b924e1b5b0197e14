"""The four fully trained ResNets (20/32/44/56, the full schedule): measured, and their findings.

A CPU cannot run He et al.'s 64,000 iterations, but a public reproduction publishes the nets it
trained with the paper's recipe (:mod:`reslab.models.pretrained`). This module measures them as the
notebooks measure the reader's short runs -- test error by depth (Table 6) and the std of
every 3x3 layer's response (Fig. 7) -- always with the inputs normalised as their publisher
trained them, and states the full-schedule findings they settle. The committed measurement
is ``results/pretrained-akamaster/`` (``scripts/pretrained_results.py``); notebooks read it,
or measure on a few images, and say so in one line when the weights are not at hand.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from reslab.course.lessons.finding import Finding
from reslab.models.analysis import layer_responses
from reslab.models.pretrained import AKAMASTER, pretrained_error, pretrained_inputs, search_places
from reslab.models.registry import build_model
from reslab.paper import TABLE6_ERROR
from reslab.paths import PRETRAINED, results_dir

NETS = ("resnet20", "resnet32", "resnet44", "resnet56")
FOLDER = PRETRAINED


def weights_at_hand(names: Sequence[str] = NETS) -> bool:
    """Whether every net's file is on this machine (nothing is downloaded to find out)."""
    return all(any((p / AKAMASTER.files[n][0]).is_file() for p in search_places(AKAMASTER))
               for n in names)


def not_at_hand_line() -> str:
    """One line for a notebook when the weights are missing (e.g. on Colab)."""
    looked = ", ".join(str(p) for p in search_places(AKAMASTER))
    return (f"The fully trained nets (akamaster) are not on this machine (looked in {looked}); "
            f"showing the committed measurement in results/{FOLDER} instead.")


def test_images(count: int | None = None, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor, str] | None:
    """``count`` test images (uint8) and labels of the reader's CIFAR-10, and its name: the
    original when it is downloaded, else the offline cifar10-jpeg copy; None without either.
    Nothing is downloaded."""
    from reslab.data import load_dataset
    from reslab.data.sources import DatasetUnavailable
    for name in ("cifar10", "cifar10-jpeg"):
        try:
            data = load_dataset(name, train_subset=1, test_subset=count, seed=seed,
                                download=False)
        except DatasetUnavailable:
            continue
        return data.eval_images, data.eval_labels, data.name
    return None


def load_nets(names: Sequence[str] = NETS, zero_placement: str | None = None
              ) -> dict[str, nn.Module]:
    """The published nets, in eval mode, by name."""
    extra = {} if zero_placement is None else {"zero_placement": zero_placement}
    return {n: build_model(n, pretrained="akamaster", **extra) for n in names}


def errors(nets: Mapping[str, nn.Module], images: torch.Tensor,
           labels: torch.Tensor) -> dict[str, float]:
    """Test error (%) of each net on uint8 ``images``, with its publisher's normalisation."""
    return {n: round(pretrained_error(m, images, labels), 2) for n, m in nets.items()}


def responses(nets: Mapping[str, nn.Module], images: torch.Tensor) -> dict[str, list[dict]]:
    """Fig. 7's per-layer response std of each net on uint8 ``images``."""
    return {n: layer_responses(m, pretrained_inputs(m, images)) for n, m in nets.items()}


def mean_std(rows: Sequence[dict]) -> float:
    """The mean over layers of the response std (one number per net)."""
    return sum(r["std"] for r in rows) / len(rows)


def _steps_down(values: Sequence[float], noise: Sequence[float] | None = None) -> int:
    """How many steps from one value to the next go down (by more than ``noise``)."""
    noise = noise or [0.0] * len(values)
    return sum(b < a - n for a, b, n in zip(values, values[1:], noise))


def sampling_noise(error: float, images: int) -> float:
    """Two standard errors (points) of a test error of ``error`` % measured on ``images``."""
    p = error / 100
    return 200 * math.sqrt(p * (1 - p) / images)


def error_findings(errors_: Mapping[str, float], dataset: str,
                   images: int = 10_000) -> list[Finding]:
    """Table 6's ordering by depth, on the fully trained nets' measured test errors: a step of
    depth counts only when it lowers the error by more than two standard errors on ``images``."""
    err = [errors_[n] for n in NETS]
    noise = [sampling_noise((a + b) / 2, images) for a, b in zip(err, err[1:])]
    table6 = ", ".join(f"{TABLE6_ERROR[n]:.2f}" for n in NETS)
    on = f"fully trained, {dataset}"
    return [
        Finding("01", f"ResNet-56 has lower test error than ResNet-20 ({on})",
                f"He et al. 2016, Table 6, CIFAR-10 ({TABLE6_ERROR['resnet56']:.2f} vs "
                f"{TABLE6_ERROR['resnet20']:.2f})",
                "test error, ResNet-56 minus ResNet-20, points", err[3] - err[0],
                err[3] < err[0]),
        Finding("01", f"test error falls at every step of depth 20-32-44-56, beyond sampling "
                f"noise ({on})", f"He et al. 2016, Table 6, CIFAR-10 ({table6})",
                f"steps of depth that lower the test error by more than 2 standard errors on "
                f"{images:,} images, share of 3", _steps_down(err, noise) / 3,
                _steps_down(err, noise) == 3),
    ]


def response_findings(responses_: Mapping[str, Sequence[dict]], dataset: str) -> list[Finding]:
    """Fig. 7's "deeper ResNets respond less", on the fully trained nets' measured responses."""
    std = [mean_std(responses_[n]) for n in NETS]
    on = f"fully trained, {dataset}"
    return [
        Finding("04", f"the deeper ResNet responds less: ResNet-56 vs ResNet-20 ({on})",
                "He et al. 2016, Fig. 7 and Sec. 4.2 (CIFAR-10)", "mean response std, ResNet-56 / ResNet-20",
                std[3] / std[0], std[3] < std[0]),
        Finding("04", f"responses shrink at every step of depth 20-32-44-56 ({on})",
                "He et al. 2016, Fig. 7 and Sec. 4.2 (CIFAR-10; ResNet-20, 56 and 110 shown)",
                "steps of depth that lower the mean response std, share of 3",
                _steps_down(std) / 3, _steps_down(std) == 3),
    ]


def findings(errors_: Mapping[str, float], responses_: Mapping[str, Sequence[dict]],
             dataset: str, images: int = 10_000) -> list[Finding]:
    """The full-schedule findings these nets settle, computed from the measurement on
    ``images`` test images."""
    return error_findings(errors_, dataset, images) + response_findings(responses_, dataset)


def measure(what: str, count: int) -> tuple[dict, str]:
    """``what`` ("errors" or "responses") of the four nets on ``count`` of the reader's
    CIFAR-10 test images, and where it was measured; the committed measurement, announced
    in one line, when the weights or the images are not on this machine."""
    found = test_images(count) if weights_at_hand() else None
    if found is not None:
        images, labels, name = found
        nets = load_nets()
        value = errors(nets, images, labels) if what == "errors" else responses(nets, images)
        return value, f"{name}, {len(labels):,} test images"
    print(not_at_hand_line() if not weights_at_hand() else
          f"No CIFAR-10 test images on this machine; showing results/{FOLDER} instead.")
    stored = committed()
    key = "test_images" if what == "errors" else "response_images"
    return stored[what], (f"committed: {stored['run']['dataset']}, "
                          f"{stored['run'][key]:,} test images")


def compare_placements(name: str = "resnet20", count: int = 200) -> dict:
    """One published net under both zero placements, on ``count`` test images: whether the
    weights are the same tensors, the largest logit difference and each placement's error (%).
    From the committed measurement (no logits) when the weights or images are not here."""
    found = test_images(count) if weights_at_hand([name]) else None
    if found is None:
        print(not_at_hand_line())
        stored = committed()
        return {"where": f"committed: {stored['run']['dataset']}, "
                         f"{stored['run']['test_images']:,} test images",
                "errors": {"split": stored["errors"][name],
                           "after": stored["run"]["test_error_with_zeros_after"][name]}}
    images, labels, data_name = found
    nets = {p: build_model(name, pretrained="akamaster", zero_placement=p)
            for p in ("split", "after")}
    states = [m.state_dict() for m in nets.values()]
    with torch.no_grad():
        logits = {p: m(pretrained_inputs(m, images)) for p, m in nets.items()}
    return {"where": f"{data_name}, {len(labels):,} test images",
            "same_weights": all(torch.equal(a, b) for a, b in zip(*(s.values() for s in states))),
            "max_logit_difference": float((logits["split"] - logits["after"]).abs().max()),
            "errors": {p: 100 * float((v.argmax(1) != labels).float().mean())
                       for p, v in logits.items()}}


def committed(folder: Path | None = None) -> dict | None:
    """The committed measurement (``results/pretrained-akamaster``), or None."""
    folder = folder or results_dir() / FOLDER
    if not (folder / "run.json").exists():
        return None
    out = {name: json.loads((folder / f"{name}.json").read_text())
           for name in ("run", "errors", "responses", "findings", "provenance")}
    return out


def error_table(measured: Mapping[str, float], label: str, stored: dict | None = None) -> str:
    """Test error (%) by depth: He et al.'s Table 6, the publisher's, ``measured`` and the
    ``stored`` (committed) measurement when given."""
    head = ["net", "He et al. Table 6 (CIFAR-10)", "publisher (CIFAR-10)", label]
    if stored is not None:
        head.append(f"committed ({stored['run']['dataset']}, "
                    f"{stored['run']['test_images']:,} images)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in measured:
        row = [n, f"{TABLE6_ERROR[n]:.2f}", f"{AKAMASTER.files[n][2]:.2f}",
               f"{measured[n]:.2f}"]
        if stored is not None:
            row.append(f"{stored['errors'][n]:.2f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def findings_lines(found: Sequence[Finding | dict]) -> str:
    """One "What to notice" line per finding."""
    return "\n".join((f if isinstance(f, Finding) else Finding(**f)).line() for f in found)
