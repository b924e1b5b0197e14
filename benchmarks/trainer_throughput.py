"""Training images/s: reslab's trainer vs the standard torchvision loop, same run, same model.

Baseline: what the popular CIFAR reproductions do -- a torchvision-style Dataset that turns each
uint8 image into a PIL image, ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``,
``ToTensor``, ``Normalize``; a ``DataLoader`` (shuffle, ``num_workers`` tuned to the machine,
pinned memory on CUDA); fp32; ``loss.item()`` every step. The kit: the trainer's step, as
``fit`` takes it -- the dataset resident on the device, batched augmentation, channels-last,
autocast where the device has a fast 16-bit format, and on CUDA fused SGD and the whole step
replayed as one CUDA graph. The GPU target is a ratio of at least 10.

    python benchmarks/trainer_throughput.py                 # resnet20, 56, 110
    python benchmarks/trainer_throughput.py --quick         # CI-sized: resnet20, a few steps
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import (arguments, benchmark_data, gpu_target, timed,  # noqa: E402
                               write_result)
from reslab.models import build_model  # noqa: E402
from reslab.training import distributed, fastpath  # noqa: E402
from reslab.training.config import config_from  # noqa: E402
from reslab.training.device import pick_device  # noqa: E402
from reslab.training.loop import train_steps  # noqa: E402
from reslab.training.replicas import channels_last  # noqa: E402
from reslab.training.run import Run, make_loader  # noqa: E402

TARGET_RATIO = 10  # the kit's GPU target: 10x the DataLoader loop's images/s


class PILImageDataset(torch.utils.data.Dataset):
    """torchvision's CIFAR10 ``__getitem__``: a PIL image per sample, then the transforms."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        from torchvision import transforms
        self.images = images.permute(0, 2, 3, 1).numpy()  # HWC uint8, as torchvision stores it
        self.labels = labels.tolist()
        mean = self.images.reshape(-1, 3).mean(0) / 255
        std = self.images.reshape(-1, 3).std(0) / 255
        self.transform = transforms.Compose([
            transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), transforms.Normalize(mean.tolist(), std.tolist())])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def baseline_images_per_s(model_name: str, data, batch: int, steps: int, warmup: int,
                          workers: int, device: torch.device) -> float:
    torch.manual_seed(0)
    model = build_model(model_name).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(
        PILImageDataset(data.train_images, data.train_labels), batch_size=batch, shuffle=True,
        num_workers=workers, pin_memory=device.type == "cuda", drop_last=True,
        persistent_workers=workers > 0)
    batches = _forever(loader)

    def step():
        x, y = next(batches)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # the running-average meter of the standard loop

    for _ in range(warmup):
        step()
    seconds = timed(lambda: [step() for _ in range(steps)], device)
    return steps * batch / seconds


def _forever(loader):
    while True:
        yield from loader


def kit_images_per_s(model_name: str, data, batch: int, steps: int, warmup: int,
                     device: torch.device, compile: bool = False) -> float:
    """The trainer's own step, as ``fit`` takes it (the whole-step CUDA graph where it
    applies); warm-up (compilation, capture) not timed."""
    config = config_from("smoke", model=model_name, batch_size=batch, device=str(device),
                         compile=compile, train_subset=None, test_subset=None,
                         iterations=warmup + steps)
    loader = make_loader(config, data, device, distributed.Process(), channels_last(config))
    run = Run(model_name, config, data, device, None, loader=loader,
              whole_step=fastpath.when_supported)
    train_steps([run], 0, warmup, None)
    seconds = timed(lambda: train_steps([run], warmup, warmup + steps, None), device)
    return steps * batch / seconds


def tune_workers(model_name, data, batch, device, candidates) -> int:
    """The DataLoader worker count that runs the baseline fastest here."""
    speeds = {w: baseline_images_per_s(model_name, data, batch, 6, 2, w, device)
              for w in candidates}
    return max(speeds, key=speeds.get)


def main() -> None:
    parser = arguments(__doc__, ["resnet20", "resnet56", "resnet110"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats; best kept")
    parser.add_argument("--workers", type=int, help="DataLoader workers (default: tuned)")
    args = parser.parse_args()
    if args.quick:
        args.models, args.steps, args.warmup, args.repeats = ["resnet20"], 4, 1, 1
    device = pick_device("auto")
    data = benchmark_data(10_000 if not args.quick else 1_024, dataset=args.dataset)
    cpus = os.cpu_count() or 1
    candidates = sorted({0, min(2, cpus), min(4, cpus), min(8, cpus)})
    workers = args.workers if args.workers is not None else (
        min(2, cpus) if args.quick else tune_workers(args.models[0], data, args.batch_size,
                                                     device, candidates))
    rows = []
    for name in args.models:
        kit, base = [], []
        for _ in range(args.repeats):
            base.append(baseline_images_per_s(name, data, args.batch_size, args.steps,
                                              args.warmup, workers, device))
            kit.append(kit_images_per_s(name, data, args.batch_size, args.steps, args.warmup,
                                        device, args.compile))
        ratio = max(kit) / max(base)
        rows.append({"model": name, "batch_size": args.batch_size,
                     "kit_images_per_s": max(kit), "baseline_images_per_s": max(base),
                     "ratio": ratio, "gpu_target_ratio": TARGET_RATIO,
                     "meets_gpu_target": gpu_target(ratio >= TARGET_RATIO, device)})
        print(f"{name}: kit {max(kit):,.0f} img/s, baseline {max(base):,.0f} img/s, "
              f"ratio {max(kit) / max(base):.2f}x")
    write_result("trainer_throughput", {
        "dataset": data.name, "steps": args.steps, "warmup": args.warmup,
        "repeats": args.repeats, "baseline_workers": workers, "compile": args.compile,
        "quick": args.quick, "results": rows}, args.out)


if __name__ == "__main__":
    main()
