"""Bilateral motion prior: a coarse-to-fine search for the velocity that best aligns all observations.

For a target pixel ``p`` and a candidate velocity ``v`` (pixels per unit of normalized time), each
observation ``i`` is looked up at ``p + v * dt_i``. If ``v`` is the true motion through ``p`` at the
target time, all these looks see the same scene point, so they agree. The cost of a candidate is
how far the looked-up values spread around their mean, averaged over a small block. Observations
near the target count more (weights ``softmax(-8 |dt_i|)``): motion is closer to constant over a
short gap, and far observations are more often occluded. Time is measured in units of the gap
between the two observations nearest the target (:func:`pair_gap`), so the search reaches as far
and the smoothness weighs the same for any N; in that unit an observation beyond the bracketing
pair weighs ``e**-8`` as much, so the velocity is in effect the pair's and the network decides what
the far observations add. It needs no knowledge of the target frame and works for any N (bilateral
block matching, generalized to N observations).

At every scale, coarse to fine:

1. block matching, 1/32 to 1/4: a soft-argmax over a ``(2r+1)**2`` window of candidates around
   the coarser scale's estimate, the cost averaged over a 7 x 7 block (large motion, robust);
2. a local-global polish, every scale from 1/32 to full size: the same cost, on RGB and grey-level
   gradients, linearized around the current velocity, robustly re-weighted, summed over a 7 x 7
   window and tied to the neighbours' velocity by a small smoothness term, solved in closed form
   per pixel; five times per scale and then a 5 x 5 median filter (one step and no median at
   full size). Sub-pixel, sharp at motion edges, filled in where the image is flat;
3. PatchMatch-style propagation at 1/4 and 1/2: a pixel takes a neighbour's velocity when that
   aligns its block better, then one more polish step (motion edges and wrong regions).

The model matches on the observations' image pyramid (RGB average-pooled to each scale): tried
first on the encoder's features, an untrained network's random features matched worse than the
plain frame average. The prior has one learned temperature per scale and nothing else; the
deformable attention adds learned offsets on top of it (see :mod:`tempo_core.network.model`). Every
choice here was measured on triplets and septuplets cut from the training videos (see
resources/models/MODEL_CARD.md).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from tempo_core.network.temporal_attention import warp, xy_constant

OBSERVATION_SHARPNESS = 8.0
LK_WINDOW = 7
LK_ITERATIONS = 5
FULL_SIZE_ITERATIONS = 1
LK_MAX_STEP = 1.0
SMOOTHNESS = 1e-2
SMOOTHNESS_SWEEPS = 10
ROBUST_SCALE = 0.05
MEDIAN_SIZE = 5
GRADIENT_WEIGHT = 1.0
PROPAGATION_DISTANCES = (16, 8, 4, 2, 1)
PROPAGATION_WINDOW = 9
NEGLIGIBLE_DISTANCE = 0.75  # pair gaps beyond the second-nearest observation: weight < e^-6 of it


def pair_gap(dt: torch.Tensor) -> torch.Tensor:
    """``[B, 1]`` time between the two observations nearest the target (``dt [B, N]``), at least 1e-3.

    The prior measures time in this unit, so its search radius, step limit and smoothness mean the
    same motion whatever N is: with N=4 at -1, 0, 1, 2 the normalized span is three gaps, and in
    normalized time the search would reach only a third as far between the bracketing frames.
    """
    return dt.abs().sort(dim=1).values[:, :2].sum(dim=1, keepdim=True).clamp_min(1e-3)


def counting_observations(dt: torch.Tensor) -> torch.Tensor:
    """``[B, K]`` indices (ascending) of the observations the prior works on (``dt [B, N]``).

    Those are the nearest two and every other one less than ``NEGLIGIBLE_DISTANCE`` pair gaps
    farther than the second nearest. Beyond that an observation's weight is below e^-6 of the
    second nearest's (``OBSERVATION_SHARPNESS`` 8): it changes nothing and would only cost time.
    With N=4 at -1, 0, 1, 2 and the target at 0.5 the far two are one gap farther and are left out;
    at 0.125 the one at -1 is a quarter gap farther and stays. K is the most any batch item needs.
    """
    distance = dt.abs()
    second_nearest = distance.sort(dim=1).values[:, 1:2]
    counting = (distance - second_nearest) < NEGLIGIBLE_DISTANCE * pair_gap(dt)  # (B, N)
    count = max(2, int(counting.sum(dim=1).max()))
    return distance.topk(count, dim=1, largest=False).indices.sort(dim=1).values


def take_observations(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values [B, N, ...]`` -> ``[B, K, ...]``: the observations ``index [B, K]`` of each batch item."""
    shaped = index.view(*index.shape, *([1] * (values.dim() - 2))).expand(-1, -1, *values.shape[2:])
    return values.gather(1, shaped)


