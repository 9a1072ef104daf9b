"""Frame-size thresholds where TEMPO changes how it works, each with the measurement behind it.

All in pixels per frame (width x height). They live here, at the bottom of the package, so the
network, the inference runtime and video I/O read the same numbers; and the one rule that
scales a frame down to a longest side. No torch, no I/O.
"""

from __future__ import annotations

# The motion prior's full-size step runs on frames up to this size. On larger ones (480p to 1080p)
# the 1/2 size's velocity upsampled was as good on training videos at their own size and 12-15 %
# cheaper (docs/decisions/ of the full-size step; 720p 31.670 -> 31.663 dB).
PRIOR_FULL_SIZE_MAX_PIXELS = 300_000

# Frames over this size (1280 x 720 = 921,600 and up; 1024 x 576 and smaller stay below) are
# "large": on a CPU the learned network runs at half size under scale "auto" (at 480p the
# half-size network lost 0.065 dB on average, 0.6 on one training triplet, so smaller frames keep
# it whole), and the motion prior takes its cheaper 1/2 size, measured on these frames only.
LARGE_FRAME_PIXELS = 600_000

# Exports of frames over this size (4K UHD) are synthesized in tiles unless a tile size is given:
# a whole 8K synthesis needs more memory than most desktops have.
EXPORT_TILING_PIXELS = 3840 * 2160

# Decoding larger frames uses slice threads instead of frame threads (no queue of whole frames).
DECODE_FRAME_THREADS_MAX_PIXELS = 3840 * 2160


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled so the longer side is ``max_side``; both kept even (at least 2)."""
    scale = max_side / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
