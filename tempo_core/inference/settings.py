"""The inference runtime's user-facing choices, importable without torch (for CLI parsers and
the app's menus): precisions, processing scales, and the limits on what a caller may ask."""

from __future__ import annotations

PRECISION_NAMES = ("fp32", "bf16", "fp16")  # fp16 only on CUDA / MPS
SCALE_CHOICES = ("auto", "1", "0.5")
MAX_EXTRAPOLATION_SPANS = 2.0  # a target may lie at most this many anchor spans outside them
OOM_TILE_SIZES = (512, 256)  # after an out-of-memory error, retried with these tiles
HALF_SIZE_MULTIPLE = 64  # full-size frames padded to this: halved, they are the network's multiple of 32
