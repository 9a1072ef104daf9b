"""The motion prior's refinement of a velocity field: the local-global polish and the propagation.

Both measure how well a velocity ``v`` aligns the observations: observation ``i`` is looked up at
``p + v * dt_i``, and the weighted spread of the looked-up values around their mean is the cost
(:func:`candidate_costs`). The polish (:func:`polish`) linearizes that cost and solves a small
system per pixel (Lucas-Kanade meets Horn-Schunck); the propagation (:func:`propagate`) lets a
pixel take a neighbour's velocity when that aligns its block better (PatchMatch). Their settings
are a :class:`tempo_core.network.prior_config.PriorConfig`.

Every function takes the observation weights ``[B, N]`` (sum 1) with ``dt``, so they are made
once per prior call, and works on many candidates or moments at a time: on a GPU each tensor
operation is a kernel launch, and the launches, not the arithmetic, set the time.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from tempo_core.network.filters import (
    box_mean,
    crossed_index,
    crossed_neighbour_sums,
    gradients_and_values,
    halved_differences_into,
    image_gradients,
    median_filter,
    neighbour_sum,
    sums_by_slices,
)
from tempo_core.network.layers import as_dtype, fold
from tempo_core.network.prior_config import PriorConfig
from tempo_core.network.sampling import identity_grid, warp, xy_constant


def look_up(images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Observations ``[B, N, C, h, w]`` looked up at ``p + velocity [B, 2, h, w] * dt [B, N]``."""
    offsets = velocity[:, None] * dt[:, :, None, None, None]  # (B, N, 2, h, w)
    return warp(fold(images), fold(offsets)).view(images.shape)


def candidate_look_ups(images: torch.Tensor, candidates: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Observations ``[B, N, C, h, w]`` looked up along each of ``candidates [B, K, 2, h, w]``
    velocities: ``[B, N, C, K, h, w]``, in one sampling call (the K grids stacked along the height).

    The grids are one multiply-add over rows of ``2 w`` interleaved (x, y) values: the candidates
    in the grids' layout (a view when they are stored as ``[B, K, h, w, 2]``, as block matching
    and propagation make them), the identity grid, and each observation's grid step repeated
    along a row, so that the innermost loop runs over a whole row, not over one (x, y) pair.
    """
    B, N, C, h, w = images.shape
    K = candidates.shape[1]
    steps = dt[:, :, None] * xy_constant(2.0 / w, 2.0 / h, images.device, candidates.dtype)  # (B, N, 2) grid units
    row_steps = steps[:, :, None, :].expand(B, N, w, 2).reshape(B, N, 1, 1, 2 * w)
    along = candidates.permute(0, 1, 3, 4, 2).reshape(B, 1, K, h, 2 * w)
    identity = identity_grid(h, w, images.device, candidates.dtype).view(h, 2 * w)
    grid = torch.addcmul(identity, along, row_steps)  # (B, N, K, h, 2 w)
    sampled = F.grid_sample(
        fold(images),
        grid.view(B * N, K * h, w, 2),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return sampled.view(B, N, C, K, h, w)


def _centred(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``values [B, N, ...]`` minus their ``weights [B, N]``-weighted mean over N."""
    shaped = weights.view(*weights.shape, *([1] * (values.dim() - 2)))
    return values - (values * shaped).sum(dim=1, keepdim=True)


