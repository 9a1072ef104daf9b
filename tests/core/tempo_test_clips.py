"""Tiny video clips made in code for the video / engine / CLI tests (no data files).

Every frame shows a bright square that moves right by ``STEP`` pixels per frame over a gradient
background, and the frame number in binary as black/white blocks along the bottom edge, so a
decoded frame can be identified exactly (:func:`frame_number`). Scene 1 is drawn with another
palette so a cut between scenes is obvious.

:func:`moving_texture` makes frames for the model / inference / export / eval tests instead: a
smooth random texture moving a few pixels per frame, so the motion is well defined.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

STEP = 3
BLOCK = 4  # width of one bit block at the bottom
BITS = 8


def frame_image(index: int, width: int = 64, height: int = 48, scene: int = 0) -> np.ndarray:
    """uint8 H x W x 3 RGB test frame ``index`` of ``scene``."""
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3), np.uint8)
    if scene == 0:
        image[..., 0] = (40 + 2 * xx) % 256
        image[..., 1] = (60 + 2 * yy) % 256
        image[..., 2] = 90
    else:
        image[..., 0] = 220 - (yy * 3) % 120
        image[..., 1] = 30
        image[..., 2] = (200 + xx) % 256
    side = max(2, min(width, height) // 4)
    x0 = (2 + STEP * index) % max(1, width - side)
    y0 = max(0, height // 2 - side)
    image[y0 : y0 + side, x0 : x0 + side] = (250, 250, 40) if scene == 0 else (20, 240, 240)
    if height >= BLOCK * 2 and width >= BLOCK * BITS:
        for bit in range(BITS):
            value = 255 if (index >> bit) & 1 else 0
            image[height - BLOCK :, bit * BLOCK : (bit + 1) * BLOCK] = value
    return image


def frame_number(image: np.ndarray) -> int:
    """Read back the frame number drawn by :func:`frame_image` (tolerates lossy codecs)."""
    height = image.shape[0]
    number = 0
    for bit in range(BITS):
        block = image[height - BLOCK + 1 : height - 1, bit * BLOCK + 1 : (bit + 1) * BLOCK - 1]
        if block.mean() > 127:
            number |= 1 << bit
    return number


def make_clip(
    path: str | Path,
    count: int = 8,
    width: int = 64,
    height: int = 48,
    fps: int = 24,
    codec: str = "ffv1",
    pix_fmt: str | None = None,
    times_ms: list[int] | None = None,
    rotation: int | None = None,
    audio: bool = False,
    scenes: list[int] | None = None,
) -> Path:
    """Write a clip. ``times_ms``: explicit PTS in milliseconds (variable frame rate, or broken
    non-increasing times: decode order is kept), needs a millisecond time base (mkv)."""
    path = Path(path)
    pix_fmt = pix_fmt or ("bgr0" if codec == "ffv1" else "yuv420p")
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    if codec == "libx264":
        stream.options = {"crf": "10", "bframes": "2", "g": "4"}
    if codec == "libx265":
        stream.options = {"x265-params": "log-level=error:bframes=0:frame-threads=1:pools=none"}
    if rotation is not None:
        stream.set_display_rotation(rotation)
    time_base = Fraction(1, 1000) if times_ms is not None else Fraction(1, fps)
    stream.codec_context.time_base = time_base
    audio_stream = None
    if audio:
        audio_stream = container.add_stream("aac", rate=48000, layout="mono")
    for index in range(count):
        scene = scenes[index] if scenes else 0
        frame = av.VideoFrame.from_ndarray(frame_image(index, width, height, scene), format="rgb24")
        frame.pts, frame.time_base = index, time_base
        for packet in stream.encode(frame):
            _mux(container, packet, times_ms)
    for packet in stream.encode():
        _mux(container, packet, times_ms)
    if audio_stream is not None:
        _write_tone(container, audio_stream, seconds=(count + 1) / fps)
    container.close()
    return path


def _mux(container, packet, times_ms) -> None:
    if times_ms is not None and packet.pts is not None:
        index = packet.pts
        packet.pts = times_ms[index]
        packet.dts = index  # monotonic for the muxer even when the PTS are broken
    container.mux(packet)


def _write_tone(container, stream, seconds: float) -> None:
    rate, chunk = 48000, 1024
    total = int(seconds * rate)
    for start in range(0, total, chunk):
        t = (np.arange(start, min(total, start + chunk)) / rate).astype(np.float32)
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def moving_texture(
    count: int,
    height: int,
    width: int,
    shift: int,
    *,
    cell: int = 8,
    margin: int = 64,
    mode: str = "bicubic",
    seed: int | None = None,
) -> torch.Tensor:
    """``[1, count, 3, height, width]`` frames in [0, 1] of a smooth random texture moving ``shift``
    pixels right per frame: frame k is frame 0 moved ``k * shift`` pixels (no wrap-around).

    The texture is random colours on a grid of ``cell``-pixel cells, upsampled with ``mode``
    (noise would make matching arbitrary), ``margin`` pixels wider than the frames; frames are
    crops of it. ``seed``: a generator of its own; without it torch's global RNG (seeded for
    every test in tests/conftest.py).
    """
    if shift * (count - 1) > margin:
        raise ValueError(f"{count} frames moving {shift} pixels need a margin >= {shift * (count - 1)}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    rows, columns = -(-height // cell), -(-(width + margin) // cell)
    coarse = torch.rand(1, 3, rows, columns, generator=generator)
    texture = torch.nn.functional.interpolate(coarse, scale_factor=cell, mode=mode)
    frames = [texture[..., :height, margin - k * shift : margin - k * shift + width] for k in range(count)]
    return torch.stack(frames, dim=1).clamp(0, 1)


def as_uint8_images(frames: torch.Tensor) -> list[np.ndarray]:
    """``[1, N, 3, H, W]`` frames in [0, 1] -> N uint8 ``H x W x 3`` arrays."""
    return [(frame * 255).byte().permute(1, 2, 0).numpy() for frame in frames[0]]


def write_8k_gray_clip(path: Path) -> Path:
    """Two 7680 x 4320 grey FFV1 frames (levels 0 and 50): small on disk, large decoded."""
    container = av.open(str(path), "w")
    stream = container.add_stream("ffv1", rate=24)
    stream.width, stream.height, stream.pix_fmt = 7680, 4320, "gray"
    for index in range(2):
        frame = av.VideoFrame(7680, 4320, "gray")
        frame.planes[0].update(bytes([index * 50]) * frame.planes[0].buffer_size)
        frame.pts = index
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path
