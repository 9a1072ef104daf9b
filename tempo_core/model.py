"""TempoNet: encode observations once, synthesize any target time from the cached features.

Data flow (shapes for input ``[B, N, 3, H, W]``, scale s = 0..3 at ``1 / 2**(s+2)``)::

    times --normalize--> tau_i (anchors), tau* (target), dt_i = tau_i - tau*
    frames --ConvNeXt + AdaLN-Zero(tau_i)--> features_s  [B, N, C_s, H_s, W_s]      (encode)
    for s = 3 .. 0 (coarse to fine, cross-scale guidance):                       (synthesize)
        query_s = proj([proximity blend of features_s, up(fused_{s+1})]) + emb(tau*)
        corr_s  = correlation pyramid(query_s, features_s)       [B, N, L*(2r+1)^2, H_s, W_s]
        fused_s = deformable temporal attention(query_s, features_s, corr_s, dt,
                                                guide = 2 * up(offsets_{s+1}))
    decoded = NAFNet(fused_*, skips = proximity blends)          [B, C, H/4, W/4]
    rgb, weights = pixel synthesis(frames, decoded, attention state at s=0)
    confidence = sigmoid(a * (1 - entropy_0) + b + correction)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tempo_core.config import TempoConfig
from tempo_core.correlation import correlation_channels, correlation_pyramid
from tempo_core.decoder import NAFNetDecoder
from tempo_core.encoder import ConvNeXtEncoder
from tempo_core.layers import SinusoidalTimeEncoding, upsample2x
from tempo_core.synthesis import PixelSynthesisHead
from tempo_core.temporal_attention import AttentionState, DeformableTemporalAttention

PROXIMITY_SHARPNESS = 4.0


@dataclass
class EncodedObservations:
    """Cached result of :meth:`TempoNet.encode`.

    frames: ``[B, N, 3, H, W]``; features: four ``[B, N, C_s, H_s, W_s]`` (fine to coarse);
    keys: the same shapes, projected for correlation; anchor_times: ``[B, N]`` normalized;
    center, span: ``[B]`` (normalized time = (t - center) / span).
    """

    frames: torch.Tensor
    features: list[torch.Tensor]
    keys: list[torch.Tensor]
    anchor_times: torch.Tensor
    center: torch.Tensor
    span: torch.Tensor


def normalize_times(timestamps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[B, N]`` timestamps -> normalized ``[B, N]``, center ``[B]``, span ``[B]``."""
    timestamps = timestamps.double()
    low, high = timestamps.min(dim=1).values, timestamps.max(dim=1).values
    center, span = (low + high) / 2, (high - low).clamp_min(1e-9)
    return ((timestamps - center[:, None]) / span[:, None]).float(), center, span


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
        self.key_projs = nn.ModuleList(nn.Conv2d(c, c, 1) for c in channels)
        self.query_projs = nn.ModuleList(nn.Conv2d(2 * c if s < 3 else c, c, 1) for s, c in enumerate(channels))
        self.query_time = nn.ModuleList(nn.Linear(time_dim, c) for c in channels)
        self.coarse_to_fine = nn.ModuleList(nn.Conv2d(channels[s + 1], c, 1) for s, c in enumerate(channels[:3]))
        self.attention = nn.ModuleList(
            DeformableTemporalAttention(
                c, time_dim, corr_width, config.attn_heads, config.attn_points, config.offset_scale * 2**-s
            )
            for s, c in enumerate(channels)
        )
        self.decoder = NAFNetDecoder(config)
        self.synthesis = PixelSynthesisHead(channels[0])
        # Calibration of confidence = sigmoid(scale * (1 - entropy) + bias + correction):
        # uniform attention (entropy 1) starts near 0.12, a single sharp match near 0.998.
        self.confidence_scale = nn.Parameter(torch.tensor(8.0))
        self.confidence_bias = nn.Parameter(torch.tensor(-2.0))

    def encode(self, frames: torch.Tensor, timestamps: torch.Tensor) -> EncodedObservations:
        """Encode N observations once.

        Args:
            frames: ``[B, N, 3, H, W]`` in [0, 1], H and W multiples of 32.
            timestamps: ``[B, N]`` in any unit, not all equal.
        """
        B, N, _, H, W = frames.shape
        anchor_times, center, span = normalize_times(timestamps)
        condition = self.anchor_time_encoding(anchor_times).flatten(0, 1)  # (B*N, D)
        pyramid = self.encoder(frames.flatten(0, 1), condition)
        features = [f.view(B, N, *f.shape[1:]) for f in pyramid]
        keys = [proj(f).view(B, N, *f.shape[1:]) for proj, f in zip(self.key_projs, pyramid)]
        return EncodedObservations(frames, features, keys, anchor_times, center, span)

    def synthesize(
        self, encoded: EncodedObservations, target_time: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Synthesize the frame at ``target_time`` ``[B]`` (same unit as the timestamps).

        Returns:
            rgb ``[B, 3, H, W]`` in [0, 1] and ``aux`` with ``confidence`` ``[B, 1, H, W]`` in
            [0, 1], ``entropy`` ``[B, 1, H, W]`` (normalized attention entropy, finest scale),
            ``weights`` ``[B, N, H, W]`` (each observation's share of every pixel) and
            ``entropy_per_scale`` (list, fine to coarse).
        """
        target = ((target_time.double().view(-1) - encoded.center) / encoded.span).float()  # (B,)
        dt = encoded.anchor_times - target[:, None]  # (B, N)
        proximity = (-PROXIMITY_SHARPNESS * dt.abs()).softmax(dim=1)  # (B, N)
        dt_embedding = self.delta_time_encoding(dt)  # (B, N, D)
        target_embedding = self.target_time_encoding(target)  # (B, D)

        fused_pyramid: list[torch.Tensor] = [None] * 4  # type: ignore[list-item]
        skips: list[torch.Tensor] = [None] * 4  # type: ignore[list-item]
        states: list[AttentionState] = [None] * 4  # type: ignore[list-item]
        fused, state = None, None
        for scale in reversed(range(4)):
            features = encoded.features[scale]  # (B, N, C, h, w)
            skips[scale] = (features * proximity[:, :, None, None, None]).sum(dim=1)
            fused, state = self._attend(scale, encoded, skips[scale], fused, state, dt, dt_embedding, target_embedding)
            fused_pyramid[scale], states[scale] = fused, state

        decoded = self.decoder(fused_pyramid, skips)
        rgb, weights, confidence_correction = self.synthesis(
            encoded.frames, decoded, encoded.features[0], states[0]
        )
        entropy = F.interpolate(states[0].entropy, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        confidence_logit = self.confidence_scale * (1.0 - entropy) + self.confidence_bias
        confidence = torch.sigmoid(confidence_logit + confidence_correction)
        aux = {
            "confidence": confidence,
            "entropy": entropy,
            "weights": weights,
            "entropy_per_scale": [s.entropy for s in states],
        }
        return rgb, aux

    def _attend(
        self,
        scale: int,
        encoded: EncodedObservations,
        blend: torch.Tensor,
        coarser_fused: torch.Tensor | None,
        coarser_state: AttentionState | None,
        dt: torch.Tensor,
        dt_embedding: torch.Tensor,
        target_embedding: torch.Tensor,
    ) -> tuple[torch.Tensor, AttentionState]:
        """One scale: build the query, correlate, attend (guided by the coarser scale)."""
        features, keys = encoded.features[scale], encoded.keys[scale]
        B, N, C, h, w = features.shape
        if coarser_fused is None:
            query_input, guide = blend, None
        else:
            guidance = upsample2x(self.coarse_to_fine[scale](coarser_fused))
            query_input = torch.cat([blend, guidance], dim=1)
            guide = 2.0 * F.interpolate(
                coarser_state.offsets.flatten(0, 3), size=(h, w), mode="bilinear", align_corners=False
            ).view(*coarser_state.offsets.shape[:5], h, w)
        query = self.query_projs[scale](query_input) + self.query_time[scale](target_embedding)[:, :, None, None]
        query_per_frame = query.unsqueeze(1).expand(B, N, C, h, w).flatten(0, 1)
        correlation = correlation_pyramid(
            query_per_frame, keys.flatten(0, 1), self.config.corr_levels, self.config.corr_radius
        ).view(B, N, -1, h, w)
        fused, state = self.attention[scale](query, features, correlation, dt, dt_embedding, guide)
        return query + fused, state

    def forward(
        self, frames: torch.Tensor, timestamps: torch.Tensor, target_time: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``frames [B, N, 3, H, W]``, ``timestamps [B, N]``, ``target_time [B]`` -> (rgb, aux).

        Equivalent to ``synthesize(encode(frames, timestamps), target_time)``.
        """
        return self.synthesize(self.encode(frames, timestamps), target_time)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
