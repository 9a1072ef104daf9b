"""Large frames: the learned network at half size, the motion prior and the pixels at full size.

On a 720p frame a synthesis costs what its maps weigh: every stage grows with the pixels. Its
quality, though, comes mostly from two parameter-free parts: the motion prior (the look-ups'
offsets are its velocity plus a small learned correction) and the last look-ups of the input
pixels. Measured on 720p training frames (resources/models/MODEL_CARD.md, item 29): the network
at half size with the prior searched on the full-size frames and the look-ups made at full size
scores within a few hundredths of a dB of the whole network, where the whole synthesis at half
size (prior included) lost up to 0.9 dB on fine motion (a dog's fur).

So at half size (:func:`choose_scale`) a synthesis is:

1. the prior on the full-size anchors (``TempoNet.anchor_motion`` on :func:`prior_view`), at the
   target time or, for slow motion, once per anchor gap and re-timed;
2. the network on the anchors halved (:func:`halve`), given that motion (:func:`halve_motion`:
   its 1/8 to 1/64 scales are the half-size frames' 1/4 to 1/32), not searching its own;
3. :func:`finish_at_full_size`: the full-size anchors looked up along the prior's full-size
   velocity and blended with the network's weights, its residual added (weights, residual and
   confidence upsampled 2x). The network's learned offset correction is left out: on real frames
   it changed nothing measurable, and doubled with the size it blurred still, finely textured
   frames.

It is RIFE's "scale" setting (apps built on it offer 0.5 for large frames); here ``"auto"``
chooses it from the frame size and the device: on a CPU the pixels set the time, on a GPU the
launches do (docs/benchmarks.md, "GPU"), so a GPU keeps the whole network in one compiled graph.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tempo_core.errors import InputError
from tempo_core.network import AnchorMotion, EncodedObservations, TempoNet
from tempo_core.network.layers import fold, upsample2x
from tempo_core.network.model import normalized_time, retime
from tempo_core.network.motion import image_pyramid
from tempo_core.network.prior_config import PriorConfig
from tempo_core.network.sampling import warp

# Under "auto" on a CPU, frames with more pixels than this are processed at half size: 1024 x 576
# and smaller keep the whole network at full size (at 480p the half-size network lost 0.065 dB on
# average, 0.6 on one training triplet), 1280 x 720 (921,600 pixels) and larger are halved. The
# prior's cheaper 1/2 size on large frames was measured on these frames only: the same bound.
HALF_SIZE_MIN_PIXELS = PriorConfig.large_frame_pixels
SCALE_CHOICES = ("auto", "1", "0.5")
HALF_SIZE_MULTIPLE = 64  # full-size frames padded to this: halved, they are the network's multiple of 32

Synthesize = Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]]


def choose_scale(height: int, width: int, setting: str | float = "auto", device_type: str = "cpu") -> float:
    """The processing scale of ``height x width`` frames: 1.0 (the whole network at full size) or
    0.5 (see the module docstring). ``setting``: "auto" (0.5 on a CPU above
    :data:`HALF_SIZE_MIN_PIXELS`), or 1 / 0.5 (a number or its text)."""
    text = str(setting).strip().lower()
    if text == "auto":
        return 0.5 if device_type == "cpu" and height * width > HALF_SIZE_MIN_PIXELS else 1.0
    try:
        scale = float(text)
    except ValueError:
        scale = None
    if scale not in (1.0, 0.5):
        raise InputError(f"Unknown processing scale {setting!r}; choose auto, 1 or 0.5.")
    return scale


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


def synthesize_at_half_size(
    model: TempoNet,
    half_size: EncodedObservations,
    full_size: EncodedObservations,
    target_time: torch.Tensor,
    check: Callable[[], None],
    motion: AnchorMotion | None = None,
    synthesize: Synthesize | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """rgb ``[B, 3, H, W]`` and confidence ``[B, 1, H, W]`` at ``target_time`` ``[B]``.

    Args:
        half_size: ``model.encode`` of the halved anchors (``[B, N, 3, H/2, W/2]``).
        full_size: :func:`prior_view` of the same with the full-size anchors.
        check: called between stages (may raise to cancel).
        motion: the prior on ``full_size`` at a nearby reference time (slow motion), else searched
            here at the target.
        synthesize: runs ``model.synthesize(encoded, target, check, motion)`` (a compiled graph).
    """
    if motion is None:
        motion = model.anchor_motion(full_size, target_time, check)
        check()
    run = synthesize or model.synthesize
    _, aux = run(half_size, target_time, check, halve_motion(motion))
    target = normalized_time(half_size, target_time)
    velocity = retime(motion.full, motion.reference - target)
    return finish_at_full_size(full_size.frames, aux, velocity, half_size.anchor_times - target[:, None])
