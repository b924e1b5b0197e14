"""Which device a run uses, and how it is named in a history."""
from __future__ import annotations

import platform

import torch

from reslab.training import distributed
from reslab.validate import check_device


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """"auto": this process's CUDA GPU if there is one, else Apple's GPU (MPS), else the CPU.

    ``"cuda"`` without an index is this process's GPU, ``cuda:<local_rank>`` (under torchrun
    each process drives its own).
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    device = check_device(name)  # one line if this machine has no such device
    return distributed.local_device(device, distributed.Process(local_rank=local_rank))



def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"

