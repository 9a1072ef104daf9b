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
deformable attention adds learned offsets on top of it (see :mod:`tempo_core.network.model`). Its
tuned settings are one frozen :class:`~tempo_core.network.prior_config.PriorConfig`, every choice
measured on triplets and septuplets cut from the training videos (see docs/decisions/);
the polish and the propagation are in :mod:`tempo_core.network.motion_refinement`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tempo_core.network.filters import box_mean
from tempo_core.network.layers import as_dtype, fold, time_proximity
from tempo_core.network.motion_refinement import candidate_costs, look_up, polish, polish_and_propagate, propagate
from tempo_core.network.prior_config import PriorConfig
from tempo_core.network.sampling import upsample_velocity


def pair_gap(dt: torch.Tensor) -> torch.Tensor:
    """``[B, 1]`` time between the two observations nearest the target (``dt [B, N]``), at least 1e-3.

    The prior measures time in this unit, so its search radius, step limit and smoothness mean the
    same motion whatever N is: with N=4 at -1, 0, 1, 2 the normalized span is three gaps, and in
    normalized time the search would reach only a third as far between the bracketing frames.
    """
    return dt.abs().sort(dim=1).values[:, :2].sum(dim=1, keepdim=True).clamp_min(1e-3)


MOST_OBSERVATIONS = 3  # the prior looks at the nearest 3 at most (see nearest_observations)


def counting_observations(dt: torch.Tensor, config: PriorConfig | None = None) -> torch.Tensor:
    """``[B, N]`` bool: the observations that count for the prior (``dt [B, N]``).

    Those are the nearest two and every other one less than ``negligible_distance`` pair gaps
    farther than the second nearest. Beyond that an observation's weight is below e^-6 of the
    second nearest's (``observation_sharpness`` 8): it changes nothing and would only cost time.
    With N=4 at -1, 0, 1, 2 and the target at 0.5 the far two are one gap farther and are left out;
    at 0.125 the one at -1 is a quarter gap farther and stays.
    """
    config = config or PriorConfig()
    distance = dt.abs()
    second_nearest = distance.sort(dim=1).values[:, 1:2]
    return (distance - second_nearest) < config.negligible_distance * pair_gap(dt)


