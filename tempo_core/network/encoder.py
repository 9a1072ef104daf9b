"""ConvNeXt feature encoder with AdaLN-Zero time conditioning.

Each observation is encoded on its own (frames are folded into the batch) and conditioned on its
normalized time within the anchors' span, which does not depend on the target time: the anchors
are encoded once and serve any number of target times.
"""

from __future__ import annotations

import torch
from torch import nn

from tempo_core.network.config import TempoConfig
from tempo_core.network.layers import AdaLNZeroConvNeXtBlock, LayerNorm2d


class ConvNeXtEncoder(nn.Module):
    """Four scales: 1/4 (C), 1/8 (2C), 1/16 (4C), 1/32 (8C).

    Args:
        config: model config (channels, ``encoder_depths``, ``temporal_channels``).
    """

    def __init__(self, config: TempoConfig) -> None:
        super().__init__()
        channels = config.scale_channels
        self.stem = nn.Sequential(nn.Conv2d(3, channels[0], 4, stride=4), LayerNorm2d(channels[0]))
        self.downsamples = nn.ModuleList(
            [
                nn.Sequential(LayerNorm2d(channels[i - 1]), nn.Conv2d(channels[i - 1], channels[i], 2, 2))
                for i in range(1, 4)
            ]
        )
        self.stages = nn.ModuleList(
            [
                nn.ModuleList(
                    AdaLNZeroConvNeXtBlock(channels[i], config.temporal_channels)
                    for _ in range(config.encoder_depths[i])
                )
                for i in range(4)
            ]
        )

    def forward(self, images: torch.Tensor, time_embedding: torch.Tensor) -> list[torch.Tensor]:
        """images: ``[M, 3, H, W]`` in [0, 1]; time_embedding: ``[M, D]``.

        Returns four feature maps, fine to coarse, ``[M, C * 2**s, H / 2**(s+2), W / 2**(s+2)]``.
        """
        features = []
        x = self.stem(images * 2.0 - 1.0)
        for scale, blocks in enumerate(self.stages):
            if scale > 0:
                x = self.downsamples[scale - 1](x)
            for block in blocks:
                x = block(x, time_embedding)
            features.append(x)
        return features
