"""The network's half of large-frame processing: the learned part on the anchors halved, the
motion prior and the last look-ups on the full-size anchors (the runtime's side, which chooses
when, is :mod:`tempo_core.inference.half_size`).

Why this split, measured on 720p training frames (docs/decisions/ on the processing scale): the
network at half size with the prior searched at full size and the look-ups made at full size
scores within a few hundredths of a dB of the whole network; the whole synthesis at half size
(prior included) lost up to 0.9 dB on fine motion. The network's learned offset correction is
left out of the full-size look-ups: doubled with the size it blurred still, finely textured frames.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from tempo_core.network.layers import fold, upsample2x
from tempo_core.network.model import AnchorMotion, EncodedObservations, normalized_time, retime
from tempo_core.network.motion import image_pyramid
from tempo_core.network.sampling import warp


def halve(frames: torch.Tensor) -> torch.Tensor:
    """``[..., C, H, W]`` (H, W even) -> ``[..., C, H / 2, W / 2]``: the mean of every 2 x 2 block."""
    flat = frames.reshape(-1, *frames.shape[-3:])
    return F.avg_pool2d(flat, 2).view(*frames.shape[:-2], frames.shape[-2] // 2, frames.shape[-1] // 2)


def prior_view(half_size: EncodedObservations, frames: torch.Tensor) -> EncodedObservations:
    """The encoding of the halved anchors with the full-size ``frames`` ``[B, N, 3, H, W]`` (H, W
    multiples of 64) and their image pyramid in place of theirs: what the motion prior reads
    (``TempoNet.anchor_motion`` reads nothing else but the times)."""
    return dataclasses.replace(half_size, frames=frames, image_pyramid=image_pyramid(frames))


def halve_motion(motion: AnchorMotion) -> AnchorMotion:
    """The prior of full-size ``H x W`` frames as the prior of the same frames halved: the full
    size's 1/8, 1/16, 1/32 scales are the half size's 1/4, 1/8, 1/16 (same pixels, same units),
    its 1/32 pooled is the half size's 1/32 and its full-size velocity pooled is the half size's."""
    velocities = motion.velocities
    coarsest = F.avg_pool2d(velocities[3], 2) / 2
    return AnchorMotion([*velocities[1:], coarsest], F.avg_pool2d(motion.full, 2) / 2, motion.reference)


def finish_at_full_size(
    frames: torch.Tensor, aux: dict[str, torch.Tensor], velocity: torch.Tensor, dt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The last stage of a synthesis of the halved anchors, redone on the full-size ones.

    Args:
        frames: ``[B, N, 3, H, W]`` full-size anchors in [0, 1] (B may be an expanded 1).
        aux: the half-size synthesis' ``weights [B, N, H/2, W/2]``, ``residual [B, 3, H/2, W/2]``
            and ``confidence [B, 1, H/2, W/2]``.
        velocity: ``[B, 2, H, W]`` the prior's full-size velocity at the target (pixels per unit
            of normalized time); dt: ``[B, N]`` anchor minus target time, normalized.

    Returns:
        rgb ``[B, 3, H, W]`` and confidence ``[B, 1, H, W]``, both in [0, 1].
    """
    B, (N, C, H, W) = velocity.shape[0], frames.shape[1:]
    offsets = velocity[:, None].float() * dt[:, :, None, None, None].float()  # (B, N, 2, H, W)
    look_ups = warp(fold(frames.expand(B, -1, -1, -1, -1)), fold(offsets)).view(B, N, C, H, W)
    weights, residual, confidence = (upsample2x(aux[name].float()) for name in ("weights", "residual", "confidence"))
    rgb = (look_ups * weights.unsqueeze(2)).sum(dim=1).add_(residual)
    return rgb.clamp_(0.0, 1.0), confidence.clamp_(0.0, 1.0)


def finish_half_size_synthesis(
    half_size: EncodedObservations,
    full_size: EncodedObservations,
    target_time: torch.Tensor,
    motion: AnchorMotion,
    aux: dict[str, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """rgb ``[B, 3, H, W]`` and confidence ``[B, 1, H, W]`` at ``target_time`` ``[B]`` from the
    half-size synthesis' ``aux`` and the full-size ``motion`` (the prior on ``full_size``, the
    :func:`prior_view` of ``half_size``, at a reference time it is re-timed from)."""
    target = normalized_time(half_size, target_time)
    velocity = retime(motion.full, motion.reference - target)
    return finish_at_full_size(full_size.frames, aux, velocity, half_size.anchor_times - target[:, None])
