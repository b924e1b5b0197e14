"""Multi-process training under ``torchrun``: which process am I, and sums across processes.

``torchrun --nproc_per_node=N -m reslab train ...`` sets RANK, WORLD_SIZE and LOCAL_RANK; each
process then trains on its slice of every global batch (NCCL on GPUs, gloo on CPUs) and
DistributedDataParallel averages the gradients. Each process drives its own GPU (``cuda:
LOCAL_RANK``). BN statistics are per process unless ``sync_bn`` converts the net's BN layers
to ``SyncBatchNorm``, which normalises with the statistics of the whole global batch (as one
process on one GPU would; Ioffe & Szegedy 2015 define BN over the mini-batch).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


def local_device(device: torch.device, process: Process) -> torch.device:
    """``cuda`` without an index means this process's own GPU, ``cuda:LOCAL_RANK``."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", process.local_rank)
    return device


@contextmanager
def joined(process: Process, device: torch.device) -> Iterator[None]:
    """Make ``device`` this process's current GPU and, under torchrun with several processes,
    join the process group for the duration, leaving it at the end.

    Leaving matters: a process that exits still in a gloo group may abort (SIGABRT) in
    interpreter finalisation, when gloo's worker threads release tensors they still hold
    (pytorch/pytorch#179291). A group joined before (by the caller) is left as it is.
    """
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL and the caching allocator use the current GPU
    joins = process.distributed and not dist.is_initialized()
    if joins:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        if joins:
            dist.destroy_process_group()


def sum_across(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all processes (a no-op when running alone)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def sync_batch_norm(model: torch.nn.Module, process: Process, device: torch.device,
                    enabled: bool) -> torch.nn.Module:
    """``model`` with ``SyncBatchNorm`` layers when ``enabled`` and distributed (else as is)."""
    if not (enabled and process.distributed):
        return model
    if device.type != "cuda":
        raise ValueError("sync_bn needs CUDA GPUs: torch's SyncBatchNorm does not run on "
                         f"{device.type}; leave sync_bn off for multi-process CPU training")
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def wrap(model: torch.nn.Module, process: Process, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when distributed, else ``model`` itself."""
    if not process.distributed:
        return model
    if device.type == "cuda":
        device = local_device(device, process)
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index],
                                                         output_device=device.index)
    return torch.nn.parallel.DistributedDataParallel(model)
