"""Bilateral motion prior: a coarse-to-fine search for the velocity that best aligns all observations.

For a target pixel ``p`` and a candidate velocity ``v`` (pixels per unit of normalized time), each
observation ``i`` is looked up at ``p + v * dt_i``. If ``v`` is the true motion through ``p`` at the
target time, all these looks see the same scene point, so they agree. The cost of a candidate is
how far the looked-up values spread around their mean, averaged over a small block; a soft-argmax
over a ``(2r+1)**2`` window of candidates around the coarser scale's estimate gives the velocity
at every scale, from 1/32 down to 1/4. It needs no knowledge of the target frame and works for
any N (bilateral block matching, generalized to N observations).

The model matches on the observations' image pyramid (RGB average-pooled to each scale): tried
first on the encoder's features, an untrained network's random features matched worse than the
plain frame average, while RGB block matching gave +1.5 dB over it on training triplets (see
resources/models/MODEL_CARD.md). The prior has one learned temperature per scale and nothing
else; the deformable attention adds learned offsets on top of it (see :mod:`tempo_core.model`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tempo_core.temporal_attention import warp


def candidate_velocities(radius: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[(2r+1)**2, 2]`` integer (x, y) velocity offsets of the search window, row-major."""
    steps = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    ys, xs = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def alignment_cost(features: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Spread of the observations' values looked up along ``velocity``.

    Args:
        features: ``[B, N, C, h, w]`` (the image pyramid level: C = 3, RGB in [0, 1]).
        velocity: ``[B, 2, h, w]`` pixels per unit normalized time.
        dt: ``[B, N]`` normalized ``t_i - t_target``.

    Returns:
        ``[B, h, w]``: mean squared distance of each looked-up feature to their mean (0 = agree).
    """
    B, N, C, h, w = features.shape
    offsets = velocity[:, None] * dt[:, :, None, None, None]  # (B, N, 2, h, w)
    looked_up = warp(features.flatten(0, 1), offsets.flatten(0, 1)).view(B, N, C, h, w)
    return (looked_up - looked_up.mean(dim=1, keepdim=True)).pow(2).sum(dim=2).mean(dim=1)


class BilateralMotionPrior(nn.Module):
    """Coarse-to-fine soft-argmax velocity search over four scales.

    Args:
        radius: search radius r in pixels per unit time at every scale.
        scales: number of scales (4).
        temperature: initial softmax temperature of the (negative) cost.
        window: side of the block over which the cost is averaged (odd).
    """

    def __init__(self, radius: int, scales: int = 4, temperature: float = 1e-3, window: int = 15) -> None:
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
        """Velocity ``[B, 2, h, w]`` at ``scale`` from the pyramid level ``[B, N, C, h, w]``."""
        B, N, C, h, w = features.shape
        if coarser_velocity is None:
            center = features.new_zeros(B, 2, h, w)
        else:
            center = 2.0 * F.interpolate(coarser_velocity, size=(h, w), mode="bilinear", align_corners=False)
        candidates = candidate_velocities(self.radius, features.device, features.dtype)
        costs = torch.stack(
            [alignment_cost(features, center + step.view(1, 2, 1, 1), dt) for step in candidates],
            dim=1,
        )  # (B, K, h, w)
        costs = F.avg_pool2d(costs, self.window, stride=1, padding=self.window // 2, count_include_pad=False)
        weights = (-costs / self.log_temperature[scale].exp()).softmax(dim=1)
        return center + torch.einsum("bkyx,kc->bcyx", weights, candidates)
