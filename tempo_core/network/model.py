"""TempoNet: encode observations once, synthesize any target time from the cached features.

Data flow (shapes for input ``[B, N, 3, H, W]``, scale s = 0..3 at ``1 / 2**(s+2)``)::

    times --normalize--> tau_i (anchors), tau* (target), dt_i = tau_i - tau*
    frames --ConvNeXt + AdaLN-Zero(tau_i)--> features_s  [B, N, C_s, H_s, W_s]      (encode)
    for s = 3 .. 0 (coarse to fine, cross-scale guidance):                       (synthesize)
        v_s     = bilateral motion prior(image pyramid_s, dt, 2 * up(v_{s+1}))  [B, 2, H_s, W_s]
        aligned = features_s looked up at p + v_s * dt_i
        query_s = proj([proximity blend of aligned, up(fused_{s+1})]) + emb(tau*)
        corr_s  = correlation pyramid(query_s, aligned keys)     [B, N, L*(2r+1)^2, H_s, W_s]
        fused_s = deformable temporal attention(query_s, features_s, corr_s, dt,
                      guide = v_s * dt_i + 2 * up(learned offsets_{s+1}))
    decoded = NAFNet(fused_*, skips = proximity blends)          [B, C, H/4, W/4]
    v_full  = local-global polish(v_0, frames at 1/2, full size)  [B, 2, H, W]
    rgb, weights = pixel synthesis(frames, decoded, attention state at s=0,
                       base motion = v_full * dt_i + up(learned offsets at s=0))
    confidence = sigmoid(a * (1 - entropy_0) + b + correction + d * log(spread + floor))
        (spread: how much the full-size look-ups disagree around their blend)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tempo_core.network.config import TempoConfig
from tempo_core.network.correlation import correlation_channels, correlation_levels
from tempo_core.network.decoder import NAFNetDecoder
from tempo_core.network.encoder import ConvNeXtEncoder
from tempo_core.network.layers import (
    PROXIMITY_SHARPNESS,
    SinusoidalTimeEncoding,
    fold,
    time_proximity,
    upsample2x,
)
from tempo_core.network.motion import BilateralMotionPrior, image_pyramid
from tempo_core.network.sampling import warp
from tempo_core.network.synthesis import PixelSynthesisHead
from tempo_core.network.temporal_attention import AttentionState, DeformableTemporalAttention, ProjectedFeatures

# Added to the look-ups' spread (sum over RGB of a squared difference, [0, 3]) before its log: about
# the spread of 2-3 levels of noise in 8-bit frames, so agreement within noise reads as agreement.
DISAGREEMENT_FLOOR = 1e-3


@dataclass
class EncodedObservations:
    """Cached result of :meth:`TempoNet.encode`.

    frames: ``[B, N, 3, H, W]``; features: four ``[B, N, C_s, H_s, W_s]`` (fine to coarse);
    keys: the same shapes, projected for correlation; image_pyramid: four ``[B, N, 3, H_s, W_s]``
    (the frames average-pooled to each scale, for the motion prior); anchor_times: ``[B, N]`` normalized;
    center, span: ``[B]`` (normalized time = (t - center) / span). attention_inputs: per scale, what
    the attention takes from the features alone (:class:`ProjectedFeatures`); refine_input:
    ``[B, N, C_0, H_0, W_0]``, the synthesis head's part of the finest features
    (:meth:`PixelSynthesisHead.project_features`). Both are the same for every target time; None
    makes :meth:`TempoNet.synthesize` compute them per call.
    """

    frames: torch.Tensor
    features: list[torch.Tensor]
    keys: list[torch.Tensor]
    image_pyramid: list[torch.Tensor]
    anchor_times: torch.Tensor
    center: torch.Tensor
    span: torch.Tensor
    attention_inputs: list[ProjectedFeatures] | None = None
    refine_input: torch.Tensor | None = None

    def expand(self, count: int) -> EncodedObservations:
        """This batch-1 encoding repeated ``count`` times without copying (many target times)."""
        if count == 1:
            return self

        def grow(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.expand(count, *tensor.shape[1:])

        attention = self.attention_inputs
        return EncodedObservations(
            frames=grow(self.frames),
            features=[grow(f) for f in self.features],
            keys=[grow(k) for k in self.keys],
            image_pyramid=[grow(level) for level in self.image_pyramid],
            anchor_times=grow(self.anchor_times),
            center=grow(self.center),
            span=grow(self.span),
            attention_inputs=None
            if attention is None
            else [dataclasses.replace(p, values=grow(p.values), context=grow(p.context)) for p in attention],
            refine_input=None if self.refine_input is None else grow(self.refine_input),
        )


@dataclass
class AnchorMotion:
    """The motion prior of :meth:`TempoNet.anchor_motion`, at one reference time between anchors.

    velocities: four ``[B, 2, H_s, W_s]`` (fine to coarse) and full: ``[B, 2, H, W]``, pixels of
    their scale per unit of normalized time; reference: ``[B]`` normalized time.
    """

    velocities: list[torch.Tensor]
    full: torch.Tensor
    reference: torch.Tensor

    def expand(self, count: int) -> AnchorMotion:
        """This batch-1 motion repeated ``count`` times without copying (many target times)."""
        if count == 1:
            return self
        return AnchorMotion(
            [velocity.expand(count, *velocity.shape[1:]) for velocity in self.velocities],
            self.full.expand(count, *self.full.shape[1:]),
            self.reference.expand(count),
        )


def retime(velocity: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``[B, 2, h, w]`` velocity at time ``t`` -> at time ``t - shift`` (``shift [B]``, normalized),
    assuming each point keeps its velocity: the point at ``p`` then was at ``p + v shift`` at ``t``."""
    return warp(velocity, velocity * shift.view(-1, 1, 1, 1))


