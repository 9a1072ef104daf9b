"""The processes of a training run: rank, world size, device, and the collective steps between them.

A run is one process (``world_size == 1``, no process group) or several started by torchrun with
``--distributed`` (DDP; NCCL on CUDA, gloo elsewhere). Every collective here is a no-op for one
process, so the trainer calls them unconditionally. Rank 0 is the main process: it alone logs,
validates and writes the run folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from tempo_core.cpu_memory import keep_freed_memory
from tempo_core.errors import InputError
from tempo_core.inference import resolve_device
from tempo_core.inference.device import parse_device

T = TypeVar("T")
CLOSE_WAIT = 60  # seconds a rank waits for the others before it leaves the process group


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``--device``: ``auto`` takes this process's GPU, else Apple's MPS, else the CPU.

    A bare ``cuda`` also means this process's GPU (``cuda:<local_rank>``): ``set_device`` and DDP
    need an index.
    """
    device = resolve_device(None) if name == "auto" else parse_device(name)
    if device.type == "cpu":
        keep_freed_memory()  # the training steps' tensors reuse freed memory (tempo_core/cpu_memory.py)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank)
    return device


@dataclass(frozen=True)
class Processes:
    """Where this process stands in the run (``rank`` of ``world_size``) and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def main_first(self, build: Callable[[], T]) -> T:
        """Rank 0 builds first (fills the frame cache), then the others read the cache."""
        if self.distributed and not self.is_main:
            dist.barrier()
        result = build()
        if self.distributed and self.is_main:
            dist.barrier()
        return result

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def max_over_ranks(self, value: float) -> float:
        """The largest ``value`` of all ranks (``value`` itself for one process)."""
        return self._all_reduce(value, "max")

    def min_over_ranks(self, value: float) -> float:
        """The smallest ``value`` of all ranks (``value`` itself for one process)."""
        return self._all_reduce(value, "min")

    def _all_reduce(self, value: float, op: str) -> float:
        if not self.distributed:
            return value
        tensor = torch.tensor([float(value)], device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.MIN)
        return tensor.item()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` under DDP when there are several processes, else ``model`` itself."""
        if not self.distributed:
            return model
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def close(self) -> None:
        """Leave the process group. With gloo every rank first waits for the others (at most
        ``CLOSE_WAIT`` s: a rank that failed does not come): a rank that tore its connections
        down while another still used them aborted at exit ("terminate called without an active
        exception", seen once in CI)."""
        if self.distributed and dist.is_initialized():
            if dist.get_backend() == "gloo":
                try:
                    dist.monitored_barrier(timeout=timedelta(seconds=CLOSE_WAIT))
                except RuntimeError:  # another rank failed or left: nothing to wait for
                    pass
            dist.destroy_process_group()


def setup_processes(distributed: bool, device_name: str) -> Processes:
    """Read torchrun's environment (``--distributed``), pick the device, join the process group."""
    rank, world_size, local_rank = 0, 1, 0
    if distributed:
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            raise InputError(
                "--distributed needs to be started by torchrun "
                "(e.g. torchrun --nproc_per_node=4 -m tempo_core train ...)."
            )
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = pick_device(device_name, local_rank)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device_name} asks for a CUDA GPU, but PyTorch sees none here; use --device cpu.")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Processes(rank, world_size, device)
