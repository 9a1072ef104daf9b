"""Local correlation pyramid between the target query and each observation.

For a query map ``q`` and an observation's feature map ``f`` (same scale), level ``l`` average-
pools both by ``2**l`` and correlates every query pixel with the ``(2r+1)**2`` neighbours of the
same place in ``f``, so level ``l`` reaches ``r * 2**l`` feature pixels. The volumes are upsampled
back to the query resolution and stacked: motion guidance without an explicit flow field.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

TILE = 8  # query pixels a side per block of tiled_correlation


def local_correlation(query: torch.Tensor, key: torch.Tensor, radius: int) -> torch.Tensor:
    """Dot products of each query pixel with the keys in a ``(2r+1)**2`` window.

    Three ways give the same numbers up to rounding. Without gradients (inference), in blocks of
    query pixels as one batched matrix product (:func:`tiled_correlation`): ten operations for any
    radius and little extra memory. With gradients, on a GPU it unfolds the keys
    (:func:`unfolded_correlation`: few kernel launches, a fast backward), on a CPU it loops over
    the displacements (:func:`local_correlation_reference`: 1.1-5x faster there with gradients,
    ``python benchmarks/cpu_primitives.py``).

    Args:
        query: ``[M, C, H, W]``.
        key: ``[M, C, H, W]``.
        radius: window radius r (in pixels of these maps).

    Returns:
        ``[M, (2r+1)**2, H, W]``, scaled by ``1/sqrt(C)``; displacements in row-major
        ``(dy, dx)`` order from ``(-r, -r)`` to ``(r, r)``. Outside the image keys are zero.
    """
    needs_grad = torch.is_grad_enabled() and (query.requires_grad or key.requires_grad)
    if not needs_grad:
        return tiled_correlation(query, key, radius)
    if key.device.type == "cpu":
        return local_correlation_reference(query, key, radius)
    return unfolded_correlation(query, key, radius)


@functools.lru_cache(maxsize=16)
def _band_index(tile: int, radius: int, device: torch.device) -> torch.Tensor:
    """``[tile**2, (2r+1)**2]``: for each query pixel of a block (row-major), the positions of its
    window's keys among the block's ``(tile + 2r)**2`` padded keys (row-major). Shared."""
    with torch.inference_mode(False):
        side, steps = tile + 2 * radius, torch.arange(2 * radius + 1, device=device)
        pixels = torch.arange(tile, device=device)
        rows = (pixels[:, None, None, None] + steps[None, None, :, None]) * side  # (y, 1, dy, 1)
        columns = pixels[None, :, None, None] + steps[None, None, None, :]  # (1, x, 1, dx)
        return (rows + columns).reshape(tile * tile, -1)


def tiled_correlation(query: torch.Tensor, key: torch.Tensor, radius: int, tile: int = TILE) -> torch.Tensor:
    """Blocks of ``tile x tile`` query pixels against the ``(tile + 2r)**2`` keys around them, one
    batched matrix product, then each pixel's ``(2r+1)**2`` window picked out; same contract as
    :func:`local_correlation` (its path without gradients).

    The product computes ``((tile + 2r) / (2r + 1))**2`` times the needed dot products (about 4x
    for r = 3), but as one dense matrix product that costs about what the loop over displacements
    does on a CPU, and it is nine operations instead of two per displacement. The key blocks are
    strided views of the padded keys (copied once, rows of ``tile + 2r`` values at a time), the
    product comes out displacement-major, so the last copy moves rows of ``tile`` values, and the
    ``1/sqrt(C)`` scale is applied in that copy: each copy reads memory in runs, not one value per
    cache line (on a CPU 1.6x faster than an ``unfold`` and element-wise transposes).
    """
    M, C, H, W = query.shape
    window, side = 2 * radius + 1, tile + 2 * radius
    rows, columns = -(-H // tile), -(-W // tile)
    pad_h, pad_w = rows * tile - H, columns * tile - W
    blocks = M * rows * columns
    q = F.pad(query, (0, pad_w, 0, pad_h)).view(M, C, rows, tile, columns, tile)
    q = q.permute(0, 2, 4, 1, 3, 5).reshape(blocks, C, tile * tile)
    k = F.pad(key, (radius, radius + pad_w, radius, radius + pad_h)).unfold(2, side, tile).unfold(3, side, tile)
    k = k.permute(0, 2, 3, 1, 4, 5).reshape(blocks, C, side * side)  # (M, rows, columns, C, side, side)
    products = torch.bmm(k.transpose(1, 2), q)  # (blocks, side^2, tile^2)
    index = _band_index(tile, radius, query.device).t()  # (window^2, tile^2)
    corr = products.gather(1, index.expand(blocks, -1, -1)).view(M, rows, columns, window * window, tile, tile)
    out = query.new_empty(M, window * window, rows * tile, columns * tile)
    grid_view = out.view(M, window * window, rows, tile, columns, tile)
    torch.mul(corr.permute(0, 3, 1, 4, 2, 5), C**-0.5, out=grid_view)
    return out[:, :, :H, :W]


def unfolded_correlation(query: torch.Tensor, key: torch.Tensor, radius: int) -> torch.Tensor:
    """The keys unfolded into a ``(2r+1)**2``-fold copy, one batched product; same contract as
    :func:`local_correlation` (its GPU path with gradients)."""
    batch, channels, height, width = query.shape
    window = 2 * radius + 1
    neighbours = F.unfold(key, window, padding=radius).view(batch, channels, window * window, height * width)
    corr = torch.einsum("mcp,mckp->mkp", query.flatten(2), neighbours)
    return corr.view(batch, window * window, height, width) / channels**0.5


def local_correlation_reference(query: torch.Tensor, key: torch.Tensor, radius: int) -> torch.Tensor:
    """Readable loop over the ``(2r+1)**2`` displacements; same contract as :func:`local_correlation`."""
    _, channels, height, width = query.shape
    padded = F.pad(key, (radius, radius, radius, radius))
    volumes = []
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            shifted = padded[:, :, dy : dy + height, dx : dx + width]
            volumes.append((query * shifted).sum(1))
    return torch.stack(volumes, dim=1) / channels**0.5


def correlation_levels(query: torch.Tensor, key: torch.Tensor, levels: int, radius: int) -> list[torch.Tensor]:
    """Correlation volumes at ``levels`` pooling levels, each at its own (pooled) size.

    Args:
        query: ``[M, C, H, W]``.
        key: ``[M, C, H, W]``.

    Returns:
        ``levels`` volumes ``[M, (2r+1)**2, H_l, W_l]``, level ``l`` pooled by ``2**l`` (ceil), or
        to one pixel when the map is smaller than that; where ``2**l`` divides the map, pooled
        from level ``l - 1`` (the same means up to rounding, a fraction of the reads).
        :func:`correlation_pyramid` upsamples them to ``H x W`` and stacks them; the attention
        upsamples its 1 x 1 projection of each instead (the same numbers: both steps are linear),
        a third of the work.
    """
    height, width = query.shape[-2:]
    volumes = []
    q, k, pooled_by = query, key, 1
    for level in range(levels):
        factor = 2**level
        if level > 0 and min(height, width) // factor < 1:
            factor = max(1, min(height, width))
        if factor == 2 * pooled_by and height % factor == 0 and width % factor == 0:
            q, k = F.avg_pool2d(q, 2), F.avg_pool2d(k, 2)  # whole blocks: the level before, pooled again
        elif factor > 1:
            q, k = F.avg_pool2d(query, factor, ceil_mode=True), F.avg_pool2d(key, factor, ceil_mode=True)
        pooled_by = factor
        volumes.append(local_correlation(q, k, radius))
    return volumes


def correlation_pyramid(query: torch.Tensor, key: torch.Tensor, levels: int, radius: int) -> torch.Tensor:
    """Correlation volumes at ``levels`` pooling levels (:func:`correlation_levels`), upsampled to
    the query size (bilinear) and stacked: ``[M, levels * (2r+1)**2, H, W]`` for ``[M, C, H, W]``
    query and key. The readable definition of what the attention's context convolution sees (it
    projects the levels before upsampling them instead; tests/core/network/test_temporal_attention.py)."""
    height, width = query.shape[-2:]
    volumes = [
        volume if volume.shape[-2:] == (height, width) else upsample_to(volume, (height, width))
        for volume in correlation_levels(query, key, levels, radius)
    ]
    return torch.cat(volumes, dim=1)


def upsample_to(volume: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[M, K, h, w]`` to ``size`` (the pyramid's upsampling)."""
    return F.interpolate(volume, size=size, mode="bilinear", align_corners=False)


def correlation_channels(levels: int, radius: int) -> int:
    """Width of :func:`correlation_pyramid`'s output."""
    return levels * (2 * radius + 1) ** 2
