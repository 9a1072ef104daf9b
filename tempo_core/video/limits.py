"""Limits checked before anything large is allocated: frame size, frame counts, working memory.

A hostile or damaged file can claim any size in a few bytes (a 50 KB Matroska file whose header
says 16000 x 16000; a y4m header saying 30000 x 30000). Every size TEMPO is about to act on
goes through these checks first, and a refusal is one sentence naming the limit:

* a frame side at most :data:`MAX_SIDE` pixels and at most :data:`MAX_PIXELS` pixels (16K UHD);
* a frame whose working set (:data:`READ_BYTES_PER_PIXEL` to open and show it,
  :func:`export_bytes_per_pixel` to interpolate it) fits in the memory this process may still
  use (:func:`tempo_core.memory_budget.available_memory`: cgroup limits included);
* at most :data:`MAX_SOURCE_FRAMES` frames indexed in a source and :data:`MAX_OUTPUT_FRAMES`
  frames planned for one output.

``TEMPO_MEMORY_BYTES`` overrides the measured available memory (tests, shared machines).
"""

from __future__ import annotations

from tempo_core.errors import InputError, MediaError
from tempo_core.memory_budget import available_memory

MAX_SIDE = 16384
MAX_PIXELS = 15360 * 8640  # 16K UHD, the largest video format in use
MAX_SOURCE_FRAMES = 10_000_000  # 46 hours at 60 fps
# The plan and its jobs take about 310 bytes an output frame (tracemalloc, factor 100 on 2,000
# frames): 2M frames (9 hours at 60 fps) plan in about 620 MB.
MAX_OUTPUT_FRAMES = 2_000_000
# Opening and showing a clip: decoded frames held by the decoder (4 bytes a pixel, a few of
# them), the RGB copy and its rotation (3 + 3), the cache's minimum frame (3).
READ_BYTES_PER_PIXEL = 32


def export_bytes_per_pixel(anchors: int) -> int:
    """Bytes a pixel needs while exporting with ``anchors`` real frames per synthesized one:
    the reading working set, each anchor as float32 RGB three times (converted, stacked,
    padded: 36 bytes), the tiled blend's sums and the output frame (32 bytes), and what keeping
    the source's depth adds (21 bytes): 16-bit RGB instead of 8-bit for the decoded copy and its
    rotation (6), the decoded source frame kept for writing (3), the float RGB of a synthesized
    frame (12)."""
    return READ_BYTES_PER_PIXEL + 36 * int(anchors) + 32 + 21


def _amount(size: float) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{max(1, round(size / 2**20))} MB"


def _megapixels(pixels: float) -> str:
    return f"{pixels / 1e6:.0f} megapixels"


def check_frame_size(name: str, width: int, height: int, bytes_per_pixel: int = READ_BYTES_PER_PIXEL) -> None:
    """Refuse a ``width x height`` frame of the file ``name`` that TEMPO must not allocate."""
    if width <= 0 or height <= 0:
        return  # unknown until a frame is decoded; checked again then
    pixels = width * height
    size = f"{name} has frames of {width} x {height} pixels"
    if max(width, height) > MAX_SIDE:
        raise MediaError(f"{size}; TEMPO reads frames up to {MAX_SIDE} pixels on a side.")
    if pixels > MAX_PIXELS:
        raise MediaError(f"{size}; TEMPO reads frames up to {_megapixels(MAX_PIXELS)} (16K).")
    memory = available_memory()
    if pixels * bytes_per_pixel > memory:
        need = _amount(pixels * bytes_per_pixel)
        raise MediaError(f"{size}, which need about {need} of memory; {_amount(memory)} is available.")


def check_source_frames(name: str, count: int) -> None:
    """Refuse indexing a source beyond :data:`MAX_SOURCE_FRAMES` frames."""
    if count > MAX_SOURCE_FRAMES:
        raise MediaError(f"{name} holds more than {MAX_SOURCE_FRAMES:,} frames, the most TEMPO indexes.")


def check_output_frames(count: float) -> None:
    """Refuse an output of more than :data:`MAX_OUTPUT_FRAMES` frames before it is planned."""
    if not count < MAX_OUTPUT_FRAMES:  # also refuses NaN and infinity
        raise InputError(
            f"That would write about {count:,.0f} frames; TEMPO writes at most {MAX_OUTPUT_FRAMES:,} "
            "frames per output (shorten the range or lower the rate)."
        )
