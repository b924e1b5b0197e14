"""Which device a run uses, how it is named in a history, and its random-number state."""
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



def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The random-number state a run keeps (in its checkpoints, and around a CUDA graph's
    warm-up): the CPU generator's, and the device's generator's on CUDA (dropout-like draws,
    e.g. stochastic depth, happen there)."""
    rng = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def set_rng_state(rng: dict[str, torch.Tensor], device: torch.device) -> None:
    """Restore :func:`rng_state` (RNG states must be CPU ByteTensors, wherever
    ``map_location`` put the checkpoint)."""
    torch.set_rng_state(rng["torch"].cpu())
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"].cpu(), device)
