"""Achieved multiply-adds per second while training, against the device's peak.

A training step costs about 3x the forward multiply-adds (forward, and the two products of
the backward pass). Achieved = that / measured step time. Peak = a large matrix product
measured on the same device in the same run, in the format the trainer computes in there
(bf16, fp16 on a V100/T4, else fp32), and the vendor's dense tensor-core figure for that card
where the card -- model and form factor -- is known.

    python benchmarks/mac_throughput.py               # resnet20, 56, 110 at batch 128
    python benchmarks/mac_throughput.py --quick       # CI-sized
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import arguments, benchmark_data, timed, write_result  # noqa: E402
from benchmarks.trainer_throughput import kit_images_per_s  # noqa: E402
from reslab.models import build_model  # noqa: E402
from reslab.models.analysis import count_macs  # noqa: E402
from reslab.training.device import pick_device  # noqa: E402
from reslab.training.precision import autocast_dtype  # noqa: E402

# Vendor dense (no sparsity) tensor-core peaks in FLOP/s for the format the trainer uses on the
# card (bf16 from compute capability 8.0, fp16 before), matched against
# torch.cuda.get_device_name(); first match wins, so specific names come first. A card whose
# name matches none (or whose form factor is not in its name) gets no nominal peak: the peak of
# one form factor must not be applied to another (the H100 SXM's 989 TFLOPS is 31% more than
# the H100 PCIe's 756).
NOMINAL_PEAKS = (
    (r"H100.*NVL", 835e12), (r"H100.*PCIe", 756e12), (r"H100.*(SXM|HBM3)", 989.4e12),
    (r"H200.*NVL", 835e12), (r"GH200", 989.4e12), (r"H200", 989.4e12),
    (r"A100", 312e12), (r"L40S", 362e12), (r"\bL4\b", 121e12), (r"\bA10\b", 125e12),
    (r"V100.*PCIE", 112e12), (r"V100", 125e12), (r"\bT4\b", 65e12),
)


def nominal_peak(device_name: str) -> float | None:
    """The vendor's dense tensor-core peak of the card called ``device_name``, in multiply-
    adds per second (FLOP/s / 2); ``None`` for a card not in ``NOMINAL_PEAKS``."""
    for pattern, flops in NOMINAL_PEAKS:
        if re.search(pattern, device_name, re.IGNORECASE):
            return flops / 2
    return None


def matmul_peak(device: torch.device, size: int) -> float:
    """Multiply-adds per second of a square matrix product in the trainer's format for the
    device (the practical peak)."""
    dtype = autocast_dtype(device, None) or torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b  # warm-up
    reps = 20 if device.type == "cuda" else 3
    seconds = timed(lambda: [a @ b for _ in range(reps)], device)
    return reps * size ** 3 / seconds


def main() -> None:
    parser = arguments(__doc__, ["resnet20", "resnet56", "resnet110"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    if args.quick:
        args.models, args.steps = ["resnet20"], 3
    device = pick_device("auto")
    data = benchmark_data(2_048, dataset=args.dataset)
    peak = matmul_peak(device, 8192 if device.type == "cuda" else 1024)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    nominal = nominal_peak(name) if name else None
    rows = []
    for model_name in args.models:
        macs_per_image = count_macs(build_model(model_name), (1, 3, 32, 32))
        ips = kit_images_per_s(model_name, data, args.batch_size, args.steps, 2, device,
                               args.compile)
        achieved = 3 * macs_per_image * ips
        rows.append({"model": model_name, "images_per_s": ips,
                     "training_macs_per_image": 3 * macs_per_image,
                     "achieved_macs_per_s": achieved,
                     "fraction_of_matmul_peak": achieved / peak,
                     "fraction_of_nominal_peak": achieved / nominal if nominal else None})
        print(f"{model_name}: {achieved / 1e12:.3f} T MAC/s = {achieved / peak:.1%} of the "
              f"measured matmul peak ({peak / 1e12:.2f} T MAC/s)")
    write_result("mac_throughput", {
        "dataset": data.name, "batch_size": args.batch_size, "steps": args.steps,
        "compile": args.compile, "quick": args.quick, "matmul_peak_macs_per_s": peak,
        "nominal_peak_macs_per_s": nominal, "results": rows}, args.out)


if __name__ == "__main__":
    main()
