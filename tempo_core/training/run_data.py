"""The data of a training run, built from its flags: training windows, batches, loader, validation.

Batches come from :class:`WindowBatchSampler` (one N per batch, reproducible from the seed, the
epoch and the batch index: see :mod:`tempo_core.training.datasets`); each process draws its own share of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader

from tempo_core.training.datasets import SeptupletValDataset, WindowBatchSampler, WindowDataset, build_train_dataset
from tempo_core.training.processes import Processes
from tempo_core.training.run_config import DataSection


def auto_workers(world_size: int) -> int:
    """``--num_workers -1``: none on two cores or fewer, else up to 4 per process."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(4, cores // max(1, world_size) - 1)


def build_train_data(
    data: DataSection, batch_size: int, seed: int, procs: Processes, log: Callable[[str], None]
) -> tuple[WindowDataset, WindowBatchSampler, DataLoader]:
    """The training set (rank 0 fills the frame cache first), its batch sampler and the loader.

    Batches of ``batch_size`` windows per process, drawn reproducibly from ``seed``.
    """
    dataset = procs.main_first(
        lambda: build_train_dataset(
            data.data_root,
            data.layout,
            list(data.n_frames),
            data.crop,
            data.max_stride,
            data.max_side,
            data.cache_dir,
            augment=True,
            log=log,
        )
    )
    sampler = WindowBatchSampler(
        dataset,
        batch_size,
        seed,
        procs.world_size,
        procs.rank,
        data.samples_per_epoch or None,
    )
    workers = data.num_workers if data.num_workers >= 0 else auto_workers(procs.world_size)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=procs.device.type == "cuda",
        persistent_workers=workers > 0,
        generator=torch.Generator(),
    )  # keeps the global torch RNG untouched by loader seeding
    return dataset, sampler, loader


def build_val_sets(data: DataSection, is_main: bool, log: Callable[[str], None]) -> dict[int, SeptupletValDataset]:
    """The septuplet sets per N on rank 0 (N=2 picks best.pt; other N are logged); none elsewhere.

    Septuplets lacking an image an N reads are left out of that N's set, with a warning.
    """
    val_sets: dict[int, SeptupletValDataset] = {}
    if data.val_root and is_main:
        for n in data.val_n:
            val_sets[n] = val_set = SeptupletValDataset(data.val_root, n, data.val_crop, data.val_limit)
            lacking = val_set.incomplete
            if lacking:
                names = ", ".join(str(f.relative_to(data.val_root)) for f in lacking[:5])
                more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
                log(f"warning: validation N={n} leaves out {len(lacking)} incomplete septuplets: {names}{more}.")
    return val_sets
