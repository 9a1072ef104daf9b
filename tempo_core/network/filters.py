"""Image filters of the motion prior: box means, the 3 x 3 neighbour sum, the median, gradients.

Each is a handful of tensor operations whatever the window, because the prior runs them hundreds
of times per frame and on a GPU every operation is a kernel launch (docs/benchmarks.md, "GPU").
All map ``[B, C, h, w]`` (or ``[..., h, w]`` for the gradients) to the same spatial size.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator

import torch
import torch.nn.functional as F

SLICE_SUMS_FROM = 2**15  # pixels: smaller maps take the single-operation filters on a CPU too
_SINGLE_OPERATIONS = contextvars.ContextVar("single_operation_filters", default=False)


@contextlib.contextmanager
def single_operation_filters() -> Iterator[None]:
    """Within it, a CPU takes the single-operation filters a GPU takes (:func:`sums_by_slices` says
    no): the same numbers up to rounding, a GPU's operation count (``python benchmarks/op_count.py``).
    Per thread (a context variable), restored on leaving."""
    token = _SINGLE_OPERATIONS.set(True)
    try:
        yield
    finally:
        _SINGLE_OPERATIONS.reset(token)


def sums_by_slices(values: torch.Tensor) -> bool:
    """Whether the CPU's filters run as shifted slices: the 3 x 3 neighbour sum (:func:`replicate_sum3`),
    the gradients (:func:`gradients_and_values`) and the prior's per-pair products.

    On a CPU, for maps of ``SLICE_SUMS_FROM`` pixels and more, outside :func:`single_operation_filters`.
    There slices beat the one-channel and depthwise convolutions at every size (the gradients 12x
    at 184 x 320, the Jacobi sweeps 3x: ``python benchmarks/cpu_primitives.py``), but each slice is
    an operation: on a GPU the cost is per operation (a kernel launch), and on the small maps of a
    CPU too (under 1.5 ms a step below this size), so both keep the single convolution. 720p's 1/4
    scale (58,880 pixels) takes the slices, the 1/2 scale of a 448 x 256 frame (28,672) does not.
    """
    h, w = values.shape[-2:]
    large = h * w >= SLICE_SUMS_FROM and min(h, w) >= 2
    return values.device.type == "cpu" and large and not _SINGLE_OPERATIONS.get()


def replicate_sum3(values: torch.Tensor) -> torch.Tensor:
    """``[B, C, h, w]`` (h, w >= 2) -> each pixel's 3 x 3 neighbourhood sum, replicate at the border,
    by shifted slices of the values themselves: the interior rows as two additions, each border
    row as one (``2 x_0 + x_1``), then the same along the columns. No padded copy (a replicate
    pad costs a CPU about seven times an addition)."""
    rows = torch.empty_like(values)
    torch.add(values[..., :-2, :], values[..., 1:-1, :], out=rows[..., 1:-1, :]).add_(values[..., 2:, :])
    torch.add(values[..., 1:2, :], values[..., 0:1, :], alpha=2, out=rows[..., 0:1, :])
    torch.add(values[..., -2:-1, :], values[..., -1:, :], alpha=2, out=rows[..., -1:, :])
    sums = torch.empty_like(values)
    torch.add(rows[..., :-2], rows[..., 1:-1], out=sums[..., 1:-1]).add_(rows[..., 2:])
    torch.add(rows[..., 1:2], rows[..., 0:1], alpha=2, out=sums[..., 0:1])
    torch.add(rows[..., -2:-1], rows[..., -1:], alpha=2, out=sums[..., -1:])
    return sums


def _inverse_block_count(length: int, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[length]`` 1 / (how many positions of a ``size``-long window centred on each position lie
    within ``0 .. length - 1``)."""
    position = torch.arange(length, device=device)
    counts = (position + size // 2).clamp(max=length - 1) - (position - size // 2).clamp(min=0) + 1
    return counts.to(dtype).reciprocal()


@functools.lru_cache(maxsize=64)
def _inverse_block_area(h: int, w: int, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[h, w]`` 1 / (how many pixels of each pixel's ``size x size`` block lie within the image),
    as the product of the row and column counts' inverses. Made once per size and shared: never
    modify it in place."""
    with torch.inference_mode(False):  # a normal tensor, usable later with autograd too
        rows = _inverse_block_count(h, size, device, dtype)
        return rows[:, None] * _inverse_block_count(w, size, device, dtype)


def box_mean(values: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, C, h, w]`` mean over each pixel's ``size x size`` block (odd size; the image only: a
    block that reaches past the border averages the pixels it covers).

    Running sums: a cumulative sum down the rows, the difference of rows ``size`` apart, the same
    along the columns. Six operations and four additions per pixel for any size (a pooling call
    costs ``size**2`` per pixel, shifted slices ``2 size`` operations).
    """
    if size == 1:
        return values
    h, w = values.shape[-2:]
    half = size // 2
    padded = F.pad(values, (half + 1, half, half + 1, half))  # a leading zero row and column
    running = padded.cumsum(dim=-2)
    rows = running[..., size:, :] - running[..., :-size, :]
    running = rows.cumsum(dim=-1)
    sums = running[..., size:] - running[..., :-size]
    return sums * _inverse_block_area(h, w, size, values.device, values.dtype)


@functools.lru_cache(maxsize=16)
def _ones_kernel(channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[channels, 1, 3, 3]`` ones: the depthwise kernel of :func:`neighbour_sum` (shared)."""
    with torch.inference_mode(False):
        return torch.ones(channels, 1, 3, 3, device=device, dtype=dtype)


def neighbour_sum(values: torch.Tensor) -> torch.Tensor:
    """``[B, C, h, w]`` sum of each pixel's 3 x 3 neighbourhood, replicate at the border (so always
    nine terms: divide by 9 for the mean)."""
    if sums_by_slices(values):
        return replicate_sum3(values)
    padded = F.pad(values, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, _ones_kernel(values.shape[1], values.device, values.dtype), groups=values.shape[1])


CROSSED = [0, 1, 1, 0]  # (x, y) -> (x, y, y, x): each component beside the other's


@functools.lru_cache(maxsize=16)
def crossed_index(device: torch.device) -> torch.Tensor:
    """``CROSSED`` as an index tensor on ``device`` (made once and shared: never modify it), so that
    picking the crossed components is one ``index_select``, not a copy of the list and an index."""
    with torch.inference_mode(False):
        return torch.tensor(CROSSED, device=device)


@functools.lru_cache(maxsize=16)
def _crossed_kernel(weight: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[4, 2, 3, 3]``: ``weight`` times the 3 x 3 sums of the input channels ``CROSSED`` (shared)."""
    with torch.inference_mode(False):
        kernel = torch.zeros(4, 2, 3, 3, device=device, dtype=dtype)
        for output, source in enumerate(CROSSED):
            kernel[output, source] = weight
        return kernel


def crossed_neighbour_sums(values: torch.Tensor, weight: float) -> torch.Tensor:
    """``[B, 2, h, w]`` -> ``[B, 4, h, w]``: ``weight`` times the 3 x 3 neighbour sums of (x, y, y, x)
    (:func:`neighbour_sum`), in one convolution (the prior's Jacobi sweeps where
    :func:`sums_by_slices` says no)."""
    padded = F.pad(values, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, _crossed_kernel(weight, values.device, values.dtype))


@torch.no_grad()
def median_filter(velocity: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, 2, h, w]`` velocity with each component replaced by its ``size x size`` median.

    Removes isolated wrong vectors and keeps motion edges sharp (Sun, Roth and Black, "Secrets
    of optical flow estimation", 2010).
    """
    B, C, h, w = velocity.shape
    padded = F.pad(velocity, (size // 2,) * 4, mode="replicate")
    if sums_by_slices(velocity):
        return forgetful_median([padded[..., y : y + h, x : x + w] for y in range(size) for x in range(size)])
    patches = padded.unfold(2, size, 1).unfold(3, size, 1)  # (B, C, h, w, size, size)
    return patches.reshape(B, C, h, w, size * size).median(dim=-1).values


def forgetful_median(values: list[torch.Tensor]) -> torch.Tensor:
    """The element-wise median of an odd number of same-shaped tensors, by forgetful selection.

    A buffer holds ``(n + 1) / 2 + 1`` of the values; one pass up and one down of compare-exchanges
    (``minimum``, ``maximum``) brings its smallest and largest to its ends, both are dropped (neither
    can be the median of what is left) and the next value comes in, until one remains (Paeth,
    "Median finding on a 3 x 3 grid", Graphics Gems, 1990). About 340 element-wise operations for
    25 values, written into the buffer's own tensors (``values`` are only read, so they may be
    overlapping views): on a CPU about 3x faster than ``median`` over unfolded patches, which
    copies the ``n``-fold patches first. The same numbers.
    """
    keep = len(values) // 2 + 2
    buffer, rest = [value.clone() for value in values[:keep]], list(values[keep:])
    spare = torch.empty_like(buffer[0])

    def exchange(low: int, high: int) -> None:  # buffer[low] <= buffer[high] afterwards
        nonlocal spare
        a, b = buffer[low], buffer[high]
        torch.minimum(a, b, out=spare)
        torch.maximum(a, b, out=b)
        buffer[low], spare = spare, a

    while len(buffer) > 1:
        for i in range(len(buffer) - 1):  # the largest to the end
            exchange(i, i + 1)
        for i in range(len(buffer) - 2, 0, -1):  # the smallest to the front
            exchange(i - 1, i)
        buffer = buffer[1:-1] + [value.clone() for value in rest[:1]]
        rest = rest[1:]
    return buffer[0]


def central_differences(images: torch.Tensor) -> torch.Tensor:
    """``[..., h, w]`` -> ``[..., 2, h, w]``: twice the central-difference gradient (x, y),
    replicate at the border. Three operations and a stack (``images`` contiguous: viewed, not copied)."""
    flat = images.view(-1, 1, *images.shape[-2:])
    padded = F.pad(flat, (1, 1, 1, 1), mode="replicate")
    twice_x = padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]
    twice_y = padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]
    return torch.stack([twice_x, twice_y], dim=-3).view(*images.shape[:-2], 2, *images.shape[-2:])


@functools.lru_cache(maxsize=16)
def _gradients_and_value_kernel(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[3, 1, 3, 3]``: half of right minus left, half of below minus above, the centre (shared:
    never modify it)."""
    with torch.inference_mode(False):
        kernel = torch.zeros(3, 1, 3, 3, device=device, dtype=dtype)
        kernel[0, 0, 1, 2], kernel[0, 0, 1, 0] = 0.5, -0.5
        kernel[1, 0, 2, 1], kernel[1, 0, 0, 1] = 0.5, -0.5
        kernel[2, 0, 1, 1] = 1.0
        return kernel


def gradients_and_values(images: torch.Tensor) -> torch.Tensor:
    """``[..., h, w]`` (contiguous) -> ``[..., 3, h, w]``: the gradients of :func:`image_gradients`
    (x, y) and the values themselves.

    One convolution (two operations with the padding) where :func:`sums_by_slices` says no; on a
    CPU's large maps, where that one-channel convolution is 10-20x slower than the memory traffic
    (883 ms for the 1280 x 736 look-ups of a 720p frame), :func:`halved_differences_into` and a
    copy of the values. The same numbers either way: each output is one halved difference or one
    value (halving is exact), the convolution's other weights zeros.
    """
    h, w = images.shape[-2:]
    flat = images.view(-1, h, w)
    if not sums_by_slices(images):
        padded = F.pad(flat[:, None], (1, 1, 1, 1), mode="replicate")
        kernel = _gradients_and_value_kernel(images.device, images.dtype)
        return F.conv2d(padded, kernel).view(*images.shape[:-2], 3, h, w)
    out = images.new_empty(flat.shape[0], 3, h, w)
    halved_differences_into(flat, out[:, 0], out[:, 1])
    out[:, 2].copy_(flat)
    return out.view(*images.shape[:-2], 3, h, w)


def halved_differences_into(images: torch.Tensor, out_x: torch.Tensor, out_y: torch.Tensor) -> None:
    """Half the central differences of ``[..., h, w]`` images (h, w >= 2), replicate at the border
    (one-sided there), written into ``out_x`` and ``out_y`` (``[..., h, w]`` each).

    Shifted slices of the images themselves, the borders apart: no padded copy (a replicate pad
    costs a CPU about seven times a subtraction), eight operations. The numbers of
    :func:`image_gradients`.
    """
    torch.sub(images[..., 2:], images[..., :-2], out=out_x[..., 1:-1])
    torch.sub(images[..., 1:2], images[..., 0:1], out=out_x[..., 0:1])
    torch.sub(images[..., -1:], images[..., -2:-1], out=out_x[..., -1:])
    torch.sub(images[..., 2:, :], images[..., :-2, :], out=out_y[..., 1:-1, :])
    torch.sub(images[..., 1:2, :], images[..., 0:1, :], out=out_y[..., 0:1, :])
    torch.sub(images[..., -1:, :], images[..., -2:-1, :], out=out_y[..., -1:, :])
    out_x.mul_(0.5)
    out_y.mul_(0.5)


def image_gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences (x, y) of ``[..., h, w]`` images, replicate at the border."""
    gradients = central_differences(images) / 2
    return gradients[..., 0, :, :], gradients[..., 1, :, :]
