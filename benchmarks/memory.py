"""Peak training memory of ResNet-1202 at batch 128, with and without activation checkpointing.

One training step (forward, backward, SGD) as the trainer runs it (channels-last; on CUDA,
autocast in the trainer's format for the card). Reports the CUDA peak allocation where there
is a GPU (the target: under 8 GB at batch 128), and everywhere the bytes autograd keeps for
the backward pass (a device-independent count).

    python benchmarks/memory.py                 # resnet1202, batch 128
    python benchmarks/memory.py --quick         # CI-sized: resnet110, batch 8
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import arguments, gpu_target, write_result  # noqa: E402
from reslab.models import build_model  # noqa: E402
from reslab.training.activation_checkpointing import saved_activation_bytes  # noqa: E402
from reslab.training.activation_checkpointing import set_activation_checkpointing  # noqa: E402
from reslab.training.device import pick_device  # noqa: E402
from reslab.training.precision import autocast, autocast_dtype  # noqa: E402

TARGET_BYTES = 8e9  # the GPU target: ResNet-1202 at batch 128 trains in under 8 GB


def measure(model_name: str, batch: int, checkpointing: bool, device: torch.device) -> dict:
    torch.manual_seed(0)
    model = build_model(model_name).to(device).to(memory_format=torch.channels_last)
    set_activation_checkpointing(model, checkpointing)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(
        memory_format=torch.channels_last)
    dtype = autocast_dtype(device, None) if device.type == "cuda" else None
    with autocast(device, dtype):
        saved = saved_activation_bytes(model, x)
    opt.step()  # optimizer state (momentum buffers) counts too
    row = {"activation_checkpointing": checkpointing, "saved_for_backward_MB": saved / 2**20}
    if device.type == "cuda":
        torch.cuda.synchronize()
        row["cuda_peak_allocated_MB"] = torch.cuda.max_memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)
    del model, opt, x
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def main() -> None:
    parser = arguments(__doc__, ["resnet1202"])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    if args.quick:
        args.models, args.batch_size = ["resnet110"], 8
    args.model = args.models[0]
    device = pick_device("auto")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rows = [measure(args.model, args.batch_size, c, device) for c in (False, True)]
    for row in rows:
        row["meets_gpu_target"] = gpu_target(
            row.get("cuda_peak_allocated_MB", 0) * 2**20 < TARGET_BYTES, device)
        print(row)
    write_result("memory", {"model": args.model, "batch_size": args.batch_size,
                            "quick": args.quick, "gpu_target": "peak under 8 GB",
                            "results": rows}, args.out)


if __name__ == "__main__":
    main()