def normalize_times(timestamps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[B, N]`` timestamps -> normalized ``[B, N]``, center ``[B]``, span ``[B]``."""
    timestamps = timestamps.double()
    low, high = timestamps.min(dim=1).values, timestamps.max(dim=1).values
    center, span = (low + high) / 2, (high - low).clamp_min(1e-9)
    return ((timestamps - center[:, None]) / span[:, None]).float(), center, span


def normalized_time(encoded: EncodedObservations, time: torch.Tensor) -> torch.Tensor:
    """``[B]`` times in the timestamps' unit -> normalized as the encoding's anchor times, ``[B]``."""
    return ((time.double().view(-1) - encoded.center) / encoded.span).float()


class TempoNet(nn.Module):
    """The TEMPO network. ``forward`` is pure: inputs must be multiples of 32 in H and W.

    Args:
        config: a :class:`TempoConfig`.
    """

    def __init__(self, config: TempoConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.scale_channels
        time_dim = config.temporal_channels
        corr_width = correlation_channels(config.corr_levels, config.corr_radius)
        self.anchor_time_encoding = SinusoidalTimeEncoding(time_dim)
        self.delta_time_encoding = SinusoidalTimeEncoding(time_dim)
        self.target_time_encoding = SinusoidalTimeEncoding(time_dim)
        self.encoder = ConvNeXtEncoder(config)
        self.motion_prior = BilateralMotionPrior()  # its search radius is its own (PriorConfig)
        self.key_projs = nn.ModuleList(nn.Conv2d(c, c, 1) for c in channels)
        self.query_projs = nn.ModuleList(nn.Conv2d(2 * c if s < 3 else c, c, 1) for s, c in enumerate(channels))
        self.query_time = nn.ModuleList(nn.Linear(time_dim, c) for c in channels)
        self.coarse_to_fine = nn.ModuleList(nn.Conv2d(channels[s + 1], c, 1) for s, c in enumerate(channels[:3]))
        self.attention = nn.ModuleList(
            DeformableTemporalAttention(
                c,
                time_dim,
                corr_width,
                config.attn_heads,
                config.attn_points,
                config.offset_scale * 2**-s,
            )
            for s, c in enumerate(channels)
        )
        self.decoder = NAFNetDecoder(config)
        self.synthesis = PixelSynthesisHead(channels[0])
        # Calibration of confidence = sigmoid(scale * (1 - entropy) + bias + correction):
        # uniform attention (entropy 1) starts near 0.12, a single sharp match near 0.998.
        self.confidence_scale = nn.Parameter(torch.tensor(8.0))
        self.confidence_bias = nn.Parameter(torch.tensor(-2.0))
        # Weight of log(spread + floor) (where the looked-up observations disagree) in the logit.
        # 0 leaves the map as it was without it: the value a checkpoint from before it loads with.
        self.confidence_disagreement = nn.Parameter(torch.tensor(0.0))

    def encode(self, frames: torch.Tensor, timestamps: torch.Tensor) -> EncodedObservations:
        """Encode N observations once.

        Args:
            frames: ``[B, N, 3, H, W]`` in [0, 1], H and W multiples of 32.
            timestamps: ``[B, N]`` in any unit, not all equal.
        """
        frames = frames.contiguous()  # frames from HWC arrays are channels-last; the network's views need NCHW
        B, N, _, H, W = frames.shape
        anchor_times, center, span = normalize_times(timestamps)
        condition = fold(self.anchor_time_encoding(anchor_times))  # (B*N, D)
        pyramid = self.encoder(fold(frames), condition)
        features = [f.view(B, N, *f.shape[1:]) for f in pyramid]
        keys = [proj(f).view(B, N, *f.shape[1:]) for proj, f in zip(self.key_projs, pyramid, strict=True)]
        pyramid_of_images = image_pyramid(frames)
        # what does not depend on the target time, made once here rather than once per target
        attention_inputs = [layer.project_features(f) for layer, f in zip(self.attention, features, strict=True)]
        refine_input = self.synthesis.project_features(features[0])
        return EncodedObservations(
            frames, features, keys, pyramid_of_images, anchor_times, center, span, attention_inputs, refine_input
        )

    def synthesize(
        self,
        encoded: EncodedObservations,
        target_time: torch.Tensor,
        between_stages: Callable[[], None] | None = None,
        motion: AnchorMotion | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Synthesize the frame at ``target_time`` ``[B]`` (same unit as the timestamps).

        ``between_stages`` (optional) is called after each stage: the prior's search, every
        attention scale, the decoder, the prior at full size, the pixel synthesis. It may raise to
        stop the synthesis (the app's cancel); it must not touch the tensors. ``motion`` (optional,
        from :meth:`anchor_motion`): the prior's velocities at a nearby reference time, re-timed to
        the target (:func:`retime`) instead of searched again (slow motion: once per anchor gap).

        Returns:
            rgb ``[B, 3, H, W]`` in [0, 1] and ``aux`` with ``confidence`` ``[B, 1, H, W]`` in
            [0, 1], ``entropy`` ``[B, 1, H, W]`` (normalized attention entropy, finest scale),
            ``disagreement`` ``[B, 1, H, W]`` in [log(1e-3), log(3 + 1e-3)] (log of the full-size
            look-ups' spread around their blend plus :data:`DISAGREEMENT_FLOOR`),
            ``weights`` ``[B, N, H, W]`` (each observation's share of every pixel), ``residual``
            ``[B, 3, H, W]`` (the decoder's addition to their blend: rgb is ``sum_n weights_n *
            look-up_n + residual``, clamped to [0, 1]),
            ``motion_prior`` ``[B, 2, H/4, W/4]`` (bilateral velocity, pixels per unit time at 1/4)
            and ``motion_prior_full`` ``[B, 2, H, W]`` (the same refined at full size, input pixels).
        """
        target = normalized_time(encoded, target_time)  # (B,)
        dt = encoded.anchor_times - target[:, None]  # (B, N)
        proximity = time_proximity(dt, PROXIMITY_SHARPNESS)  # (B, N)
        dt_embedding = self.delta_time_encoding(dt)  # (B, N, D)
        target_embedding = self.target_time_encoding(target)  # (B, D)

        fused_pyramid: list[torch.Tensor] = [None] * 4  # type: ignore[list-item]
        skips: list[torch.Tensor] = [None] * 4  # type: ignore[list-item]
        checkpoint = between_stages or _no_check
        if motion is None:
            velocities = self.motion_prior.velocities(encoded.image_pyramid, dt, between_stages)
        else:
            shift = motion.reference - target
            velocities = [retime(velocity, shift) for velocity in motion.velocities]
        checkpoint()
        fused, learned, state = None, None, None
        for scale in reversed(range(4)):
            prior = velocities[scale][:, None] * dt[:, :, None, None, None]  # (B, N, 2, h, w)
            fused, state, skips[scale] = self._attend(
                scale, encoded, prior, proximity, fused, learned, dt, dt_embedding, target_embedding
            )
            learned = state.offsets - prior[:, :, None, None]
            fused_pyramid[scale] = fused
            checkpoint()

        decoded = self.decoder(fused_pyramid, skips)
        checkpoint()
        if motion is None:
            fine_velocity = self.motion_prior.full_resolution(encoded.frames, dt, velocities[0], between_stages)
        else:
            fine_velocity = retime(motion.full, motion.reference - target)
        checkpoint()
        fine_prior = fine_velocity[:, None] * dt[:, :, None, None, None]  # (B, N, 2, H, W)
        observation_weights = self.motion_prior.observation_weights(dt)
        pixels = self.synthesis(
            encoded.frames,
            decoded,
            encoded.features[0],
            state,
            prior,
            fine_prior,
            observation_weights,
            encoded.refine_input,
        )
        checkpoint()
        size = pixels.rgb.shape[-2:]
        entropy = F.interpolate(state.entropy, size=size, mode="bilinear", align_corners=False)
        confidence_logit = self.confidence_scale * (1.0 - entropy) + self.confidence_bias
        # The correction comes out of a PixelShuffle(4), constant over 4x4 blocks (a grid in the map): smooth it.
        correction = F.interpolate(F.avg_pool2d(pixels.confidence_correction, 4), size=size, mode="bilinear")
        disagreement = (pixels.spread + DISAGREEMENT_FLOOR).log()
        confidence = torch.sigmoid(
            torch.addcmul(confidence_logit + correction, self.confidence_disagreement, disagreement)
        )
        aux = {
            "confidence": confidence,
            "entropy": entropy,
            "disagreement": disagreement,
            "weights": pixels.weights,
            "residual": pixels.residual,
            "motion_prior": velocities[0],
            "motion_prior_full": fine_velocity,
        }
        return pixels.rgb, aux

    def anchor_motion(
        self,
        encoded: EncodedObservations,
        reference_time: torch.Tensor,
        between_stages: Callable[[], None] | None = None,
    ) -> AnchorMotion:
        """The motion prior at ``reference_time`` ``[B]`` (timestamps' unit), all scales and full size:
        the part of a synthesis that :meth:`synthesize` can re-time to other targets nearby.
        ``between_stages`` as in :meth:`synthesize` (called after each scale of the search and
        between the steps of the full size)."""
        reference = normalized_time(encoded, reference_time)
        dt = encoded.anchor_times - reference[:, None]
        velocities = self.motion_prior.velocities(encoded.image_pyramid, dt, between_stages)
        full = self.motion_prior.full_resolution(encoded.frames, dt, velocities[0], between_stages)
        return AnchorMotion(velocities, full, reference)

    @staticmethod
    def _aligned_blend(features: torch.Tensor, prior: torch.Tensor, proximity: torch.Tensor) -> torch.Tensor:
        """Observations ``[B, N, C, h, w]`` moved along the prior and blended by proximity ``[B, N]``."""
        aligned = warp(fold(features), fold(prior)).view(features.shape)
        return (aligned * proximity[:, :, None, None, None]).sum(dim=1)

    def _attend(
        self,
        scale: int,
        encoded: EncodedObservations,
        prior: torch.Tensor,
        proximity: torch.Tensor,
        coarser_fused: torch.Tensor | None,
        coarser_learned: torch.Tensor | None,
        dt: torch.Tensor,
        dt_embedding: torch.Tensor,
        target_embedding: torch.Tensor,
    ) -> tuple[torch.Tensor, AttentionState, torch.Tensor]:
        """One scale: build the query, correlate around the prior, attend (guided coarse to fine).

        ``prior`` ``[B, N, 2, h, w]`` is the bilateral motion prior as per-observation offsets;
        ``coarser_learned`` ``[B, N, heads, points, 2, h/2, w/2]`` the coarser scale's learned
        offsets on top of its prior. Returns the fused features, the attention state and the
        aligned proximity blend (the decoder's encoder skip).
        """
        features, keys = encoded.features[scale], encoded.keys[scale]
        B, N, C, h, w = features.shape
        blend = self._aligned_blend(features, prior, proximity)
        guide = prior[:, :, None, None].expand(B, N, self.config.attn_heads, self.config.attn_points, 2, h, w)
        if coarser_fused is None:
            query_input = blend
        else:
            guidance = upsample2x(self.coarse_to_fine[scale](coarser_fused))
            query_input = torch.cat([blend, guidance], dim=1)
            guide = guide + 2.0 * F.interpolate(
                fold(coarser_learned, 4), size=(h, w), mode="bilinear", align_corners=False
            ).view(*coarser_learned.shape[:5], h, w)
        query = self.query_projs[scale](query_input) + self.query_time[scale](target_embedding)[:, :, None, None]
        aligned_keys = warp(fold(keys), fold(prior))
        query_per_frame = query.unsqueeze(1).expand(B, N, C, h, w).flatten(0, 1)
        correlation = correlation_levels(
            query_per_frame, aligned_keys, self.config.corr_levels, self.config.corr_radius
        )
        projected = encoded.attention_inputs[scale] if encoded.attention_inputs is not None else None
        fused, state = self.attention[scale](query, features, correlation, dt, dt_embedding, guide, projected)
        return query + fused, state, blend

    def forward(
        self, frames: torch.Tensor, timestamps: torch.Tensor, target_time: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``frames [B, N, 3, H, W]``, ``timestamps [B, N]``, ``target_time [B]`` -> (rgb, aux).

        Equivalent to ``synthesize(encode(frames, timestamps), target_time)``.
        """
        return self.synthesize(self.encode(frames, timestamps), target_time)


def _no_check() -> None:
    """The default of ``between_stages``: nothing to check."""


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_tempo(config: TempoConfig | None = None, **overrides: Any) -> TempoNet:
    """Build a :class:`tempo_core.network.model.TempoNet`, as in the seed's Quick Start.

    ``build_tempo(base_channels=64, encoder_depths=[3, 3, 9, 3], ...)`` overrides fields of the
    default (TEMPO-B) config; ``build_tempo(tempo_tiny())`` takes a whole config.
    """
    base = config if config is not None else TempoConfig()
    values = {**base.to_dict(), **overrides}
    return TempoNet(TempoConfig.from_dict(values))
