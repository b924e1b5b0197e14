"""Batches straight from a uint8 tensor on the training device, augmented with tensor ops.

He et al. 2016, Sec. 4.2: "4 pixels are padded on each side, and a 32x32 crop is randomly
sampled from the padded image or its horizontal flip"; inputs have the per-pixel mean
subtracted. Here the whole training set lives on the device as uint8; each batch is gathered,
normalised, padded with zeros (the mean, after normalisation, as in the authors' Torch code),
and cropped and flipped with one batched gather -- no per-image Python, no host round trip.

Data order and augmentation depend only on ``(seed, epoch)``, so any step's batch can be
rebuilt after a restart: that is what makes resumed training bitwise identical.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from reslab.validate import check_choice

NORMALIZATIONS = ("pixel", "channel", "none")


def normalisation_stats(images: torch.Tensor, mode: str = "pixel") -> tuple[torch.Tensor,
                                                                           torch.Tensor]:
    """Mean and std to apply to ``images / 255``: per-pixel mean (the paper's), per-channel
    mean and std, or none."""
    check_choice("normalize", mode, NORMALIZATIONS)
    c = images.shape[1]
    if mode == "none":
        return torch.zeros(c, 1, 1), torch.ones(c, 1, 1)
    mean = torch.zeros(images.shape[1:], dtype=torch.float64)
    sq = torch.zeros(c, dtype=torch.float64)
    for chunk in images.split(4096):  # float64 sums over uint8 chunks, little memory
        x = chunk.double() / 255
        mean += x.sum(0)
        sq += (x * x).sum((0, 2, 3))
    mean /= len(images)
    if mode == "pixel":
        return mean.float(), torch.ones(c, 1, 1)
    channel_mean = mean.mean((1, 2))
    std = (sq / (len(images) * images.shape[2] * images.shape[3]) - channel_mean ** 2).sqrt()
    return channel_mean.float().view(c, 1, 1), std.float().view(c, 1, 1)


def crop_flip(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, flip: torch.Tensor,
              pad: int) -> torch.Tensor:
    """Zero-pad by ``pad``, take the crop at offsets (``dx``, ``dy``), mirror where ``flip``.

    One advanced-indexing gather for the whole batch; returns (B, C, H, W) laid out
    channels-last in memory (what the GPU convolutions want).
    """
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)        # (B, H+2p, W+2p, C)
    rows = dy[:, None] + torch.arange(h, device=x.device)              # (B, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)              # (B, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


class DeviceLoader:
    """Training batches by step number, and evaluation batches, from device-resident uint8.

    Args:
        images, labels: uint8 (N, C, H, W) and int64 (N,), moved to ``device`` once.
        batch_size: images per step (the last partial batch of an epoch is dropped, so every
            step has the same shape).
        augment: pad-``pad`` random crop and random horizontal flip.
        mean, std: from :func:`normalisation_stats` of the *training* images.
        seed: data order and augmentation are functions of ``(seed, epoch)`` only.
        shard: ``(rank, world_size)``: this process takes its slice of each global batch.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 device: torch.device | str, mean: torch.Tensor, std: torch.Tensor,
                 augment: bool = True, pad: int = 4, seed: int = 0,
                 shard: tuple[int, int] = (0, 1), channels_last: bool = False) -> None:
        if batch_size < 1 or batch_size > len(images):
            raise ValueError(f"batch_size must be between 1 and the {len(images):,} training "
                             f"images (got {batch_size})")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.mean, self.std = mean.to(self.device), std.to(self.device)
        self.batch_size, self.augment, self.pad, self.seed = batch_size, augment, pad, seed
        self.rank, self.world = shard
        self.channels_last = channels_last
        self.steps_per_epoch = len(images) // batch_size
        self._epoch, self._plan = None, None

    def epoch_plan(self, epoch: int) -> dict[str, torch.Tensor]:
        """The epoch's permutation and crop/flip draws, from a generator seeded by the epoch
        (on the device; made once per epoch and kept)."""
        if self._epoch != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            n = len(self.images)
            plan = {"order": torch.randperm(n, generator=g),
                    "dx": torch.randint(0, 2 * self.pad + 1, (n,), generator=g),
                    "dy": torch.randint(0, 2 * self.pad + 1, (n,), generator=g),
                    "flip": torch.rand(n, generator=g) < 0.5}
            self._plan = {k: v.to(self.device, non_blocking=True) for k, v in plan.items()}
            self._epoch = epoch
        return self._plan

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float, ``(x / 255 - mean) / std``, in the loader's memory layout."""
        return self.layout((images.float().div_(255) - self.mean) / self.std)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the loader's memory format (channels-last or contiguous)."""
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return x.contiguous(memory_format=fmt)

    def gather(self, plan: dict[str, torch.Tensor],
               positions: slice | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalised, augmented batch at ``positions`` of an epoch's ``plan``.

        ``positions`` may be a slice (eager steps) or a device tensor of indices: the
        whole-step CUDA graph (:mod:`reslab.training.fastpath`) indexes with a tensor, because a host
        slice would be frozen into the captured graph.
        """
        idx = plan["order"][positions]
        x = (self.images[idx].float().div_(255) - self.mean) / self.std
        if self.augment:
            x = crop_flip(x, plan["dx"][positions], plan["dy"][positions],
                          plan["flip"][positions], self.pad)
        return self.layout(x), self.labels[idx]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (augmented, normalised) training batch of global step ``step``."""
        epoch, i = divmod(step, self.steps_per_epoch)
        part = self.batch_size // self.world
        start = i * self.batch_size + self.rank * part
        sl = slice(start, start + (part if self.rank < self.world - 1
                                   else self.batch_size - self.rank * part))
        return self.gather(self.epoch_plan(epoch), sl)

    def batches(self, start_step: int, num_steps: int) -> Iterator[tuple[torch.Tensor,
                                                                        torch.Tensor]]:
        for step in range(start_step, start_step + num_steps):
            yield self.batch(step)


def eval_batches(images: torch.Tensor, labels: torch.Tensor, loader: DeviceLoader,
                 batch_size: int = 1000) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Unaugmented evaluation batches (all images, last batch partial), normalised like
    ``loader``'s training batches. ``images`` should already be on ``loader.device``."""
    for start in range(0, len(images), batch_size):
        yield (loader.normalise(images[start:start + batch_size]),
               labels[start:start + batch_size])
