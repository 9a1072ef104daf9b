"""The motion prior's refinement of a velocity field: the local-global polish and the propagation.

Both measure how well a velocity ``v`` aligns the observations: observation ``i`` is looked up at
``p + v * dt_i``, and the weighted spread of the looked-up values around their mean is the cost
(:func:`alignment_cost`). The polish (:func:`polish`) linearizes that cost and solves a small
system per pixel (Lucas-Kanade meets Horn-Schunck); the propagation (:func:`propagate`) lets a
pixel take a neighbour's velocity when that aligns its block better (PatchMatch). Their settings
are a :class:`tempo_core.network.prior_config.PriorConfig`.
"""

from __future__ import annotations

import torch

from tempo_core.network.filters import box_mean, image_gradients, median_filter, neighbour_mean
from tempo_core.network.layers import time_proximity
from tempo_core.network.prior_config import PriorConfig
from tempo_core.network.sampling import warp


def look_up(images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Observations ``[B, N, C, h, w]`` looked up at ``p + velocity [B, 2, h, w] * dt [B, N]``."""
    offsets = velocity[:, None] * dt[:, :, None, None, None]  # (B, N, 2, h, w)
    return warp(images.flatten(0, 1), offsets.flatten(0, 1)).view(images.shape)


def centered(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``values [B, N, ...]`` minus their ``weights [B, N]``-weighted mean over N."""
    shaped = weights.view(*weights.shape, *([1] * (values.dim() - 2)))
    return values - (values * shaped).sum(dim=1, keepdim=True)


def weighted_sum(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
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
    return weighted_sum(centered(look_up(features, velocity, dt), weights).pow(2), weights)


def with_gradient_channels(images: torch.Tensor, config: PriorConfig) -> torch.Tensor:
    """``[..., 3, h, w]`` RGB -> ``[..., 5, h, w]``: RGB and the x, y gradients of its grey level
    (times ``config.gradient_weight``).

    Matching the gradients too (gradient constancy) keeps the cost right where the brightness
    changes between frames (light, exposure, shadows).
    """
    grad_x, grad_y = image_gradients(images.mean(dim=-3, keepdim=True))
    weight = config.gradient_weight
    return torch.cat([images, weight * grad_x, weight * grad_y], dim=-3)


def _robust_weight(residual: torch.Tensor, weights: torch.Tensor, config: PriorConfig) -> torch.Tensor:
    """``[B, h, w]`` Charbonnier re-weighting: pixels whose observations disagree count less."""
    spread = weighted_sum(residual.pow(2), weights)
    return (spread / config.robust_scale**2 + 1).rsqrt()


@torch.no_grad()
def lucas_kanade_step(
    images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, config: PriorConfig
) -> torch.Tensor:
    """One combined local-global update ``[B, 2, h, w]`` of ``velocity`` (no gradient).

    Linearizes every look-up ``I_i(p + (v + d) dt_i) ~ I_i(p + v dt_i) + dt_i grad I_i . d``. The
    weighted spread of the linearized values, re-weighted robustly and summed over an ``lk_window``
    block, is the local (Lucas-Kanade) term; ``smoothness`` times the distance of ``v + d`` to its
    neighbours' mean is the global (Horn-Schunck) term that fills flat regions from their
    surroundings. ``smoothness_sweeps`` Jacobi sweeps of the per-pixel 2 x 2 system minimize the
    sum (Bruhn et al., "Lucas/Kanade meets Horn/Schunck", 2005). Runs in float32.

    Args:
        images: ``[B, N, C, h, w]`` (RGB in [0, 1], optionally with gradient channels);
            velocity ``[B, 2, h, w]``; dt ``[B, N]``.

    Returns:
        The step ``d``, each component clamped to ``[-lk_max_step, lk_max_step]``.
    """
    images, velocity, dt = images.float(), velocity.float(), dt.float()
    weights = time_proximity(dt, config.observation_sharpness)
    looked_up = look_up(images, velocity, dt)
    grad_x, grad_y = image_gradients(looked_up)
    dt5 = dt[:, :, None, None, None]
    residual = centered(looked_up, weights)
    jacobian_x, jacobian_y = centered(grad_x * dt5, weights), centered(grad_y * dt5, weights)
    moments = torch.stack(
        [
            weighted_sum(jacobian_x * jacobian_x, weights),
            weighted_sum(jacobian_x * jacobian_y, weights),
            weighted_sum(jacobian_y * jacobian_y, weights),
            weighted_sum(jacobian_x * residual, weights),
            weighted_sum(jacobian_y * residual, weights),
        ],
        dim=1,
    ) * _robust_weight(residual, weights, config).unsqueeze(1)
    xx, xy, yy, bx, by = box_mean(moments, config.lk_window).split(1, dim=1)
    diagonal = torch.cat([xx, yy], dim=1) + config.smoothness
    return _jacobi_sweeps(diagonal, xy, torch.cat([bx, by], dim=1), velocity, config)


def _jacobi_sweeps(
    diagonal: torch.Tensor, off_diagonal: torch.Tensor, b: torch.Tensor, velocity: torch.Tensor, config: PriorConfig
) -> torch.Tensor:
    """``smoothness_sweeps`` Jacobi sweeps of ``[[xx, xy], [xy, yy]] d = S (mean(v + d) - v) - b``.

    Args:
        diagonal: ``[B, 2, h, w]`` (xx, yy), smoothness included; off_diagonal ``[B, 1, h, w]`` (xy);
            b ``[B, 2, h, w]``; velocity ``[B, 2, h, w]``.

    Returns:
        The step ``d [B, 2, h, w]``, clamped to ``[-lk_max_step, lk_max_step]`` after every sweep.

    The neighbour mean is linear, so ``S (mean(v + d) - v) - b = S mean(d) + constant``, and the 2 x 2
    inverse is formed once: each sweep is 7 tensor operations, which matters on a GPU, where the
    launches of small operations and not the arithmetic set the time (docs/benchmarks.md, "GPU").
    """
    inverse_determinant = (diagonal.prod(dim=1, keepdim=True) - off_diagonal * off_diagonal).reciprocal()
    inverse_diagonal = diagonal.flip(1) * inverse_determinant  # (yy, xx) / det
    inverse_off_diagonal = -off_diagonal * inverse_determinant  # -xy / det
    constant = config.smoothness * (neighbour_mean(velocity) - velocity) - b
    step = torch.zeros_like(velocity)
    for _ in range(config.smoothness_sweeps):
        rhs = torch.add(constant, neighbour_mean(step), alpha=config.smoothness)
        step = torch.addcmul(inverse_diagonal * rhs, inverse_off_diagonal, rhs.flip(1))
        step = step.clamp_(-config.lk_max_step, config.lk_max_step)
    return step


def polish(
    images: torch.Tensor,
    velocity: torch.Tensor,
    dt: torch.Tensor,
    config: PriorConfig,
    iterations: int | None = None,
    median: bool = True,
) -> torch.Tensor:
    """``iterations`` (default ``config.lk_iterations``) local-global steps on RGB and gradients,
    then a median filter if ``median``.

    Gradients flow through ``velocity`` unchanged (every update is added as a constant).

    Args:
        images: ``[B, N, 3, h, w]`` in [0, 1]; velocity ``[B, 2, h, w]``; dt ``[B, N]``.
    """
    with torch.no_grad():
        features = with_gradient_channels(images.float(), config)
    for _ in range(config.lk_iterations if iterations is None else iterations):
        velocity = velocity + lucas_kanade_step(features, velocity, dt, config).to(velocity.dtype)
    if median:
        filtered = median_filter(velocity, config.median_size)
        velocity = velocity + (filtered - velocity.detach()).to(velocity.dtype)
    return velocity


def _shifted(velocity: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``[B, 2, h, w]`` velocity of the pixel ``(y - dy, x - dx)`` at ``(y, x)``, replicate at the border."""
    pad = max(abs(dy), abs(dx))
    padded = torch.nn.functional.pad(velocity, (pad, pad, pad, pad), mode="replicate")
    h, w = velocity.shape[-2:]
    return padded[..., pad - dy : pad - dy + h, pad - dx : pad - dx + w]


@torch.no_grad()
def propagate(images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, config: PriorConfig) -> torch.Tensor:
    """PatchMatch-style propagation: every pixel may take a neighbour's velocity.

    For each distance ``d`` of ``propagation_distances`` (far to near), a pixel adopts the velocity
    of the pixel ``d`` away (left, right, up, down) when that aligns the observations better over a
    ``propagation_window`` block. Motion edges that the window averages and the median blurred get
    sharp again, and a wrong region takes the right motion of its surroundings (Barnes et al.,
    "PatchMatch", 2009; Bleyer et al., "PatchMatch Stereo", 2011).

    Args:
        images: ``[B, N, 3, h, w]`` in [0, 1]; velocity ``[B, 2, h, w]``; dt ``[B, N]``.
    """
    images, dt = images.float(), dt.float()
    weights = time_proximity(dt, config.observation_sharpness)

    def block_cost(candidate: torch.Tensor) -> torch.Tensor:
        return box_mean(alignment_cost(images, candidate, dt, weights).unsqueeze(1), config.propagation_window)

    best, best_cost = velocity.float(), block_cost(velocity.float())
    for distance in config.propagation_distances:
        for dy, dx in ((0, distance), (0, -distance), (distance, 0), (-distance, 0)):
            candidate = _shifted(best, dy, dx)
            cost = block_cost(candidate)
            best = torch.where(cost < best_cost, candidate, best)
            best_cost = torch.minimum(cost, best_cost)
    return best.to(velocity.dtype)


def polish_and_propagate(
    images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, config: PriorConfig
) -> torch.Tensor:
    """:func:`polish`, :func:`propagate`, and one more local-global step on the result.

    Gradients flow through ``velocity`` unchanged. Shapes as in :func:`polish`.
    """
    velocity = polish(images, velocity, dt, config)
    velocity = velocity + (propagate(images, velocity, dt, config) - velocity.detach())
    return polish(images, velocity, dt, config, iterations=1, median=False)
