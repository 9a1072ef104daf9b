"""Sampling grids and warps: pixel coordinates, ``grid_sample`` units, backward warps, flow resizing.

The motion prior, the deformable attention and the pixel synthesis all sample images at pixel
offsets. The constants they need (pixel-centre grids, the pixel-to-grid scale) are made once per
size, device and dtype and shared: building a small tensor from Python numbers on a GPU is a
blocking host-to-device copy, and a warp is then one operation before its sampling.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from tempo_core.network.layers import as_dtype


def _pixel_centres(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Pixel-centre coordinates ``[2, H, W]`` (x, y), made anew."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack([xs, ys])


@functools.lru_cache(maxsize=16)
def base_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Pixel-centre coordinates ``[2, H, W]`` (x, y).

    Cached per size, device and dtype (attention samples at every scale of every frame): the
    tensor is shared, so never modify it in place.
    """
    with torch.inference_mode(False):  # a normal tensor, usable later with autograd too
        return _pixel_centres(height, width, device, dtype)


@functools.lru_cache(maxsize=64)
def xy_constant(x: float, y: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The pair ``[x, y]`` as a tensor on ``device``, made once and shared (never modify it).

    Building a small tensor from Python numbers on a GPU is a blocking host-to-device copy, which
    waits for all queued kernels; in the prior's inner loops that would stall the GPU hundreds of
    times per frame.
    """
    with torch.inference_mode(False):  # a normal tensor, usable later with autograd too
        return torch.tensor([x, y], device=device, dtype=dtype)


def pixels_to_grid(coords: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel coordinates ``[..., 2]`` (x, y) -> ``grid_sample`` units (align_corners=False)."""
    return (coords + 0.5) * xy_constant(2.0 / width, 2.0 / height, coords.device, coords.dtype) - 1.0


@functools.lru_cache(maxsize=16)
def identity_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``grid_sample`` coordinates ``[H, W, 2]`` of the pixel centres (a warp by zero offsets).

    Cached like :func:`base_grid`, so that :func:`warp` (hundreds per frame in the motion prior) is
    one operation before its sampling. A 4K frame's grids at all its scales hold about 90 MB.
    """
    with torch.inference_mode(False):  # contiguous: a sum with it comes out in grid_sample's layout
        centres = _pixel_centres(height, width, device, dtype).permute(1, 2, 0).contiguous()
        return pixels_to_grid(centres, height, width)


def warp(images: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Backward warp: ``out[p] = images[p + offsets[p]]`` (bilinear, border padding).

    Args:
        images: ``[M, C, H, W]``.
        offsets: ``[M, 2, H, W]`` (x, y) in pixels.
    """
    _, _, height, width = images.shape
    device, dtype = images.device, offsets.dtype
    scale = xy_constant(2.0 / width, 2.0 / height, device, dtype)  # pixels -> grid units
    grid = torch.addcmul(identity_grid(height, width, device, dtype), offsets.permute(0, 2, 3, 1), scale)
    return F.grid_sample(
        images, as_dtype(grid, images.dtype), mode="bilinear", padding_mode="border", align_corners=False
    )


def upsample_velocity(velocity: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[B, 2, h, w]`` velocity to ``size`` with its units rescaled."""
    height, width = velocity.shape[-2:]
    scale = xy_constant(size[1] / width, size[0] / height, velocity.device, velocity.dtype)
    resized = F.interpolate(velocity, size=size, mode="bilinear", align_corners=False)
    return resized * scale.view(1, 2, 1, 1)