def only_counting(dt: torch.Tensor, observations: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``dt [B, N]`` and each ``[B, N, ...]`` of ``observations`` restricted to the observations of
    :func:`counting_observations` (unchanged for N=2)."""
    if dt.shape[1] <= 2:
        return dt, observations
    kept = counting_observations(dt)
    return dt.gather(1, kept), [take_observations(values, kept) for values in observations]


def observation_weights(dt: torch.Tensor) -> torch.Tensor:
    """``[B, N]`` weights (sum 1) of the observations at ``dt = t_i - t_target``, nearest first."""
    return (-OBSERVATION_SHARPNESS * dt.abs()).softmax(dim=1)


def candidate_velocities(radius: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[(2r+1)**2, 2]`` integer (x, y) velocity offsets of the search window, row-major."""
    steps = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    ys, xs = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def look_up(images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Observations ``[B, N, C, h, w]`` looked up at ``p + velocity [B, 2, h, w] * dt [B, N]``."""
    offsets = velocity[:, None] * dt[:, :, None, None, None]  # (B, N, 2, h, w)
    return warp(images.flatten(0, 1), offsets.flatten(0, 1)).view(images.shape)


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


def _centered(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``values [B, N, ...]`` minus their ``weights [B, N]``-weighted mean over N."""
    shaped = weights.view(*weights.shape, *([1] * (values.dim() - 2)))
    return values - (values * shaped).sum(dim=1, keepdim=True)


def _weighted_sum(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``[B, N, C, h, w]`` -> ``[B, h, w]``: sum over channels, weighted sum over observations."""
    return (values.sum(dim=2) * weights[:, :, None, None]).sum(dim=1)


def alignment_cost(
    features: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Spread of the observations' values looked up along ``velocity``.

    Args:
        features: ``[B, N, C, h, w]`` (the image pyramid level: C = 3, RGB in [0, 1]).
        velocity: ``[B, 2, h, w]`` pixels per unit normalized time.
        dt: ``[B, N]`` normalized ``t_i - t_target``.
        weights: ``[B, N]`` observation weights (sum 1).

    Returns:
        ``[B, h, w]``: weighted squared distance of the looked-up values to their weighted mean.
    """
    return _weighted_sum(_centered(look_up(features, velocity, dt), weights).pow(2), weights)


def image_gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences (x, y) of ``[..., h, w]`` images, replicate at the border."""
    flat = images.flatten(0, -3).unsqueeze(1)
    padded_x = F.pad(flat, (1, 1, 0, 0), mode="replicate")
    padded_y = F.pad(flat, (0, 0, 1, 1), mode="replicate")
    grad_x = (padded_x[..., 2:] - padded_x[..., :-2]) / 2
    grad_y = (padded_y[..., 2:, :] - padded_y[..., :-2, :]) / 2
    return grad_x.view(images.shape), grad_y.view(images.shape)


def with_gradient_channels(images: torch.Tensor) -> torch.Tensor:
    """``[..., 3, h, w]`` RGB -> ``[..., 5, h, w]``: RGB and the x, y gradients of its grey level
    (times ``GRADIENT_WEIGHT``).

    Matching the gradients too (gradient constancy) keeps the cost right where the brightness
    changes between frames (light, exposure, shadows).
    """
    grad_x, grad_y = image_gradients(images.mean(dim=-3, keepdim=True))
    return torch.cat([images, GRADIENT_WEIGHT * grad_x, GRADIENT_WEIGHT * grad_y], dim=-3)


def _robust_weight(residual: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``[B, h, w]`` Charbonnier re-weighting: pixels whose observations disagree count less."""
    spread = _weighted_sum(residual.pow(2), weights)
    return (spread / ROBUST_SCALE**2 + 1).rsqrt()


def _neighbour_mean(velocity: torch.Tensor) -> torch.Tensor:
    """``[B, 2, h, w]`` mean of each pixel's 3 x 3 neighbourhood (replicate at the border)."""
    padded = F.pad(velocity, (1, 1, 1, 1), mode="replicate")
    return block_sum(padded, 3) / 9 if sums_by_slices(velocity) else F.avg_pool2d(padded, 3, stride=1)


@torch.no_grad()
def lucas_kanade_step(images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """One combined local-global update ``[B, 2, h, w]`` of ``velocity`` (no gradient).

    Linearizes every look-up ``I_i(p + (v + d) dt_i) ~ I_i(p + v dt_i) + dt_i grad I_i . d``. The
    weighted spread of the linearized values, re-weighted robustly and summed over a ``LK_WINDOW``
    block, is the local (Lucas-Kanade) term; ``SMOOTHNESS`` times the distance of ``v + d`` to its
    neighbours' mean is the global (Horn-Schunck) term that fills flat regions from their
    surroundings. ``SMOOTHNESS_SWEEPS`` Jacobi sweeps of the per-pixel 2 x 2 system minimize the
    sum (Bruhn et al., "Lucas/Kanade meets Horn/Schunck", 2005). Runs in float32.

    Args:
        images: ``[B, N, C, h, w]`` (RGB in [0, 1], optionally with gradient channels);
            velocity ``[B, 2, h, w]``; dt ``[B, N]``.

    Returns:
        The step ``d``, each component clamped to ``[-LK_MAX_STEP, LK_MAX_STEP]``.
    """
    images, velocity, dt = images.float(), velocity.float(), dt.float()
    weights = observation_weights(dt)
    looked_up = look_up(images, velocity, dt)
    grad_x, grad_y = image_gradients(looked_up)
    dt5 = dt[:, :, None, None, None]
    residual = _centered(looked_up, weights)
    jacobian_x, jacobian_y = _centered(grad_x * dt5, weights), _centered(grad_y * dt5, weights)
    moments = torch.stack(
        [
            _weighted_sum(jacobian_x * jacobian_x, weights),
            _weighted_sum(jacobian_x * jacobian_y, weights),
            _weighted_sum(jacobian_y * jacobian_y, weights),
            _weighted_sum(jacobian_x * residual, weights),
            _weighted_sum(jacobian_y * residual, weights),
        ],
        dim=1,
    ) * _robust_weight(residual, weights).unsqueeze(1)
    xx, xy, yy, bx, by = box_mean(moments, LK_WINDOW).split(1, dim=1)
    return _jacobi_sweeps(torch.cat([xx, yy], dim=1) + SMOOTHNESS, xy, torch.cat([bx, by], dim=1), velocity)


def _jacobi_sweeps(
    diagonal: torch.Tensor, off_diagonal: torch.Tensor, b: torch.Tensor, velocity: torch.Tensor
) -> torch.Tensor:
    """``SMOOTHNESS_SWEEPS`` Jacobi sweeps of ``[[xx, xy], [xy, yy]] d = S (mean(v + d) - v) - b``.

    Args:
        diagonal: ``[B, 2, h, w]`` (xx, yy), smoothness included; off_diagonal ``[B, 1, h, w]`` (xy);
            b ``[B, 2, h, w]``; velocity ``[B, 2, h, w]``.

    Returns:
        The step ``d [B, 2, h, w]``, clamped to ``[-LK_MAX_STEP, LK_MAX_STEP]`` after every sweep.

    The neighbour mean is linear, so ``S (mean(v + d) - v) - b = S mean(d) + constant``, and the 2 x 2
    inverse is formed once: each sweep is 7 tensor operations, which matters on a GPU, where the
    launches of small operations and not the arithmetic set the time (docs/benchmarks.md, "GPU").
    """
    inverse_determinant = (diagonal.prod(dim=1, keepdim=True) - off_diagonal * off_diagonal).reciprocal()
    inverse_diagonal = diagonal.flip(1) * inverse_determinant  # (yy, xx) / det
    inverse_off_diagonal = -off_diagonal * inverse_determinant  # -xy / det
    constant = SMOOTHNESS * (_neighbour_mean(velocity) - velocity) - b
    step = torch.zeros_like(velocity)
    for _ in range(SMOOTHNESS_SWEEPS):
        rhs = torch.add(constant, _neighbour_mean(step), alpha=SMOOTHNESS)
        step = torch.addcmul(inverse_diagonal * rhs, inverse_off_diagonal, rhs.flip(1))
        step = step.clamp_(-LK_MAX_STEP, LK_MAX_STEP)
    return step


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


def polish(
    images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, iterations: int | None = None, median: bool = True
) -> torch.Tensor:
    """``iterations`` (default ``LK_ITERATIONS``) local-global steps on RGB and gradients, then a
    median filter if ``median``.

    Gradients flow through ``velocity`` unchanged (every update is added as a constant).

    Args:
        images: ``[B, N, 3, h, w]`` in [0, 1]; velocity ``[B, 2, h, w]``; dt ``[B, N]``.
    """
    with torch.no_grad():
        features = with_gradient_channels(images.float())
    for _ in range(LK_ITERATIONS if iterations is None else iterations):
        velocity = velocity + lucas_kanade_step(features, velocity, dt).to(velocity.dtype)
    if median:
        velocity = velocity + (median_filter(velocity, MEDIAN_SIZE) - velocity.detach()).to(velocity.dtype)
    return velocity


def _shifted(velocity: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``[B, 2, h, w]`` velocity of the pixel ``(y - dy, x - dx)`` at ``(y, x)``, replicate at the border."""
    pad = max(abs(dy), abs(dx))
    padded = F.pad(velocity, (pad, pad, pad, pad), mode="replicate")
    h, w = velocity.shape[-2:]
    return padded[..., pad - dy : pad - dy + h, pad - dx : pad - dx + w]


@torch.no_grad()
def propagate(images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """PatchMatch-style propagation: every pixel may take a neighbour's velocity.

    For each distance ``d`` of ``PROPAGATION_DISTANCES`` (far to near), a pixel adopts the velocity
    of the pixel ``d`` away (left, right, up, down) when that aligns the observations better over a
    ``PROPAGATION_WINDOW`` block. Motion edges that the window averages and the median blurred get
    sharp again, and a wrong region takes the right motion of its surroundings (Barnes et al.,
    "PatchMatch", 2009; Bleyer et al., "PatchMatch Stereo", 2011).

    Args:
        images: ``[B, N, 3, h, w]`` in [0, 1]; velocity ``[B, 2, h, w]``; dt ``[B, N]``.
    """
    images, dt = images.float(), dt.float()
    weights = observation_weights(dt)

    def block_cost(candidate: torch.Tensor) -> torch.Tensor:
        return box_mean(alignment_cost(images, candidate, dt, weights).unsqueeze(1), PROPAGATION_WINDOW)

    best, best_cost = velocity.float(), block_cost(velocity.float())
    for distance in PROPAGATION_DISTANCES:
        for dy, dx in ((0, distance), (0, -distance), (distance, 0), (-distance, 0)):
            candidate = _shifted(best, dy, dx)
            cost = block_cost(candidate)
            best = torch.where(cost < best_cost, candidate, best)
            best_cost = torch.minimum(cost, best_cost)
    return best.to(velocity.dtype)


def polish_and_propagate(images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """:func:`polish`, :func:`propagate`, and one more local-global step on the result.

    Gradients flow through ``velocity`` unchanged. Shapes as in :func:`polish`.
    """
    velocity = polish(images, velocity, dt)
    velocity = velocity + (propagate(images, velocity, dt) - velocity.detach())
    return polish(images, velocity, dt, iterations=1, median=False)


def upsample_velocity(velocity: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[B, 2, h, w]`` velocity to ``size`` with its units rescaled."""
    height, width = velocity.shape[-2:]
    scale = xy_constant(size[1] / width, size[0] / height, velocity.device, velocity.dtype)
    resized = F.interpolate(velocity, size=size, mode="bilinear", align_corners=False)
    return resized * scale.view(1, 2, 1, 1)


def image_pyramid(frames: torch.Tensor, scales: int = 4) -> list[torch.Tensor]:
    """Observations ``[B, N, 3, H, W]`` average-pooled to 1/4 ... 1/2**(scales+1), fine to coarse."""
    B, N = frames.shape[:2]
    levels = [F.avg_pool2d(frames.flatten(0, 1), 2 ** (s + 2)) for s in range(scales)]
    return [level.view(B, N, *level.shape[1:]) for level in levels]


class BilateralMotionPrior(nn.Module):
    """Coarse-to-fine velocity: block matching and a local-global polish at four scales, then to full size.

    Args:
        radius: search radius r in pixels per unit time at every block-matching scale.
        scales: number of block-matching scales (4: 1/32 to 1/4).
        temperature: initial softmax temperature of the (negative) cost.
        window: side of the block over which the matching cost is averaged (odd).
    """

    def __init__(self, radius: int, scales: int = 4, temperature: float = 1e-3, window: int = 7) -> None:
        super().__init__()
        self.radius, self.window = radius, window
        self.log_temperature = nn.Parameter(torch.full((scales,), float(temperature)).log())

    def refine(
        self,
        scale: int,
        features: torch.Tensor,
        dt: torch.Tensor,
        coarser_velocity: torch.Tensor | None,
    ) -> torch.Tensor:
        """Velocity ``[B, 2, h, w]`` at ``scale`` from the pyramid level ``[B, N, C, h, w]``.

        Every scale is polished (:func:`polish`) after the block matching; the finest (0) also
        propagated (:func:`polish_and_propagate`).
        """
        B, N, C, h, w = features.shape
        if coarser_velocity is None:
            center = features.new_zeros(B, 2, h, w)
        else:
            center = upsample_velocity(coarser_velocity, (h, w))
        weights = observation_weights(dt)
        candidates = candidate_velocities(self.radius, features.device, features.dtype)
        costs = torch.stack(
            [alignment_cost(features, center + step.view(1, 2, 1, 1), dt, weights) for step in candidates],
            dim=1,
        )  # (B, K, h, w)
        costs = box_mean(costs, self.window)
        soft_argmin = (-costs / self.log_temperature[scale].exp()).softmax(dim=1)
        velocity = center + torch.einsum("bkyx,kc->bcyx", soft_argmin, candidates)
        return polish_and_propagate(features, velocity, dt) if scale == 0 else polish(features, velocity, dt)

    def velocities(self, pyramid: list[torch.Tensor], dt: torch.Tensor) -> list[torch.Tensor]:
        """Velocity ``[B, 2, h_s, w_s]`` at every scale of :func:`image_pyramid`, fine to coarse.

        ``dt`` ``[B, N]`` is normalized time; the search runs in units of :func:`pair_gap` and the
        velocities come back per unit of ``dt``. Runs in float32 whatever the autocast or input
        precision (its choices are discrete: a coarser number format flips them), and returns the
        input's dtype. Works on the observations of :func:`counting_observations` only.
        """
        dt, pyramid = only_counting(dt, pyramid)  # leave out the observations that weigh nothing (time only)
        velocities: list[torch.Tensor] = [None] * len(pyramid)  # type: ignore[list-item]
        velocity = None
        with torch.autocast(device_type=dt.device.type, enabled=False):
            gap = pair_gap(dt.float())
            pair_dt = dt.float() / gap
            for scale in reversed(range(len(pyramid))):
                velocity = velocities[scale] = self.refine(scale, pyramid[scale].float(), pair_dt, velocity)
        return [(velocity / gap[:, :, None, None]).to(pyramid[0].dtype) for velocity in velocities]

    @staticmethod
    def full_resolution(frames: torch.Tensor, dt: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        """Velocity ``[B, 2, H, W]`` (input pixels per unit time) from the 1/4-scale one.

        :func:`polish_and_propagate` at 1/2, then ``FULL_SIZE_ITERATIONS`` steps without the median at full size
        on ``frames`` ``[B, N, 3, H, W]`` (more gained nothing measurable there, at a high price).
        Velocities per unit of ``dt``, time units and float32 inside as in :meth:`velocities`.
        """
        dt, (frames,) = only_counting(dt, [frames])  # as in :meth:`velocities`
        dtype, (B, N, C, H, W) = frames.dtype, frames.shape
        with torch.autocast(device_type=dt.device.type, enabled=False):
            gap = pair_gap(dt.float())
            frames, dt, velocity = frames.float(), dt.float() / gap, velocity.float() * gap[:, :, None, None]
            half = F.avg_pool2d(frames.flatten(0, 1), 2).view(B, N, C, H // 2, W // 2)
            velocity = polish_and_propagate(half, upsample_velocity(velocity, (H // 2, W // 2)), dt)
            full = upsample_velocity(velocity, (H, W))
            full = polish(frames, full, dt, iterations=FULL_SIZE_ITERATIONS, median=False)
            return (full / gap[:, :, None, None]).to(dtype)

    @torch.no_grad()
    def synthesize_alone(self, frames: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        """The prior as an interpolator by itself, no network: ``[B, 3, H, W]`` in [0, 1].

        Every observation of ``frames`` ``[B, N, 3, H, W]`` (H, W multiples of 32) is looked up
        along the full-size velocity; the look-ups are blended with the observation weights for
        N=2 and as the plain mean of the nearest two for N > 2 (far ones, under constant motion,
        are the least reliable). ``dt`` ``[B, N]`` is normalized ``t_i - t_target``.
        """
        quarter = self.velocities(image_pyramid(frames), dt)[0]
        looked_up = look_up(frames, self.full_resolution(frames, dt, quarter), dt)
        if frames.shape[1] == 2:
            weights = observation_weights(dt)
        else:
            nearest = dt.abs() <= dt.abs().sort(dim=1).values[:, 1:2]
            weights = nearest.float() / nearest.sum(dim=1, keepdim=True)
        return (looked_up * weights[:, :, None, None, None]).sum(dim=1)
