"""``shapes10``: the embedded dataset, generated in seconds, for when no real one can be had.

Ten classes of shapes (disk, ring, square, frame, plus, triangle, stripes, checker, pair of
dots, bar), each drawn at a random position, size and rotation, in a random colour on a random
colour-gradient background with pixel noise. Colour and position carry no class information,
so a linear classifier on pixels does poorly (about chance plus a little), while a small
convolutional net learns the shapes. Deterministic for a given seed.
"""
from __future__ import annotations

import math

import torch

SHAPES10_CLASSES = ["disk", "ring", "square", "frame", "plus", "triangle", "stripes",
                    "checker", "dots", "bar"]


def _mask(cls: int, u: torch.Tensor, v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Boolean mask (n, H, W) of shape class ``cls`` in each image's rotated coordinates."""
    w = torch.clamp(r / 4, min=1.2)
    if cls in (0, 1, 6, 7):
        d = torch.sqrt(u * u + v * v)
    if cls in (6, 7):
        freq = math.pi / torch.clamp(r / 3, min=1.5)
    if cls == 0:                                                        # disk
        return d < r
    if cls == 1:                                                        # ring
        return (d - r * 0.8).abs() < w
    if cls in (2, 3):
        box = torch.maximum(u.abs(), v.abs())
        return box < r * 0.85 if cls == 2 else (box - r * 0.8).abs() < w   # square, frame
    if cls == 4:                                                        # plus
        return ((u.abs() < w) & (v.abs() < r)) | ((v.abs() < w) & (u.abs() < r))
    if cls == 5:                                                        # triangle
        return (v < r * 0.6) & (u.abs() < (r * 0.6 - v) * 0.6) & (v > -r)
    if cls == 6:                                                        # stripes
        return (d < r) & (torch.sin(u * freq) > 0)
    if cls == 7:                                                        # checker
        return (d < r) & (torch.sin(u * freq) * torch.sin(v * freq) > 0)
    if cls == 8:                                                        # dots
        dots = r * 0.4
        return (((u - r * 0.55) ** 2 + v * v) < dots ** 2) | (((u + r * 0.55) ** 2 + v * v) <
                                                              dots ** 2)
    return (u.abs() < r) & (v.abs() < w)                                # bar


def make_shapes10(num_images: int, seed: int = 0, size: int = 32,
                  chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_images`` uint8 images (N, 3, size, size) and int64 labels, balanced over classes."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_images) % 10
    labels = labels[torch.randperm(num_images, generator=g)]
    images = torch.empty(num_images, 3, size, size, dtype=torch.uint8)
    for start in range(0, num_images, chunk):
        sl = slice(start, min(start + chunk, num_images))
        images[sl] = _draw(labels[sl], g, size)
    return images, labels


def _draw(label: torch.Tensor, g: torch.Generator, size: int) -> torch.Tensor:
    n = len(label)

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    r = (5 + 6 * rand(n)).view(n, 1, 1)
    cx = (r.view(n) + (size - 2 * r.view(n)) * rand(n)).view(n, 1, 1)
    cy = (r.view(n) + (size - 2 * r.view(n)) * rand(n)).view(n, 1, 1)
    theta = (2 * math.pi * rand(n)).view(n, 1, 1)
    dx, dy = xs - cx, ys - cy
    u = dx * torch.cos(theta) + dy * torch.sin(theta)
    v = -dx * torch.sin(theta) + dy * torch.cos(theta)
    mask = torch.zeros(n, 1, size, size)
    for cls in range(10):
        sel = label == cls
        mask[sel, 0] = _mask(cls, u[sel], v[sel], r[sel]).float()

    background = rand(n, 3, 1, 1)
    gradient = (rand(n, 3, 1, 1) - 0.5) * 0.6
    direction = 2 * math.pi * rand(n, 1, 1, 1)
    ramp = (torch.cos(direction) * xs + torch.sin(direction) * ys) / size
    bg = background + gradient * ramp
    shift = rand(n, 3, 1, 1) - 0.5
    fg = background + 0.35 * torch.sign(shift) + 0.3 * shift       # contrast of at least ~0.35
    image = bg * (1 - mask) + fg * mask + 0.06 * torch.randn(n, 3, size, size, generator=g)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)
