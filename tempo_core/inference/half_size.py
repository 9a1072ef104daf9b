"""Large frames: the learned network at half size, the motion prior and the pixels at full size.

On a 720p frame a synthesis costs what its maps weigh: every stage grows with the pixels. Its
quality, though, comes mostly from two parameter-free parts: the motion prior (the look-ups'
offsets are its velocity plus a small learned correction) and the last look-ups of the input
pixels. Measured on 720p training frames (docs/decisions/, processing scale): the network
at half size with the prior searched on the full-size frames and the look-ups made at full size
scores within a few hundredths of a dB of the whole network, where the whole synthesis at half
size (prior included) lost up to 0.9 dB on fine motion (a dog's fur).

So at half size (:func:`choose_scale`) a synthesis is:

1. the prior on the full-size anchors (``TempoNet.anchor_motion`` on ``network.prior_view``), at the
   target time or, for slow motion, once per anchor gap and re-timed;
2. the network on the anchors halved (``network.halve``), given that motion (``network.halve_motion``:
   its 1/8 to 1/64 scales are the half-size frames' 1/4 to 1/32), not searching its own;
3. ``network.finish_half_size_synthesis``: the full-size anchors looked up along the prior's full-size
   velocity and blended with the network's weights, its residual added (weights, residual and
   confidence upsampled 2x). The network's learned offset correction is left out: on real frames
   it changed nothing measurable, and doubled with the size it blurred still, finely textured
   frames.

It is RIFE's "scale" setting (apps built on it offer 0.5 for large frames); here ``"auto"``
chooses it from the frame size and the device: on a CPU the pixels set the time, on a GPU the
launches do (docs/benchmarks.md, "GPU"), so a GPU keeps the whole network in one compiled graph.
"""

from __future__ import annotations

from tempo_core.errors import InputError
from tempo_core.frame_sizes import LARGE_FRAME_PIXELS
from tempo_core.inference.settings import SCALE_CHOICES

__all__ = ["HALF_SIZE_MIN_PIXELS", "SCALE_CHOICES", "choose_scale"]

# Under "auto" on a CPU, frames over LARGE_FRAME_PIXELS are processed at half size (its reasons
# are in tempo_core/frame_sizes.py).
HALF_SIZE_MIN_PIXELS = LARGE_FRAME_PIXELS


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
