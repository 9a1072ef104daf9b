"""The data of a training run, built from its flags: training windows, batches, loader, validation.

Batches come from :class:`WindowBatchSampler` (one N per batch, reproducible from the seed, the
epoch and the batch index: see :mod:`tempo_core.training.datasets`); each process draws its own share of them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from tempo_core.errors import InputError
from tempo_core.training.command import _int_list
from tempo_core.training.datasets import SeptupletValDataset, WindowBatchSampler, WindowDataset, build_train_dataset
from tempo_core.training.processes import Processes


def auto_workers(world_size: int) -> int:
    """``--num_workers -1``: none on two cores or fewer, else up to 4 per process."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(4, cores // max(1, world_size) - 1)


def build_train_data(
    args: argparse.Namespace, procs: Processes, log: Callable[[str], None]
) -> tuple[WindowDataset, WindowBatchSampler, DataLoader]:
    """The training set (rank 0 fills the frame cache first), its batch sampler and the loader."""
    if not args.data_root:
        raise InputError("--data_root is required (a videos/frames folder or a Vimeo-90K root).")
    if args.crop % 32:
        raise InputError(f"--crop must be a multiple of 32 (got {args.crop}).")
    cache_dir = Path(args.cache_dir) if args.cache_dir else Path(args.runs_dir) / "cache"
    dataset = procs.main_first(
        lambda: build_train_dataset(
            Path(args.data_root),
            args.layout,
            _int_list(args.n_frames),
            args.crop,
            args.max_stride,
            args.max_side,
            cache_dir,
            augment=True,
            log=log,
        )
    )
    sampler = WindowBatchSampler(
        dataset,
        args.batch_size,
        args.seed,
        procs.world_size,
        procs.rank,
        args.samples_per_epoch or None,
    )
    workers = args.num_workers if args.num_workers >= 0 else auto_workers(procs.world_size)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=procs.device.type == "cuda",
        persistent_workers=workers > 0,
        generator=torch.Generator(),
    )  # keeps the global torch RNG untouched by loader seeding
    return dataset, sampler, loader


def build_val_sets(args: argparse.Namespace, is_main: bool) -> dict[int, SeptupletValDataset]:
    """The septuplet sets per N on rank 0 (N=2 picks best.pt; other N are logged); none elsewhere."""
    val_sets: dict[int, SeptupletValDataset] = {}
    if args.val_root and is_main:
        for n in sorted(set(_int_list(args.val_n)) | {2}):
            val_sets[n] = SeptupletValDataset(Path(args.val_root), n, args.val_crop, args.val_limit)
    return val_sets