def nearest_observations(dt: torch.Tensor, observations: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``dt [B, N]`` and each ``[B, N, ...]`` of ``observations`` restricted to the ``MOST_OBSERVATIONS``
    nearest, in time order (unchanged for N <= 2).

    With anchors evenly spaced no more than three count (:func:`counting_observations`); the
    number is fixed, not read from the data, so that a synthesis never waits on the device. Time
    order makes the prior's sums over observations independent of the order the anchors came in.
    """
    if dt.shape[1] <= 2:
        return dt, observations
    kept = dt.abs().topk(min(dt.shape[1], MOST_OBSERVATIONS), dim=1, largest=False).indices
    kept = kept.gather(1, dt.gather(1, kept).argsort(dim=1))
    return dt.gather(1, kept), [take_observations(values, kept) for values in observations]


def take_observations(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values [B, N, ...]`` -> ``[B, K, ...]``: the observations ``index [B, K]`` of each batch item."""
    shaped = index.view(*index.shape, *([1] * (values.dim() - 2))).expand(-1, -1, *values.shape[2:])
    return values.gather(1, shaped)


@functools.lru_cache(maxsize=16)
def candidate_velocities(radius: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[(2r+1)**2, 2]`` integer (x, y) velocity offsets of the search window, row-major (made
    once per radius, device and dtype and shared: never modify it)."""
    with torch.inference_mode(False):
        steps = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
        ys, xs = torch.meshgrid(steps, steps, indexing="ij")
        return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def image_pyramid(frames: torch.Tensor, scales: int = 4) -> list[torch.Tensor]:
    """Observations ``[B, N, 3, H, W]`` average-pooled to 1/4 ... 1/2**(scales+1), fine to coarse.

    Each level is pooled from the one before it (H and W are multiples of ``2**(scales+1)``, so
    the blocks nest and the means are the same up to rounding): one pass over the full frames.
    """
    B, N = frames.shape[:2]
    levels = [F.avg_pool2d(fold(frames), 4)]
    for _ in range(scales - 1):
        levels.append(F.avg_pool2d(levels[-1], 2))
    return [level.view(B, N, *level.shape[1:]) for level in levels]


class BilateralMotionPrior(nn.Module):
    """Coarse-to-fine velocity: block matching and a local-global polish at four scales, then to full size.

    Args:
        scales: number of block-matching scales (4: 1/32 to 1/4).
        temperature: initial softmax temperature of the (negative) cost.
        window: side of the block over which the matching cost is averaged (odd).
        config: the tuned settings (:class:`PriorConfig`; replace ``self.config`` to study others).
    """

    def __init__(
        self,
        scales: int = 4,
        temperature: float = 1e-3,
        window: int = 7,
        config: PriorConfig | None = None,
    ) -> None:
        super().__init__()
        self.window = window
        self.config = config or PriorConfig()
        self.log_temperature = nn.Parameter(torch.full((scales,), float(temperature)).log())

    @property
    def radius(self) -> int:
        """The block matching's search radius (:attr:`PriorConfig.search_radius`)."""
        return self.config.search_radius

    def observation_weights(self, dt: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` weights (sum 1) of the observations at ``dt = t_i - t_target``, nearest first."""
        return time_proximity(dt, self.config.observation_sharpness)

    def _prior_time(self, dt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The prior's time for the observations ``dt [B, K]`` (normalized): the unit ``[B, 1]``
        (:func:`pair_gap`, or 1 without ``pair_gap_units``), ``dt`` in that unit, and the weights
        ``[B, K]`` of :meth:`observation_weights` in that unit, zero for those that do not count."""
        dt = as_dtype(dt, torch.float32)
        unit = pair_gap(dt) if self.config.pair_gap_units else dt.new_ones(dt.shape[0], 1)
        unit_dt = dt / unit
        logits = (-self.config.observation_sharpness * unit_dt.abs()).masked_fill(
            ~counting_observations(dt, self.config), float("-inf")
        )
        return unit, unit_dt, logits.softmax(dim=1)

    def block_matching(
        self, scale: int, features: torch.Tensor, dt: torch.Tensor, weights: torch.Tensor, center: torch.Tensor
    ) -> torch.Tensor:
        """Soft-argmin ``[B, 2, h, w]`` over the ``(2r+1)**2`` velocities around ``center [B, 2, h, w]``:
        every candidate's cost (:func:`candidate_costs`, one look-up for all) averaged over a
        ``window`` block. ``features [B, N, C, h, w]``, ``dt``, ``weights [B, N]``."""
        candidates = candidate_velocities(self.radius, features.device, features.dtype)  # (K, 2)
        # (B, K, 2, h, w), stored as (B, K, h, w, 2): the sampling grids' layout, built without a transpose
        centre_last = center.permute(0, 2, 3, 1).contiguous()[:, None]  # (B, 1, h, w, 2)
        velocities = (centre_last + candidates[None, :, None, None, :]).permute(0, 1, 4, 2, 3)
        costs = box_mean(candidate_costs(features, velocities, dt, weights), self.window)  # (B, K, h, w)
        soft_argmin = (costs / -self.log_temperature[scale].exp()).softmax(dim=1)
        return center + torch.einsum("bkyx,kc->bcyx", soft_argmin, candidates)

    def refine(
        self,
        scale: int,
        features: torch.Tensor,
        dt: torch.Tensor,
        weights: torch.Tensor,
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
        velocity = self.block_matching(scale, features, dt, weights, center)
        if scale == 0:
            return polish_and_propagate(features, velocity, dt, weights, self.config)
        return polish(features, velocity, dt, weights, self.config)

    def velocities(
        self, pyramid: list[torch.Tensor], dt: torch.Tensor, between_stages: Callable[[], None] | None = None
    ) -> list[torch.Tensor]:
        """Velocity ``[B, 2, h_s, w_s]`` at every scale of :func:`image_pyramid`, fine to coarse.
        ``between_stages`` (optional) is called after each scale (the user's cancel may raise there).

        ``dt`` ``[B, N]`` is normalized time; the search runs in units of :func:`pair_gap` and the
        velocities come back per unit of ``dt``. Runs in float32 whatever the autocast or input
        precision (its choices are discrete: a coarser number format flips them), and returns the
        input's dtype. Works on the observations of :func:`nearest_observations` only.
        """
        dt, pyramid = nearest_observations(dt, pyramid)
        velocities: list[torch.Tensor] = [None] * len(pyramid)  # type: ignore[list-item]
        velocity = None
        with torch.autocast(device_type=dt.device.type, enabled=False):
            unit, unit_dt, weights = self._prior_time(dt)
            for scale in reversed(range(len(pyramid))):
                velocity = self.refine(scale, as_dtype(pyramid[scale], torch.float32), unit_dt, weights, velocity)
                velocities[scale] = velocity
                if between_stages is not None:
                    between_stages()
        return [as_dtype(velocity / unit[:, :, None, None], pyramid[0].dtype) for velocity in velocities]

    def full_resolution(
        self,
        frames: torch.Tensor,
        dt: torch.Tensor,
        velocity: torch.Tensor,
        between_stages: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """Velocity ``[B, 2, H, W]`` (input pixels per unit time) from the 1/4-scale one;
        ``between_stages`` (optional) is called between its steps, as in :meth:`velocities`.

        :func:`polish_and_propagate` at 1/2, upsampled, then ``full_size_iterations`` steps without the
        median at full size on ``frames`` ``[B, N, 3, H, W]`` (more gained nothing measurable; none
        lost 0.05 dB on validation at 448 x 256, docs/decisions/025-no-full-size-step.md), on frames of at most
        ``full_size_max_pixels`` (0.3 MP). On larger ones (480p to 1080p) the full-size step changed
        PSNR by 0.01 dB or less and took a tenth of the time (docs/decisions/026-full-size-step-small-frames.md).
        On frames over ``large_frame_pixels`` (720p and up) the 1/2 size is ``large_half_size_iterations`` steps
        and a propagation over ``large_propagation_distances`` (docs/decisions/031-processing-scale.md).
        Velocities per unit of ``dt``, time units and float32 inside as in :meth:`velocities`.
        """
        config, check = self.config, between_stages or (lambda: None)
        dt, (frames,) = nearest_observations(dt, [frames])
        dtype, (B, N, C, H, W) = frames.dtype, frames.shape
        with torch.autocast(device_type=dt.device.type, enabled=False):
            unit, dt, weights = self._prior_time(dt)
            frames = as_dtype(frames, torch.float32)
            velocity = as_dtype(velocity, torch.float32) * unit[:, :, None, None]
            half = F.avg_pool2d(fold(frames), 2).view(B, N, C, H // 2, W // 2)
            velocity = upsample_velocity(velocity, (H // 2, W // 2))
            if H * W > config.large_frame_pixels and config.large_half_size_iterations is not None:
                velocity = polish(half, velocity, dt, weights, config, config.large_half_size_iterations, median=False)
                check()
                velocity = propagate(half, velocity, dt, weights, config, config.large_propagation_distances)
            else:
                velocity = polish_and_propagate(half, velocity, dt, weights, config)
            check()
            full = upsample_velocity(velocity, (H, W))
            if H * W <= config.full_size_max_pixels:
                full = polish(frames, full, dt, weights, config, iterations=config.full_size_iterations, median=False)
            return as_dtype(full / unit[:, :, None, None], dtype)

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
            weights = self.observation_weights(dt)
        else:
            nearest = dt.abs() <= dt.abs().sort(dim=1).values[:, 1:2]
            weights = nearest.float() / nearest.sum(dim=1, keepdim=True)
        return (looked_up * weights[:, :, None, None, None]).sum(dim=1)
