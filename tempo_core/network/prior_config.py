"""The motion prior's tuned settings, in one frozen dataclass.

Every value was chosen on triplets and septuplets cut from the training videos
(``benchmarks/studies/motion_prior_study.py``, docs/decisions/). A study changes them with
``dataclasses.replace`` on a copy, never on the module::

    prior.config = dataclasses.replace(prior.config, lk_iterations=3)
"""

from __future__ import annotations

from dataclasses import dataclass

from tempo_core.frame_sizes import LARGE_FRAME_PIXELS, PRIOR_FULL_SIZE_MAX_PIXELS
from tempo_core.network.layers import OBSERVATION_SHARPNESS


@dataclass(frozen=True)
class PriorConfig:
    """Settings of :class:`tempo_core.network.motion.BilateralMotionPrior`.

    Attributes:
        observation_sharpness: observation weights ``softmax(-s |dt|)``, dt in pair gaps.
        negligible_distance: observations farther than this many pair gaps beyond the second
            nearest are left out (their weight is below ``e**-6`` of it).
        pair_gap_units: measure time in gaps of the bracketing pair (False: normalized time).
        search_radius: the block matching's search radius r, in pixels of each scale (1/32 to
            1/4) per pair gap: it reaches r * 32 input pixels at 1/32. Its own setting, not the
            correlation pyramid's (``TempoConfig.corr_radius``, 3 in the shipped model, as this).
        lk_window: side of the block the local-global moments are averaged over (odd).
        lk_iterations: local-global steps per scale (1/32 to 1/4, and 1/2).
        full_size_iterations: local-global steps at full size (no median there;
            docs/decisions/025-no-full-size-step.md).
        full_size_max_pixels: the full-size steps run on frames of at most this many pixels; a
            larger frame takes the 1/2 size's velocity upsampled (as good there,
            docs/decisions/026-full-size-step-small-frames.md).
        large_frame_pixels: frames of more pixels than this (720p and up) take a cheaper 1/2
            size (docs/decisions/031-processing-scale.md: measured where the network runs at half size on
            them and the prior
            on the full-size frames; at 480p it lost up to 0.7 dB with the whole network).
        large_half_size_iterations: on such a frame, the local-global steps at 1/2 size before its
            propagation, with no median and no step after; None: the 1/2 size of the smaller
            frames (``lk_iterations``, the median, propagation, one step).
        large_propagation_distances: the propagation distances at 1/2 size on such a frame.
        lk_max_step: bound of each component of one step (pixels per time unit).
        smoothness: weight of the neighbours' mean velocity (the global, Horn-Schunck term).
        smoothness_sweeps: Jacobi sweeps of the per-pixel 2 x 2 system per step.
        robust_scale: Charbonnier scale of the spread of the observations (RGB in [0, 1]).
        median_size: side of the median filter after each scale's steps (1: none).
        gradient_weight: weight of the grey-level gradient channels beside RGB.
        propagation_distances: PatchMatch propagation distances, far to near (pixels).
        propagation_window: side of the block over which propagation compares costs (odd).
    """

    observation_sharpness: float = OBSERVATION_SHARPNESS
    negligible_distance: float = 0.75
    pair_gap_units: bool = True
    search_radius: int = 3
    lk_window: int = 7
    lk_iterations: int = 5
    full_size_iterations: int = 1
    full_size_max_pixels: int = PRIOR_FULL_SIZE_MAX_PIXELS
    large_frame_pixels: int = LARGE_FRAME_PIXELS
    large_half_size_iterations: int | None = 1
    large_propagation_distances: tuple[int, ...] = (4, 2, 1)
    lk_max_step: float = 1.0
    smoothness: float = 1e-2
    smoothness_sweeps: int = 5
    robust_scale: float = 0.05
    median_size: int = 5
    gradient_weight: float = 1.0
    propagation_distances: tuple[int, ...] = (16, 8, 4, 2, 1)
    propagation_window: int = 9
