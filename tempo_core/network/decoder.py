"""NAFNet decoder: coarse to fine, fusing attention output with encoder skips at every scale."""

from __future__ import annotations

import torch
from torch import nn

from tempo_core.network.config import TempoConfig
from tempo_core.network.layers import NAFBlock


class NAFNetDecoder(nn.Module):
    """Decodes the fused pyramid into features at 1/4 resolution.

    At scale s (coarse to fine): ``x_s = NAF_s(merge_s([fused_s, skip_s]) + up(x_{s+1}))``, where
    ``skip_s`` is the encoder features of the observations blended by temporal proximity.

    Args:
        config: ``scale_channels`` and ``decoder_depths`` are used.
    """

    def __init__(self, config: TempoConfig) -> None:
        super().__init__()
        channels = config.scale_channels
        self.merges = nn.ModuleList(nn.Conv2d(2 * c, c, 1) for c in channels)
        self.upsamples = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels[s + 1], 4 * channels[s], 1), nn.PixelShuffle(2)) for s in range(3)
        )
        self.stages = nn.ModuleList(
            nn.Sequential(*(NAFBlock(channels[s]) for _ in range(config.decoder_depths[s]))) for s in range(4)
        )

    def forward(self, fused: list[torch.Tensor], skips: list[torch.Tensor]) -> torch.Tensor:
        """fused, skips: four ``[B, C_s, H_s, W_s]`` maps, fine to coarse -> ``[B, C, H/4, W/4]``."""
        x = None
        for scale in reversed(range(4)):
            merged = self.merges[scale](torch.cat([fused[scale], skips[scale]], dim=1))
            if x is not None:
                merged = merged + self.upsamples[scale](x)
            x = self.stages[scale](merged)
        return x
