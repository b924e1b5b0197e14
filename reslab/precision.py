"""Which number format a training step computes in, chosen by what the device does natively.

bf16 autocast (weights, optimiser and BN statistics stay fp32) where the hardware has bf16
arithmetic: CUDA GPUs of compute capability 8.0 or newer (A100, H100, RTX 30xx+) and CPUs whose
oneDNN reports bf16 support (AVX512-BF16 or AMX; about 2x faster than fp32 on the project's
2-core machine, see ``benchmarks/cpu_step.py``). Everywhere else fp32: older GPUs (T4, V100) and
Apple's MPS, where bf16 is emulated or unsupported.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (not by emulation)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def autocast_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    """The autocast dtype for a run: ``amp=None`` chooses by device, ``True`` forces bf16."""
    if amp is None:
        amp = native_bf16(device)
    return torch.bfloat16 if amp else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """A context that runs the forward pass in ``dtype`` (``None``: in fp32)."""
    return torch.autocast(device.type, dtype) if dtype is not None else nullcontext()
