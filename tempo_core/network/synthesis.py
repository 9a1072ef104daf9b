"""Full-resolution synthesis: a last deformable sampling of the input pixels, plus a residual.

Features start at 1/4 resolution, so the finest detail would be lost if the decoder had to paint
every pixel. Instead the finest attention scale's offsets and weights are condensed into one
motion vector and one weight per observation and refined by the decoder. The learned part of that
motion (what the attention added to the motion prior) is upsampled 4x and added to the prior's
full-resolution motion; the result samples the *input pixels* at full resolution. Their weighted
blend is the base image (the weights lean towards the observations nearest the target); the
decoder adds a residual (zero at initialization) and a confidence correction. How much the
looked-up observations disagree around their blend (:func:`observation_spread`) is returned too:
where they agree after the final motion, the blend is likely right (photometric consistency).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from tempo_core.network.layers import fold
from tempo_core.network.sampling import upsample_velocity, warp
from tempo_core.network.temporal_attention import AttentionState

UPSCALE = 4


def condense_attention(state: AttentionState) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention over (heads, points) -> one motion and one weight per observation.

    Returns:
        motion ``[B, N, 2, h, w]`` (pixels at 1/4 scale, weighted mean of the sampling offsets)
        and frame weights ``[B, N, h, w]`` (sum over N is 1).
    """
    weights = state.weights  # (B, N, heads, P, h, w)
    heads = weights.shape[2]
    frame_mass = weights.sum(dim=(2, 3))  # (B, N, h, w)
    motion = (state.offsets * weights.unsqueeze(4)).sum(dim=(2, 3)) / frame_mass.unsqueeze(2).clamp_min(1e-6)
    return motion, frame_mass / heads


def observation_spread(look_ups: torch.Tensor, weights: torch.Tensor, blend: torch.Tensor) -> torch.Tensor:
    """Weighted spread of the looked-up observations around their blend, summed over RGB.

    Args:
        look_ups: ``[B, N, 3, H, W]`` the observations sampled at the final motion, in [0, 1].
        weights: ``[B, N, H, W]`` their blend weights (sum over N is 1).
        blend: ``[B, 3, H, W]`` ``sum_n weights_n * look_ups_n``.

    Returns:
        ``[B, 1, H, W]`` in [0, 3]: ``sum_n weights_n * |look_ups_n - blend|^2``; 0 where every
        observation shows the same colour. For N=2 that is ``w_0 w_1 |x_0 - x_1|^2`` (the
        deviations are ``w_1 (x_0 - x_1)`` and ``-w_0 (x_0 - x_1)``, the weights sum to 1), computed
        so: half the passes over full-size maps, the same numbers up to rounding.
    """
    if look_ups.shape[1] == 2:
        difference = (look_ups[:, 0] - look_ups[:, 1]).square_().sum(dim=1, keepdim=True)  # (B, 1, H, W)
        return difference.mul_(weights[:, :1]).mul_(weights[:, 1:])
    deviation = (look_ups - blend.unsqueeze(1)).square().sum(dim=2)  # (B, N, H, W)
    return (deviation * weights).sum(dim=1, keepdim=True)


class PixelSynthesis(NamedTuple):
    """What :class:`PixelSynthesisHead` makes, all at full size (``H x W``).

    rgb ``[B, 3, H, W]`` in [0, 1]: ``blend + residual`` clamped; weights ``[B, N, H, W]`` (sum over
    N is 1); residual ``[B, 3, H, W]``: what the decoder adds to the blend; confidence_correction
    ``[B, 1, H, W]`` (a logit); spread ``[B, 1, H, W]`` in [0, 3] (:func:`observation_spread`).
    """

    rgb: torch.Tensor
    weights: torch.Tensor
    residual: torch.Tensor
    confidence_correction: torch.Tensor
    spread: torch.Tensor


