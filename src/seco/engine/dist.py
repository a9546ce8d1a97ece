"""torch.distributed helpers that are no-ops in a single process.

``torchrun`` sets RANK/WORLD_SIZE/LOCAL_RANK; without them everything runs in
one process on the CPU or one GPU with no process group at all.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["all_reduce_sum", "any_rank", "barrier", "cleanup", "init_distributed", "is_main", "rank",
           "resolve_device", "world_size"]


def resolve_device(device: str) -> torch.device:
    """``auto`` -> the first GPU if there is one, else the CPU; other names unchanged."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def init_distributed(device: str) -> torch.device:
    """Join the torchrun process group if launched by torchrun; return this process's device.

    On GPUs the group pairs NCCL (CUDA tensors) with gloo (CPU tensors such
    as the evaluation's confusion matrices).
    """
    device = str(resolve_device(device))
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if device.startswith("cuda"):
            torch.cuda.set_device(local_rank)
            device = f"cuda:{local_rank}"
        if not dist.is_initialized():
            dist.init_process_group(backend="cpu:gloo,cuda:nccl" if device.startswith("cuda") else "gloo")
    return torch.device(device)


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over processes in place (no-op in one process)."""
    if dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` holds on any process (so all agree, e.g. to stop at one iteration)."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor([int(flag)])  # a CPU tensor: gloo carries it beside NCCL
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
