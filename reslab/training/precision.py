"""Which number format a training step computes in, chosen by what the device does natively.

Autocast keeps weights, optimiser state and BN statistics in fp32 and runs the convolutions in
a 16-bit format where the hardware has fast arithmetic for it:

* bf16 on CUDA GPUs of compute capability 8.0 or newer (A100, H100, RTX 30xx+) and on CPUs
  whose oneDNN reports bf16 support (AVX512-BF16 or AMX; its speed against fp32 is measured
  by ``benchmarks/cpu_step.py``, in ``benchmarks/results/cpu_step-cpu.json``).
* fp16 with a gradient scaler on CUDA GPUs of compute capability 7.x (V100, T4, RTX 20xx):
  they have fp16 tensor cores (NVIDIA quotes 125 and 65 TFLOPS against 15.7 and 8.1 in fp32)
  but neither bf16 nor TF32. fp16's narrow range needs the loss scaled so that small
  gradients do not flush to zero (Micikevicius et al. 2018, "Mixed Precision Training").
* fp32 everywhere else: older GPUs, Apple's MPS, CPUs without bf16.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

FORMATS = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (not by emulation)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def fp16_tensor_cores(device: torch.device) -> bool:
    """Whether ``device`` is a CUDA GPU with fp16 tensor cores (compute capability >= 7.0)."""
    return device.type == "cuda" and torch.cuda.get_device_capability(device) >= (7, 0)


def autocast_dtype(device: torch.device, amp: bool | str | None) -> torch.dtype | None:
    """The autocast dtype of a run (``None``: fp32).

    ``amp=None`` chooses by device (see the module notes); ``True`` asks for the device's
    16-bit format (bf16, or fp16 on a CUDA GPU without bf16); "bf16" or "fp16" name one;
    ``False`` is fp32.
    """
    if isinstance(amp, str):
        if amp not in FORMATS:
            raise ValueError(f"amp must be True, False, None, 'bf16' or 'fp16' (got {amp!r})")
        return FORMATS[amp]
    if amp is None:
        amp = native_bf16(device) or fp16_tensor_cores(device)
    if not amp:
        return None
    return torch.float16 if device.type == "cuda" and not native_bf16(device) else torch.bfloat16


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A gradient scaler for fp16 on CUDA (bf16 and fp32 keep fp32's range and need none)."""
    if dtype is torch.float16 and device.type == "cuda":
        return torch.amp.GradScaler("cuda")
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """A context that runs the forward pass in ``dtype`` (``None``: in fp32).

    The cast-weight cache is off: a residual net uses each weight once per pass, and a cache
    must not outlive a CUDA-graph capture (PyTorch's CUDA-graphs notes).
    """
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype, cache_enabled=False)