class PixelSynthesisHead(nn.Module):
    """Refines per-observation motion and weight, samples input pixels, adds a residual.

    Args:
        channels: decoder width C at 1/4 resolution.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.refine = nn.Sequential(
            nn.Conv2d(2 * channels + 2, channels, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, 3, 3, padding=1),
        )
        self.residual = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, 4 * UPSCALE**2, 1),
            nn.PixelShuffle(UPSCALE),
        )
        for last in (self.refine[-1], self.residual[-2]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(
        self,
        frames: torch.Tensor,
        decoded: torch.Tensor,
        fine_features: torch.Tensor,
        state: AttentionState,
        prior: torch.Tensor,
        fine_prior: torch.Tensor,
        observation_weights: torch.Tensor,
        projected: torch.Tensor | None = None,
    ) -> PixelSynthesis:
        """Synthesize the full-resolution frame.

        Args:
            frames: ``[B, N, 3, H, W]`` observations in [0, 1].
            decoded: ``[B, C, H/4, W/4]`` decoder output.
            fine_features: ``[B, N, C, H/4, W/4]`` encoder features of the finest scale.
            state: the finest attention scale's state.
            prior: ``[B, N, 2, H/4, W/4]`` the motion prior's offsets at 1/4 (pixels at 1/4).
            fine_prior: ``[B, N, 2, H, W]`` the motion prior's offsets at full size (input pixels).
            observation_weights: ``[B, N]`` prior weights of the observations (sum 1).
            projected: :meth:`project_features` of ``fine_features`` when the caller has it.

        Returns:
            a :class:`PixelSynthesis`.
        """
        warped, full_weights = self.look_ups(
            frames, decoded, fine_features, state, prior, fine_prior, observation_weights, projected
        )
        blend = (warped * full_weights.unsqueeze(2)).sum(dim=1)
        residual = self.residual(decoded)  # (B, 4, H, W)
        rgb = (blend + residual[:, :3]).clamp(0.0, 1.0)
        spread = observation_spread(warped, full_weights, blend)
        return PixelSynthesis(rgb, full_weights, residual[:, :3], residual[:, 3:], spread)

    def project_features(self, fine_features: torch.Tensor) -> torch.Tensor:
        """The features' part of the refine convolution, with its bias, ``[B, N, C, h, w]`` for
        ``fine_features [B, N, C, h, w]``: the same for every target time, so
        :meth:`TempoNet.encode` makes it once."""
        B, N, C, h, w = fine_features.shape
        first = self.refine[0]  # weight (C, 2 C + 2, 3, 3): decoded, features, motion
        return F.conv2d(fold(fine_features), first.weight[:, C : 2 * C], first.bias, padding=1).view(B, N, C, h, w)

    def _refine(
        self,
        decoded: torch.Tensor,
        fine_features: torch.Tensor,
        motion: torch.Tensor,
        projected: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``self.refine`` of (decoded, features, motion / UPSCALE) per observation, ``[B*N, 3, h, w]``.

        The first convolution is linear, so it is the sum of its parts: the decoder output's part
        once for all N (it is the same for every observation), the features' part from
        ``projected`` (:meth:`project_features`, made here when None), no concatenated copy. The
        same numbers as the convolution of the concatenation, up to rounding
        (tests/core/network/test_model.py)."""
        B, N, C, h, w = fine_features.shape
        weight = self.refine[0].weight
        projected = projected if projected is not None else self.project_features(fine_features)
        from_decoded = F.conv2d(decoded, weight[:, :C], padding=1)  # (B, C, h, w)
        per_frame = F.conv2d(fold(motion / UPSCALE), weight[:, 2 * C :], padding=1).view(B, N, C, h, w)
        per_frame = per_frame.add_(projected).add_(from_decoded[:, None])
        return self.refine[1:](fold(per_frame))

    def look_ups(
        self,
        frames: torch.Tensor,
        decoded: torch.Tensor,
        fine_features: torch.Tensor,
        state: AttentionState,
        prior: torch.Tensor,
        fine_prior: torch.Tensor,
        observation_weights: torch.Tensor,
        projected: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The observations sampled at full size and their blend weights (arguments as :meth:`forward`).

        Returns:
            look-ups ``[B, N, 3, H, W]`` in [0, 1] and weights ``[B, N, H, W]`` (sum over N is 1).
        """
        B, N, _, H, W = frames.shape
        motion, frame_weights = condense_attention(state)
        h, w = motion.shape[-2:]
        delta = self._refine(decoded, fine_features, motion, projected).view(B, N, 3, h, w)
        learned = fold(motion + delta[:, :, :2] - prior)
        logits = frame_weights.clamp_min(1e-6).log() + delta[:, :, 2] + observation_weights.log()[:, :, None, None]
        frame_weights = logits.softmax(dim=1)

        full_motion = fold(fine_prior) + upsample_velocity(learned, (H, W))
        warped = warp(fold(frames), full_motion).view(B, N, 3, H, W)
        full_weights = F.interpolate(frame_weights, size=(H, W), mode="bilinear", align_corners=False)
        return warped, full_weights
