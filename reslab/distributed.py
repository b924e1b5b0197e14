"""Multi-process training under ``torchrun``: which process am I, and sums across processes.

``torchrun --nproc_per_node=N -m reslab train ...`` sets RANK, WORLD_SIZE and LOCAL_RANK; each
process then trains on its slice of every global batch (NCCL on GPUs, gloo on CPUs) and
DistributedDataParallel averages the gradients.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Process:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def current_process() -> Process:
    """This process's place in a ``torchrun`` job (rank 0 of 1 when run alone)."""
    return Process(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))


def init(process: Process, device: torch.device) -> None:
    """Join the process group (once) when running under torchrun with several processes."""
    if process.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def sum_across(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all processes (a no-op when running alone)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def wrap(model: torch.nn.Module, process: Process, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when distributed, else ``model`` itself."""
    if not process.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
