"""Image filters of the motion prior: box means, the 3 x 3 neighbour mean, the median, gradients.

All map ``[B, C, h, w]`` (or ``[..., h, w]`` for the gradients) to the same shape. On a CPU the
box sums run as shifted-slice additions, on a GPU as one pooling call (:func:`sums_by_slices`).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def sums_by_slices(values: torch.Tensor) -> bool:
    """Whether box sums of ``values`` run as shifted-slice additions (:func:`block_sum`).

    Yes on a CPU, where that is 2 size additions per pixel against ``avg_pool2d``'s size squared
    (``python benchmarks/cpu_primitives.py``). No on a GPU: there each addition is a kernel
    launch, and launches, not arithmetic, set the prior's time (docs/benchmarks.md, "GPU").
    """
    return values.device.type == "cpu"


def block_sum(padded: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, C, h + size - 1, w + size - 1]`` -> ``[B, C, h, w]``: the sum of each ``size x size`` block.

    Summed as ``size`` shifted rows and then ``size`` shifted columns (see :func:`sums_by_slices`).
    """
    if size == 1:
        return padded
    h, w = padded.shape[-2] - size + 1, padded.shape[-1] - size + 1
    rows = padded[..., 0:h, :] + padded[..., 1 : 1 + h, :]
    for shift in range(2, size):
        rows += padded[..., shift : shift + h, :]
    total = rows[..., 0:w] + rows[..., 1 : 1 + w]
    for shift in range(2, size):
        total += rows[..., shift : shift + w]
    return total


@functools.lru_cache(maxsize=64)
def _inverse_block_count(length: int, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[length]`` 1 / (how many positions of a ``size``-long window centred on each position lie
    within ``0 .. length - 1``). Shared: never modify it in place."""
    with torch.inference_mode(False):  # a normal tensor, usable later with autograd too
        position = torch.arange(length, device=device)
        counts = (position + size // 2).clamp(max=length - 1) - (position - size // 2).clamp(min=0) + 1
        return counts.to(dtype).reciprocal()


def box_mean(values: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, C, h, w]`` mean over each pixel's ``size x size`` block (odd size; the image only: a
    block that reaches past the border averages the pixels it covers)."""
    if not sums_by_slices(values):
        return F.avg_pool2d(values, size, stride=1, padding=size // 2, count_include_pad=False)
    h, w = values.shape[-2:]
    sums = block_sum(F.pad(values, (size // 2,) * 4), size)
    inverse_rows = _inverse_block_count(h, size, values.device, values.dtype)
    inverse_columns = _inverse_block_count(w, size, values.device, values.dtype)
    return sums * (inverse_rows[:, None] * inverse_columns)


def neighbour_mean(velocity: torch.Tensor) -> torch.Tensor:
    """``[B, 2, h, w]`` mean of each pixel's 3 x 3 neighbourhood (replicate at the border)."""
    padded = F.pad(velocity, (1, 1, 1, 1), mode="replicate")
    return block_sum(padded, 3) / 9 if sums_by_slices(velocity) else F.avg_pool2d(padded, 3, stride=1)


@torch.no_grad()
def median_filter(velocity: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, 2, h, w]`` velocity with each component replaced by its ``size x size`` median.

    Removes isolated wrong vectors and keeps motion edges sharp (Sun, Roth and Black, "Secrets
    of optical flow estimation", 2010).
    """
    B, C, h, w = velocity.shape
    padded = F.pad(velocity, (size // 2,) * 4, mode="replicate")
    patches = padded.unfold(2, size, 1).unfold(3, size, 1)  # (B, C, h, w, size, size)
    return patches.reshape(B, C, h, w, size * size).median(dim=-1).values


def image_gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences (x, y) of ``[..., h, w]`` images, replicate at the border."""
    flat = images.flatten(0, -3).unsqueeze(1)
    padded_x = F.pad(flat, (1, 1, 0, 0), mode="replicate")
    padded_y = F.pad(flat, (0, 0, 1, 1), mode="replicate")
    grad_x = (padded_x[..., 2:] - padded_x[..., :-2]) / 2
    grad_y = (padded_y[..., 2:, :] - padded_y[..., :-2, :]) / 2
    return grad_x.view(images.shape), grad_y.view(images.shape)