def candidate_costs(
    images: torch.Tensor, candidates: torch.Tensor, dt: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Spread of the observations looked up along each candidate velocity.

    Args:
        images: ``[B, N, C, h, w]`` (a pyramid level: RGB in [0, 1]).
        candidates: ``[B, K, 2, h, w]`` velocities, pixels per unit of ``dt``.
        dt: ``[B, N]`` ``t_i - t_target``; weights: ``[B, N]`` observation weights (sum 1).

    Returns:
        ``[B, K, h, w]``: weighted squared distance of the looked-up values to their weighted mean,
        summed over channels. For two observations that is ``w_0 w_1`` times the squared difference
        of the two look-ups (see :func:`_weighted_moments`): a third of the passes over the
        ``[B, N, C, K, h, w]`` look-ups, which set the CPU's time.
    """
    looked_up = candidate_look_ups(images, candidates, dt)
    if looked_up.shape[1] == 2:
        difference = looked_up[:, 0] - looked_up[:, 1]  # (B, C, K, h, w)
        pair = (weights[:, 0] * weights[:, 1]).view(-1, 1, 1, 1)
        return difference.square_().sum(dim=1) * pair
    deviation = _centred(looked_up, weights)
    return (deviation.square() * weights[:, :, None, None, None, None]).sum(dim=(1, 2))


def with_gradient_channels(images: torch.Tensor, config: PriorConfig) -> torch.Tensor:
    """``[..., 3, h, w]`` RGB -> ``[..., 5, h, w]``: RGB and the x, y gradients of its grey level
    (times ``config.gradient_weight``).

    Matching the gradients too (gradient constancy) keeps the cost right where the brightness
    changes between frames (light, exposure, shadows). On a CPU's large maps the five channels are
    written into one output (:func:`~tempo_core.network.filters.halved_differences_into`), not
    padded, stacked and concatenated.
    """
    weight = config.gradient_weight
    if not sums_by_slices(images):
        grad_x, grad_y = image_gradients(images.mean(dim=-3, keepdim=True))
        return torch.cat([images, weight * grad_x, weight * grad_y], dim=-3)
    channels = images.new_empty(*images.shape[:-3], 5, *images.shape[-2:])
    channels[..., :3, :, :].copy_(images)
    halved_differences_into(images.mean(dim=-3), channels[..., 3, :, :], channels[..., 4, :, :])
    if weight != 1.0:
        channels[..., 3:, :, :].mul_(weight)
    return channels


SYSTEM_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2))  # xx, xy, xb, yy, yb of (x-Jacobian, y-Jacobian, residual)
SYSTEM_INDEX = [3 * a + b for a, b in SYSTEM_PAIRS]  # the same, in the flattened 3 x 3 products


def _pair_products(difference: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, C, 3, h, w]`` -> ``scale [B]`` times the :data:`SYSTEM_PAIRS` products summed over
    channels ``[B, 5, h, w]``, and the same for the residual's square ``[B, 1, h, w]``.

    On a CPU's large maps (:func:`~tempo_core.network.filters.sums_by_slices`) one product and sum
    per pair, written into one output: a quarter of the time of all nine products at once, which
    pass the memory three times over. Elsewhere (GPU, small maps) all nine in one multiply-sum and
    the six picked by one ``index_select``: four operations, not fourteen.
    """
    B, C, _, h, w = difference.shape
    scale = scale.view(B, 1, 1, 1)
    if sums_by_slices(difference):
        out = difference.new_empty(B, 6, h, w)
        for k, (a, b) in enumerate((*SYSTEM_PAIRS, (2, 2))):
            torch.sum(difference[:, :, a] * difference[:, :, b], dim=1, out=out[:, k])
        out.mul_(scale)
    else:
        products = (difference[:, :, :, None] * difference[:, :, None]).sum(dim=1).view(B, 9, h, w) * scale
        out = products.index_select(1, system_index(difference.device))
    return out[:, :5], out[:, 5:]


@functools.lru_cache(maxsize=16)
def system_index(device: torch.device) -> torch.Tensor:
    """:data:`SYSTEM_INDEX` and the residual's square (8) as an index tensor on ``device`` (shared:
    never modify it)."""
    with torch.inference_mode(False):
        return torch.tensor([*SYSTEM_INDEX, 8], device=device)


def _pair_difference(looked_up: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Two observations' look-ups ``[B, 2, C, h, w]`` -> the difference of their components
    ``[B, C, 3, h, w]`` (x-Jacobian, y-Jacobian, residual), what :func:`_weighted_moments` takes
    for N=2. The gradient is linear, so the Jacobians' difference ``dt_0 grad L_0 - dt_1 grad L_1``
    is the gradient of ``dt_0 L_0 - dt_1 L_1``: one gradient pass over C channels instead of 2 C
    (the same numbers up to rounding). For the CPU's large maps, where the passes set the time
    (:func:`~tempo_core.network.filters.halved_differences_into`).
    """
    scaled = looked_up * dt[:, :, None, None, None]
    jacobian = scaled[:, 0] - scaled[:, 1]  # (B, C, h, w)
    components = looked_up.new_empty(*jacobian.shape[:2], 3, *jacobian.shape[2:])
    halved_differences_into(jacobian, components[:, :, 0], components[:, :, 1])
    torch.sub(looked_up[:, 0], looked_up[:, 1], out=components[:, :, 2])
    return components


def _weighted_moments(components: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Products of the centred components, weighted over the observations, summed over channels.

    Args:
        components: ``[B, N, C, 3, h, w]`` (x-Jacobian, y-Jacobian, residual of each observation);
        weights: ``[B, N]`` (sum 1).

    Returns:
        ``[B, 5, h, w]``: ``sum_i w_i c_i[a] c_i[b]`` for the pairs ``xx, xy, xb, yy, yb``
        (:data:`SYSTEM_PAIRS`), ``c`` centred on the weighted mean over N; and ``[B, 1, h, w]``
        the same for (residual, residual), the spread. For two observations ``c_0 = w_1 (Z_0 - Z_1)``
        and ``c_1 = -w_0 (Z_0 - Z_1)``, so the sum is ``w_0 w_1`` times the products of the
        difference (:func:`_pair_products`): half the work, the same numbers up to rounding.
    """
    if components.shape[1] == 2:
        return _pair_products(components[:, 0] - components[:, 1], weights[:, 0] * weights[:, 1])
    centred = _centred(components, weights)
    weighted = centred * weights[:, :, None, None, None, None]
    outer = (weighted[:, :, :, :, None] * centred[:, :, :, None]).sum(dim=(1, 2))  # (B, 3, 3, h, w)
    B, _, _, h, w = outer.shape
    picked = outer.view(B, 9, h, w).index_select(1, system_index(components.device))
    return picked[:, :5], picked[:, 5:]


def local_global_system(
    images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, weights: torch.Tensor, config: PriorConfig
) -> torch.Tensor:
    """``[B, 5, h, w]`` block-averaged moments ``xx, xy, bx, yy, by`` of the linearized cost at ``velocity``.

    Every look-up is linearized, ``I_i(p + (v + d) dt_i) ~ I_i(p + v dt_i) + dt_i grad I_i . d``;
    the Jacobians ``dt_i grad I_i`` and the residuals are centred on their weighted mean over the
    observations, their weighted products summed over observations and channels
    (:func:`_weighted_moments`), re-weighted robustly (Charbonnier: pixels whose observations
    disagree count less) and averaged over an ``lk_window`` block. Shapes as in
    :func:`lucas_kanade_step`.
    """
    looked_up = look_up(images, velocity, dt)  # (B, N, C, h, w)
    if looked_up.shape[1] == 2 and sums_by_slices(looked_up):
        system, spread = _pair_products(_pair_difference(looked_up, dt), weights[:, 0] * weights[:, 1])
    else:
        components = gradients_and_values(looked_up)  # (B, N, C, 3, h, w)
        components[:, :, :, :2].mul_(dt[:, :, None, None, None, None])  # the Jacobians
        system, spread = _weighted_moments(components, weights)
    robust = (spread * config.robust_scale**-2 + 1).rsqrt()
    return box_mean(system * robust, config.lk_window)


@torch.no_grad()
def lucas_kanade_step(
    images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, weights: torch.Tensor, config: PriorConfig
) -> torch.Tensor:
    """One combined local-global update ``[B, 2, h, w]`` of ``velocity`` (no gradient).

    The weighted spread of the linearized look-ups summed over an ``lk_window`` block
    (:func:`local_global_system`) is the local (Lucas-Kanade) term; ``smoothness`` times the
    distance of ``v + d`` to its neighbours' mean is the global (Horn-Schunck) term that fills flat
    regions from their surroundings. ``smoothness_sweeps`` Jacobi sweeps of the per-pixel 2 x 2
    system minimize the sum (Bruhn et al., "Lucas/Kanade meets Horn/Schunck", 2005). All inputs
    float32 (the prior converts once, at its entry).

    Args:
        images: ``[B, N, C, h, w]`` (RGB in [0, 1], optionally with gradient channels);
            velocity ``[B, 2, h, w]``; dt ``[B, N]``; weights ``[B, N]`` (sum 1).

    Returns:
        The step ``d``, each component clamped to ``[-lk_max_step, lk_max_step]``.
    """
    system = local_global_system(images, velocity, dt, weights, config)
    return _jacobi_sweeps(system, velocity, config)


def _jacobi_sweeps(system: torch.Tensor, velocity: torch.Tensor, config: PriorConfig) -> torch.Tensor:
    """``smoothness_sweeps`` Jacobi sweeps of ``[[xx, xy], [xy, yy]] d = S (mean(v + d) - v) - b``.

    Args:
        system: ``[B, 5, h, w]`` (xx, xy, bx, yy, by) of :func:`local_global_system`;
            velocity ``[B, 2, h, w]``.

    Returns:
        The step ``d [B, 2, h, w]``, clamped to ``[-lk_max_step, lk_max_step]`` after every sweep.

    With ``A`` the 2 x 2 matrix plus ``S`` on its diagonal, a sweep is ``d = A^-1 (k + S mean(d))``:
    the neighbour mean is linear, so ``S (mean(v + d) - v) - b = S mean(d) + k``. The inverse is
    formed once, its entries laid out against the crossed components ``(x, y, y, x)``
    (:func:`~tempo_core.network.filters.crossed_neighbour_sums`), so that a sweep is five tensor
    operations: one convolution for the neighbour sums, one multiply-add, the sum of pairs, the
    clamp (and the padding). The first sweep, from ``d = 0``, needs no neighbour sum.
    """
    if config.smoothness_sweeps <= 0:
        return torch.zeros_like(velocity)
    smoothness, bound = config.smoothness, config.lk_max_step
    B, _, h, w = velocity.shape
    diagonal = system[:, 0:4:3] + smoothness  # (xx + S, yy + S)
    off_diagonal, b = system[:, 1:2], system[:, 2:5:2]  # xy, (bx, by)
    negative_off_diagonal = off_diagonal.neg()
    determinant = torch.addcmul(diagonal.prod(dim=1, keepdim=True), off_diagonal, negative_off_diagonal)
    # d_x = ((yy + S) g_x - xy g_y) / det and d_y = ((xx + S) g_y - xy g_x) / det, for g in (x, y, y, x)
    inverse = torch.cat([diagonal[:, 1:], negative_off_diagonal, diagonal[:, :1], negative_off_diagonal], dim=1)
    inverse = inverse.div_(determinant)
    constant = torch.sub(neighbour_sum(velocity), velocity, alpha=9).mul_(smoothness / 9).sub_(b)
    crossed = constant.index_select(1, crossed_index(constant.device))
    start = inverse * crossed  # (B, 4, h, w): the pairs sum to A^-1 k
    first = start.view(B, 2, 2, h, w).sum(dim=2)
    step = first.clamp(-bound, bound)
    if sums_by_slices(velocity):
        return _sweeps_by_components(first, inverse * (smoothness / 9), step, config)
    for _ in range(config.smoothness_sweeps - 1):
        crossed = crossed_neighbour_sums(step, smoothness / 9)
        step = torch.addcmul(start, inverse, crossed).view(B, 2, 2, h, w).sum(dim=2).clamp_(-bound, bound)
    return step


def _sweeps_by_components(
    first: torch.Tensor, weighted_inverse: torch.Tensor, step: torch.Tensor, config: PriorConfig
) -> torch.Tensor:
    """The sweeps of :func:`_jacobi_sweeps` after the first, for a CPU's large maps: each component
    of ``step [B, 2, h, w]`` as ``A^-1 k`` (``first [B, 2, h, w]``) plus two multiply-adds of the
    neighbour sums (:func:`~tempo_core.network.filters.neighbour_sum`) with the inverse's entries
    times ``S / 9`` (``weighted_inverse [B, 4, h, w]``, laid out against ``(x, y, y, x)``). Half
    the passes over the maps of the crossed layout, which a CPU feels (not its operation count)."""
    bound = config.lk_max_step
    a, b, c, d = weighted_inverse.split(1, dim=1)  # step_x = a x + b y, step_y = c y + d x (plus first)
    for _ in range(config.smoothness_sweeps - 1):
        sums = neighbour_sum(step)  # read before step is overwritten
        x, y = sums[:, 0:1], sums[:, 1:2]
        torch.addcmul(first[:, 0:1], a, x, out=step[:, 0:1]).addcmul_(b, y)
        torch.addcmul(first[:, 1:2], c, y, out=step[:, 1:2]).addcmul_(d, x)
        step.clamp_(-bound, bound)
    return step


def polish(
    images: torch.Tensor,
    velocity: torch.Tensor,
    dt: torch.Tensor,
    weights: torch.Tensor,
    config: PriorConfig,
    iterations: int | None = None,
    median: bool = True,
    features: torch.Tensor | None = None,
) -> torch.Tensor:
    """``iterations`` (default ``config.lk_iterations``) local-global steps on RGB and gradients,
    then a ``median_size`` median filter if ``median`` (and ``median_size`` > 1).

    Gradients flow through ``velocity`` unchanged (every update is added as a constant).

    Args:
        images: ``[B, N, 3, h, w]`` in [0, 1]; velocity ``[B, 2, h, w]``; dt, weights ``[B, N]``; float32.
        features: :func:`with_gradient_channels` of ``images`` when the caller has it already.
    """
    steps = config.lk_iterations if iterations is None else iterations
    if features is None and steps > 0:
        with torch.no_grad():
            features = with_gradient_channels(as_dtype(images, torch.float32), config)
    for _ in range(steps):
        velocity = velocity + as_dtype(lucas_kanade_step(features, velocity, dt, weights, config), velocity.dtype)
    if median and config.median_size > 1:
        filtered = median_filter(velocity, config.median_size)
        velocity = velocity + as_dtype(filtered - velocity.detach(), velocity.dtype)
    return velocity


@torch.no_grad()
def propagate(
    images: torch.Tensor,
    velocity: torch.Tensor,
    dt: torch.Tensor,
    weights: torch.Tensor,
    config: PriorConfig,
    distances: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """PatchMatch-style propagation: every pixel may take a neighbour's velocity.

    For each distance ``d`` of ``propagation_distances`` (far to near), a pixel adopts the velocity
    of whichever pixel ``d`` away (left, right, up, down) aligns the observations best over a
    ``propagation_window`` block, if that is better than its own. Motion edges that the window
    averages get sharp again, and a wrong region takes the right motion of its surroundings
    (Barnes et al., "PatchMatch", 2009; Bleyer et al., "PatchMatch Stereo", 2011). The four
    neighbours of a distance are compared at once (one look-up, one box mean).

    Args:
        images: ``[B, N, 3, h, w]`` in [0, 1]; velocity ``[B, 2, h, w]``; dt, weights ``[B, N]``; float32.
        distances: far to near (None: ``config.propagation_distances``; empty: none).
    """
    window = config.propagation_window

    def block_costs(candidates: torch.Tensor) -> torch.Tensor:
        return box_mean(candidate_costs(images, candidates, dt, weights), window)

    best = velocity
    best_cost = block_costs(best[:, None])
    h, w = best.shape[-2:]
    for distance in config.propagation_distances if distances is None else distances:
        padded = F.pad(best, (distance,) * 4, mode="replicate").permute(0, 2, 3, 1)  # (B, h + 2d, w + 2d, 2)
        d = distance
        neighbours = torch.stack(  # the current best, then the velocity of the pixel d to the left, right, above, below
            [
                padded[:, d : d + h, d : d + w],
                padded[:, d : d + h, 0:w],
                padded[:, d : d + h, 2 * d : 2 * d + w],
                padded[:, 0:h, d : d + w],
                padded[:, 2 * d : 2 * d + h, d : d + w],
            ],
            dim=1,
        ).permute(0, 1, 4, 2, 3)  # (B, 5, 2, h, w), stored as (B, 5, h, w, 2): the sampling grids' layout
        costs = torch.cat([best_cost, block_costs(neighbours[:, 1:])], dim=1)  # (B, 5, h, w); ties keep the best
        best_cost, choice = costs.min(dim=1, keepdim=True)
        best = neighbours.gather(1, choice[:, :, None].expand(-1, -1, 2, -1, -1)).squeeze(1)
    return best


def polish_and_propagate(
    images: torch.Tensor, velocity: torch.Tensor, dt: torch.Tensor, weights: torch.Tensor, config: PriorConfig
) -> torch.Tensor:
    """:func:`polish`, :func:`propagate`, and one more local-global step on the result.

    Gradients flow through ``velocity`` unchanged. Shapes as in :func:`polish`.
    """
    with torch.no_grad():
        features = with_gradient_channels(as_dtype(images, torch.float32), config)
    velocity = polish(images, velocity, dt, weights, config, features=features)
    velocity = velocity + (propagate(images, velocity, dt, weights, config) - velocity.detach())
    return polish(images, velocity, dt, weights, config, iterations=1, median=False, features=features)
