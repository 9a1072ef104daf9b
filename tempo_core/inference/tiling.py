"""Overlapping tiles for frames too large to synthesize at once.

Tiles are aligned to the network's multiple, overlap by ``overlap`` pixels, and are blended with
weights that ramp linearly across the overlap, so seams do not show.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Start offsets covering ``[0, length)`` with tiles of ``tile`` (length and tile multiples of ``multiple``)."""
    if length <= tile:
        return [0]
    stride = max(multiple, (tile - overlap) // multiple * multiple)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def ramp_1d(size: int, overlap: int, first: bool, last: bool, device: torch.device) -> torch.Tensor:
    """Blend weights ``[size]``: rising over ``overlap`` at a shared start, falling at a shared end."""
    weights = torch.ones(size, device=device)
    ramp = torch.linspace(1.0 / (overlap + 1), 1.0, overlap, device=device) if overlap > 0 else None
    if ramp is not None and not first:
        weights[:overlap] = torch.minimum(weights[:overlap], ramp)
    if ramp is not None and not last:
        weights[-overlap:] = torch.minimum(weights[-overlap:], ramp.flip(0))
    return weights


def tile_windows(
    height: int, width: int, tile: int, overlap: int, multiple: int, device: torch.device
) -> Iterator[tuple[tuple[slice, slice], torch.Tensor]]:
    """Yield ``((rows, cols), ramp [1, 1, h, w])`` for every tile of a ``height x width`` frame."""
    tile = max(multiple, tile // multiple * multiple)
    overlap = min(overlap, tile // 2)
    rows, cols = (
        tile_starts(height, tile, overlap, multiple),
        tile_starts(width, tile, overlap, multiple),
    )
    for i, top in enumerate(rows):
        tile_h = min(tile, height)
        ramp_y = ramp_1d(tile_h, overlap, i == 0, i == len(rows) - 1, device)
        for j, left in enumerate(cols):
            tile_w = min(tile, width)
            ramp_x = ramp_1d(tile_w, overlap, j == 0, j == len(cols) - 1, device)
            window = (slice(top, top + tile_h), slice(left, left + tile_w))
            yield window, (ramp_y[:, None] * ramp_x[None, :])[None, None]
