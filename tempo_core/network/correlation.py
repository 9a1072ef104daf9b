"""Local correlation pyramid between the target query and each observation.

For a query map ``q`` and an observation's feature map ``f`` (same scale), level ``l`` average-
pools both by ``2**l`` and correlates every query pixel with the ``(2r+1)**2`` neighbours of the
same place in ``f``, so level ``l`` reaches ``r * 2**l`` feature pixels. The volumes are upsampled
back to the query resolution and stacked: motion guidance without an explicit flow field.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

UNFOLD_BUDGET_BYTES = 256 * 2**20


def displacement_loop_pays(key: torch.Tensor, radius: int, needs_grad: bool) -> bool:
    """Whether to loop over displacements rather than unfold the keys: always on a CPU (there
    1.1-5x faster with gradients and 7-16x without, at the model's shapes: ``python
    benchmarks/cpu_primitives.py``), and on a GPU for inference when the unfolded copy would
    exceed ``UNFOLD_BUDGET_BYTES``."""
    if key.device.type == "cpu":
        return True
    return not needs_grad and key.numel() * key.element_size() * (2 * radius + 1) ** 2 > UNFOLD_BUDGET_BYTES


def local_correlation(query: torch.Tensor, key: torch.Tensor, radius: int) -> torch.Tensor:
    """Dot products of each query pixel with the keys in a ``(2r+1)**2`` window.

    On a GPU it unfolds the keys: one batched product, few kernel launches, a fast backward. On a
    CPU, and for inference on a GPU when that ``(2r+1)**2``-fold copy of the keys would be too
    large, it loops over displacements (:func:`local_correlation_reference`), which needs no extra
    memory (:func:`displacement_loop_pays`). Both give the same numbers up to rounding.

    Args:
        query: ``[M, C, H, W]``.
        key: ``[M, C, H, W]``.
        radius: window radius r (in pixels of these maps).

    Returns:
        ``[M, (2r+1)**2, H, W]``, scaled by ``1/sqrt(C)``; displacements in row-major
        ``(dy, dx)`` order from ``(-r, -r)`` to ``(r, r)``. Outside the image keys are zero.
    """
    needs_grad = torch.is_grad_enabled() and (query.requires_grad or key.requires_grad)
    if displacement_loop_pays(key, radius, needs_grad):
        return local_correlation_reference(query, key, radius)
    return unfolded_correlation(query, key, radius)


def unfolded_correlation(query: torch.Tensor, key: torch.Tensor, radius: int) -> torch.Tensor:
    """The keys unfolded into a ``(2r+1)**2``-fold copy, one batched product; same contract as
    :func:`local_correlation` (its GPU path)."""
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


def correlation_pyramid(query: torch.Tensor, key: torch.Tensor, levels: int, radius: int) -> torch.Tensor:
    """Correlation volumes at ``levels`` pooling levels, upsampled to the query size.

    Args:
        query: ``[M, C, H, W]``.
        key: ``[M, C, H, W]``.

    Returns:
        ``[M, levels * (2r+1)**2, H, W]``.
    """
    height, width = query.shape[-2:]
    volumes = []
    for level in range(levels):
        factor = 2**level
        if level > 0 and min(height, width) // factor < 1:
            factor = max(1, min(height, width))
        q = F.avg_pool2d(query, factor, ceil_mode=True) if factor > 1 else query
        k = F.avg_pool2d(key, factor, ceil_mode=True) if factor > 1 else key
        corr = local_correlation(q, k, radius)
        if factor > 1:
            corr = F.interpolate(corr, size=(height, width), mode="bilinear", align_corners=False)
        volumes.append(corr)
    return torch.cat(volumes, dim=1)


def correlation_channels(levels: int, radius: int) -> int:
    """Width of :func:`correlation_pyramid`'s output."""
    return levels * (2 * radius + 1) ** 2
