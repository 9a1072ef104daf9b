"""Deformable temporal attention: each target pixel samples every observation at learned places.

For every output pixel, head ``h`` and observation ``i``, the module predicts ``P`` sampling
offsets (pixels, guided by the correlation pyramid and scaled by ``|dt_i|``: far observations may
look further) and ``P`` logits. The softmax runs jointly over observations and points, so the
heads fuse all ``N`` observations; the normalized entropy of that distribution measures how
ambiguous the fusion was and becomes the confidence map.

``deformable_sample`` is the fast path (one ``grid_sample`` call); ``deformable_sample_reference``
is the readable loop it must agree with (see tests/core/network/test_temporal_attention.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from tempo_core.network.correlation import upsample_to
from tempo_core.network.layers import as_dtype, fold
from tempo_core.network.sampling import base_grid, identity_grid, pixels_to_grid, xy_constant


@dataclass
class AttentionState:
    """What one attention scale hands to the next finer scale and to the pixel synthesis.

    offsets: ``[B, N, heads, points, 2, H, W]`` sampling offsets (x, y) in pixels of this scale.
    weights: ``[B, N, heads, points, H, W]`` attention weights; sum over (N, points) is 1.
    entropy: ``[B, 1, H, W]`` normalized entropy in [0, 1], averaged over heads.
    """

    offsets: torch.Tensor
    weights: torch.Tensor
    entropy: torch.Tensor


@dataclass
class ProjectedFeatures:
    """What one attention scale takes from the observations' features alone: the same for every
    target time, so :meth:`TempoNet.encode` makes it once (slow motion then pays it once).

    values: ``[B, N, C, H, W]`` the value projection; context: ``[B, N, hidden, H, W]`` the
    features' part of the context convolution, with its bias.
    """

    values: torch.Tensor
    context: torch.Tensor


def deformable_sample(values: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Fast path: weighted sum of bilinear samples over observations, heads' points.

    Args:
        values: ``[B, N, C, H, W]`` (C divisible by heads).
        offsets: ``[B, N, heads, points, 2, H, W]`` in pixels.
        weights: ``[B, N, heads, points, H, W]``.

    Returns:
        ``[B, C, H, W]``: head h fills channels ``h*C/heads:(h+1)*C/heads``.
    """
    B, N, C, H, W = values.shape
    heads, points = offsets.shape[2:4]
    per_head = rearrange(values, "b n (h c) y x -> (b n h) c y x", h=heads)
    # grid units of the pixel centres plus the offsets in grid units: one multiply-add
    scale = xy_constant(2.0 / W, 2.0 / H, values.device, offsets.dtype)
    moved = rearrange(offsets, "b n h p two y x -> (b n h) p y x two")
    grid = torch.addcmul(identity_grid(H, W, values.device, offsets.dtype), moved, scale).reshape(-1, points * H, W, 2)
    sampled = F.grid_sample(
        per_head, as_dtype(grid, values.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
    )  # (B*N*heads, C/heads, P*H, W)
    # weighted in the samples' own layout, summed over the points and then the observations: the
    # reductions run over outer dimensions (a third of the time of one sum over a permuted view)
    per_point = sampled.view(B, N, heads, C // heads, points, H * W) * weights.view(B, N, heads, 1, points, H * W)
    fused = per_point.sum(dim=4).sum(dim=1)  # (B, heads, C/heads, H*W)
    return fused.view(B, C, H, W)


def deformable_sample_reference(values: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Readable reference of :func:`deformable_sample`: one ``grid_sample`` per (n, h, p)."""
    B, N, C, H, W = values.shape
    heads, points = offsets.shape[2:4]
    head_dim = C // heads
    out = values.new_zeros(B, C, H, W)
    grid_base = base_grid(H, W, values.device, offsets.dtype)
    for n in range(N):
        for h in range(heads):
            channels = slice(h * head_dim, (h + 1) * head_dim)
            for p in range(points):
                coords = (grid_base + offsets[:, n, h, p]).permute(0, 2, 3, 1)  # (B, H, W, 2)
                sample = F.grid_sample(
                    values[:, n, channels],
                    pixels_to_grid(coords, H, W),
                    mode="bilinear",
                    padding_mode="zeros",
                    align_corners=False,
                )
                out[:, channels] += sample * weights[:, n, h, p].unsqueeze(1)
    return out


def normalized_entropy(weights: torch.Tensor) -> torch.Tensor:
    """``[B, N, heads, P, H, W]`` distributions over (N, P) -> entropy ``[B, 1, H, W]`` in [0, 1]."""
    N, points = weights.shape[1], weights.shape[3]
    entropy = -(weights * weights.clamp_min(1e-12).log()).sum(dim=(1, 3))  # (B, heads, H, W)
    return (entropy / math.log(N * points)).mean(dim=1, keepdim=True).clamp(0.0, 1.0)


class DeformableTemporalAttention(nn.Module):
    """One scale of deformable temporal attention.

    Args:
        channels: feature width C of this scale (divisible by ``heads``).
        time_dim: width of the time-difference embedding.
        corr_channels: width of the correlation pyramid input.
        heads, points: attention heads and sampling points per head and observation.
        offset_scale: pixels per unit of raw offset and unit of normalized ``|dt|``.
    """

    def __init__(
        self,
        channels: int,
        time_dim: int,
        corr_channels: int,
        heads: int,
        points: int,
        offset_scale: float,
    ) -> None:
        super().__init__()
        self.heads, self.points, self.offset_scale = heads, points, offset_scale
        hidden = min(max(channels, 32), 128)
        self.value_proj = nn.Conv2d(channels, channels, 1)
        self.context = nn.Conv2d(2 * channels + corr_channels, hidden, 1)
        self.time_proj = nn.Linear(time_dim, hidden)
        self.mixer = nn.Sequential(nn.GELU(), nn.Conv2d(hidden, hidden, 3, padding=1), nn.GELU())
        self.offset_head = nn.Conv2d(hidden, heads * points * 2, 1)
        self.logit_head = nn.Conv2d(hidden, heads * points, 1)
        self.out_proj = nn.Conv2d(channels, channels, 1)
        self._init_heads()

    def _init_heads(self) -> None:
        # Start with uniform weights and points on small rings, one direction per head
        # (Deformable-DETR's init), so a fresh module blends nearby pixels of every observation.
        nn.init.zeros_(self.offset_head.weight)
        nn.init.zeros_(self.logit_head.weight)
        nn.init.zeros_(self.logit_head.bias)
        angles = torch.arange(self.heads, dtype=torch.float32) * (2 * math.pi / self.heads)
        directions = torch.stack([angles.cos(), angles.sin()], dim=-1)  # (heads, 2)
        radii = torch.arange(self.points, dtype=torch.float32) * 0.25  # (points,)
        bias = directions[:, None, :] * radii[None, :, None]  # (heads, points, 2)
        with torch.no_grad():
            self.offset_head.bias.copy_(bias.flatten())

    def project_features(self, features: torch.Tensor) -> ProjectedFeatures:
        """The target-independent part of this scale for ``features [B, N, C, H, W]``."""
        B, N, C, H, W = features.shape
        folded = fold(features)
        values = self.value_proj(folded).view(B, N, C, H, W)
        context = F.conv2d(folded, self.context.weight[:, C : 2 * C], self.context.bias).view(B, N, -1, H, W)
        return ProjectedFeatures(values, context)

    def _context(
        self, query: torch.Tensor, projected: ProjectedFeatures, correlation: list[torch.Tensor]
    ) -> torch.Tensor:
        """The 1 x 1 context convolution of (query, features, correlation pyramid) per observation,
        ``[B, N, hidden, H, W]``, as the sum of its parts: the query's once for all N, the features'
        from ``projected`` (:meth:`project_features`), each correlation level's at its own pooled size
        and then upsampled (the convolution and the bilinear upsampling are both linear, so they
        commute), no concatenated copy. On a CPU a third of the time of the convolution of the
        stacked, upsampled pyramid."""
        B, N, _, H, W = projected.context.shape
        C = query.shape[1]
        weight = self.context.weight  # (hidden, 2 C + K, 1, 1): query, features, correlation levels
        from_query = F.conv2d(query, weight[:, :C])  # (B, hidden, H, W)
        per_frame = fold(projected.context)  # shared by every target: never written to
        start = 2 * C
        for level, volume in enumerate(correlation):  # (B*N, K_l, H_l, W_l); corr_levels >= 1 (TempoConfig)
            part = F.conv2d(volume, weight[:, start : start + volume.shape[1]])
            start += volume.shape[1]
            if part.shape[-2:] != (H, W):
                part = upsample_to(part, (H, W))
            # a new map once, then in place (autograd needs neither input of an add)
            per_frame = part.add_(per_frame) if level == 0 else per_frame.add_(part)
        return per_frame.view(B, N, -1, H, W).add_(from_query[:, None])

    def forward(
        self,
        query: torch.Tensor,
        features: torch.Tensor,
        correlation: list[torch.Tensor],
        dt: torch.Tensor,
        dt_embedding: torch.Tensor,
        guide_offsets: torch.Tensor | None = None,
        projected: ProjectedFeatures | None = None,
    ) -> tuple[torch.Tensor, AttentionState]:
        """Fuse all observations at the target time.

        Args:
            query: ``[B, C, H, W]`` target query.
            features: ``[B, N, C, H, W]`` observation features.
            correlation: the correlation pyramid of the query against each observation, one
                ``[B*N, K_l, H_l, W_l]`` volume per level (:func:`~tempo_core.network.correlation.correlation_levels`).
            dt: ``[B, N]`` normalized ``t_i - t_target``.
            dt_embedding: ``[B, N, D]``.
            guide_offsets: ``[B, N, heads, points, 2, H, W]`` from the coarser scale, or None.
            projected: :meth:`project_features` of ``features`` when the caller has it (made once
                per encoding), else made here.

        Returns:
            fused ``[B, C, H, W]`` and the :class:`AttentionState`.
        """
        B, N, C, H, W = features.shape
        projected = projected if projected is not None else self.project_features(features)
        hidden = self._context(query, projected, correlation).add_(self.time_proj(dt_embedding)[:, :, :, None, None])
        hidden = self.mixer(fold(hidden))  # (B*N, hidden, H, W)

        raw_offsets = self.offset_head(hidden).view(B, N, self.heads, self.points, 2, H, W)
        reach = (dt.abs() * self.offset_scale).view(B, N, 1, 1, 1, 1, 1)
        offsets = raw_offsets * reach
        if guide_offsets is not None:
            offsets = offsets + guide_offsets

        logits = self.logit_head(hidden).view(B, N, self.heads, self.points, H, W)
        weights = rearrange(logits, "b n h p y x -> b h (n p) y x").softmax(dim=2)
        weights = rearrange(weights, "b h (n p) y x -> b n h p y x", n=N)

        fused = self.out_proj(deformable_sample(projected.values, offsets, weights))
        return fused, AttentionState(offsets, weights, normalized_entropy(weights))
