"""Building blocks: time encoding, channel LayerNorm, AdaLN-Zero ConvNeXt block, NAFNet block.

All blocks map ``[B, C, H, W] -> [B, C, H, W]``. Conditioning vectors are ``[B, D]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

# Softmax sharpness over |dt| (normalized time), side by side: the network's proximity blend of
# aligned observations, and the motion prior's observation weights (sharper: motion is closer to
# constant over a short gap, and a far observation is more often occluded).
PROXIMITY_SHARPNESS = 4.0
OBSERVATION_SHARPNESS = 8.0


def as_dtype(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``tensor`` in ``dtype``: the tensor itself when it is already (``.to`` would still dispatch an
    operation; the prior and the warps ask hundreds of times per frame)."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def fold(tensor: torch.Tensor, dims: int = 2) -> torch.Tensor:
    """``[D0, ..., D(dims-1), ...]`` -> ``[D0 * ... * D(dims-1), ...]`` as a view: no operation, and
    an error (not a hidden copy) where the layout allows no view."""
    return tensor.view(-1, *tensor.shape[dims:])


def time_proximity(dt: torch.Tensor, sharpness: float) -> torch.Tensor:
    """``[B, N]`` weights (sum 1 over N) of observations at ``dt = t_i - t_target``: ``softmax(-sharpness |dt|)``."""
    return (-sharpness * dt.abs()).softmax(dim=1)


class SinusoidalTimeEncoding(nn.Module):
    """Continuous time -> sin/cos features -> MLP.

    Args:
        dim: output width D.
        num_frequencies: sin/cos pairs; frequencies are ``2**k * pi`` for k in
            ``[-2, num_frequencies - 3]`` so normalized times in about ``[-4, 4]`` stay unambiguous.
    """

    def __init__(self, dim: int, num_frequencies: int = 8) -> None:
        super().__init__()
        exponents = torch.arange(num_frequencies, dtype=torch.float32) - 2.0
        self.register_buffer("frequencies", math.pi * 2.0**exponents, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * num_frequencies + 1, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        """times: any shape ``S`` (normalized units) -> ``[*S, D]``."""
        times = as_dtype(times, torch.float32).unsqueeze(-1)
        angles = times * self.frequencies
        features = torch.cat([times, angles.sin(), angles.cos()], dim=-1)
        return self.mlp(as_dtype(features, self.mlp[0].weight.dtype))


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of ``[B, C, H, W]``; ``affine=False`` for AdaLN."""

    def __init__(self, channels: int, affine: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(1, keepdim=True)
        x = centred * torch.rsqrt(centred.square().mean(1, keepdim=True) + self.eps)
        if self.weight is not None:
            x = x * self.weight[:, None, None] + self.bias[:, None, None]
        return x


class AdaLNZeroConvNeXtBlock(nn.Module):
    """ConvNeXt block whose norm, scale and residual gate come from a time condition.

    ``x + gate(c) * MLP(norm(dwconv(x)) * (1 + scale(c)) + shift(c))``. The modulation layer
    starts at zero, so the gate is 0 and a fresh block is exactly the identity (AdaLN-Zero, DiT).

    Args:
        channels: C.
        cond_dim: width D of the condition vector.
        mlp_ratio: hidden width of the pointwise MLP relative to C.
        act_layer: activation constructor.
    """

    def __init__(
        self,
        channels: int,
        cond_dim: int,
        mlp_ratio: float = 4.0,
        act_layer: Callable[[], nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        hidden = int(channels * mlp_ratio)
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = LayerNorm2d(channels, affine=False)
        self.pw1 = nn.Conv2d(channels, hidden, 1)
        self.act = act_layer()
        self.pw2 = nn.Conv2d(hidden, channels, 1)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 3 * channels))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: ``[B, C, H, W]``; cond: ``[B, D]``."""
        shift, scale, gate = self.modulation(cond)[:, :, None, None].chunk(3, dim=1)
        y = torch.addcmul(shift, self.norm(self.dwconv(x)), 1 + scale)
        y = self.pw2(self.act(self.pw1(y)))
        return x + gate * y


class SimpleGate(nn.Module):
    """NAFNet's activation: split channels in two halves and multiply them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """NAFNet block: gated depthwise conv + simplified channel attention, then a gated FFN.

    Both branches are residual with learned per-channel scales initialised to zero, so the block
    starts as the identity and the decoder trains stably from a warm start.
    """

    def __init__(self, channels: int, expand: int = 2) -> None:
        super().__init__()
        hidden = channels * expand
        self.norm1 = LayerNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.gate = SimpleGate()
        self.channel_attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(hidden // 2, hidden // 2, 1))
        self.conv2 = nn.Conv2d(hidden // 2, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.ffn1 = nn.Conv2d(channels, hidden, 1)
        self.ffn2 = nn.Conv2d(hidden // 2, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gate(self.dwconv(self.conv1(self.norm1(x))))
        y = self.conv2(y * self.channel_attention(y))
        x = x + self.beta * y
        y = self.ffn2(self.gate(self.ffn1(self.norm2(x))))
        return x + self.gamma * y


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling of ``[B, C, H, W]``."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
