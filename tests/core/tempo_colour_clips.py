"""Clips with colour tags, bit depths and plain re-encodes, made with PyAV (no ffmpeg CLI).

:func:`make_tagged_clip` writes a small clip of smooth, saturated, textured frames (the kind of
picture where a wrong matrix or range shows) converted to YUV with the matrix and range it is
tagged with (untagged: the matrix players guess, BT.709 from 1280 wide, else BT.601), by default
H.264 crf 12 (:data:`ENCODER_OPTIONS`), or lossless H.264 (:data:`LOSSLESS_H264`).
:func:`plain_reencode` is what ``ffmpeg -i SRC -c:v ENCODER ...`` does: the decoded YUV frames go
to the encoder unchanged at the source's rate, with the source's tags; the reference an export is
measured against, on YUV samples (:func:`yuv_frames`, :func:`psnr8`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from tempo_core.video.colour import Colour, describe

ENCODER_OPTIONS = {
    "libx264": {"crf": "12", "preset": "medium"},
    # one x265 thread: a 2-frame clip through frame-parallel x265 now and then came out with packet
    # times the Matroska muxer refused (EINVAL, once in CI); the reference must not flake
    "libx265": {"crf": "12", "preset": "medium", "x265-params": "log-level=error:pools=none:frame-threads=1"},
    "prores_ks": {"profile": "3"},
    "ffv1": {},
}
LOSSLESS_H264 = {"qp": "0", "preset": "medium"}  # x264 lossless: High 4:4:4 Predictive, 4:2:0 kept
SWS = {1: Colorspace.ITU709, 5: Colorspace.ITU601, 6: Colorspace.ITU601, 9: Colorspace.BT2020}


def encode_into(
    container: av.container.OutputContainer, stream: av.VideoStream, frames: Iterable[av.VideoFrame]
) -> None:
    """Encode ``frames`` (their ``pts`` set) with ``stream``, flush the encoder and close ``container``."""
    for frame in frames:
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def picture(width: int, height: int, index: int, levels: int = 65535) -> np.ndarray:
    """``uint16 H x W x 3`` RGB (0..65535): gradients, saturated patches and fine texture that
    move ``index`` pixels to the right. ``levels`` < 65536 quantizes nothing but the range used."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    x = xx - index
    red = 0.5 + 0.45 * np.sin(x / 9.0) * np.cos(yy / 13.0)
    green = 0.5 + 0.4 * np.cos((x + yy) / 17.0)
    blue = np.clip(x / max(1, width), 0, 1) * 0.8 + 0.1
    patch = (np.floor(x / 16) + np.floor(yy / 16)) % 4 == 0
    red, green = np.where(patch, 0.92, red), np.where(patch, 0.12, green)
    image = np.stack([red, green, blue], axis=-1)
    return (np.clip(image, 0, 1) * levels + 0.5).astype(np.uint16)


def gradient(width: int, height: int, index: int) -> np.ndarray:
    """``uint16 H x W x 3`` RGB: a smooth ramp through every row and column (thousands of levels
    per channel, so an 8-bit step anywhere shows as at most 256), moving ``index`` pixels."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    ramp = ((yy * width + xx + index * 7) % (width * height)) / (width * height)
    image = np.stack([0.1 + 0.8 * ramp, 0.9 - 0.7 * ramp, 0.3 + 0.4 * np.sin(ramp * 3.0) ** 2], axis=-1)
    return (image * 65535 + 0.5).astype(np.uint16)


def make_tagged_clip(
    path: Path,
    *,
    encoder: str = "libx264",
    pix_fmt: str = "yuv420p",
    size: tuple[int, int] = (96, 64),
    count: int = 3,
    matrix: int = 2,
    primaries: int = 2,
    transfer: int = 2,
    colour_range: int = 0,
    content=picture,
    options: dict[str, str] | None = None,
) -> Path:
    """Write ``count`` frames of ``content`` (:func:`picture` or :func:`gradient`) encoded with
    ``encoder`` (``options``, default :data:`ENCODER_OPTIONS`) and tagged as given."""
    width, height = size
    sws = SWS.get(matrix, Colorspace.ITU709 if width >= 1280 else Colorspace.ITU601)
    container = av.open(str(path), "w")
    stream = container.add_stream(encoder, rate=24)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    context = stream.codec_context
    context.colorspace, context.color_primaries, context.color_trc = matrix, primaries, transfer
    context.color_range = colour_range
    stream.options = dict(ENCODER_OPTIONS[encoder] if options is None else options)
    full = ColorRange.JPEG if colour_range == 2 else ColorRange.MPEG

    def frames() -> Iterator[av.VideoFrame]:
        for index in range(count):
            rgb = av.VideoFrame.from_ndarray(content(width, height, index), format="rgb48le")
            frame = rgb.reformat(
                format=pix_fmt,
                src_colorspace=sws,
                dst_colorspace=sws,
                src_color_range=ColorRange.JPEG,
                dst_color_range=full,
                interpolation=Interpolation.BICUBIC | Interpolation.ACCURATE_RND,
            )
            frame.colorspace, frame.color_range = matrix, colour_range
            frame.color_primaries, frame.color_trc = primaries, transfer
            frame.pts = index
            yield frame

    encode_into(container, stream, frames())
    return path


def plain_reencode(source: Path, out: Path, encoder: str, pix_fmt: str, repeat: int = 1) -> Path:
    """Re-encode ``source`` with ``encoder`` at the export's settings and the source's rate, YUV
    in, tags copied: the reference of issue 20. ``repeat`` > 1 shows every frame that many times
    at that many times the rate (``ffmpeg -r`` with frame duplication), for benchmarks."""
    with av.open(str(source)) as src:
        stream_in = src.streams.video[0]
        container = av.open(str(out), "w")
        rate = Fraction(stream_in.average_rate or 24) * repeat
        stream = container.add_stream(encoder, rate=rate)
        stream.width, stream.height, stream.pix_fmt = stream_in.width, stream_in.height, pix_fmt
        ctx_in, context = stream_in.codec_context, stream.codec_context
        context.time_base = 1 / rate
        for name in ("colorspace", "color_primaries", "color_trc", "color_range"):
            setattr(context, name, getattr(ctx_in, name))
        stream.options = dict(ENCODER_OPTIONS[encoder])

        def frames() -> Iterator[av.VideoFrame]:
            for index, frame in enumerate(src.decode(stream_in)):
                if frame.format.name != pix_fmt:
                    frame = frame.reformat(format=pix_fmt)
                for copy in range(repeat):
                    frame.pts, frame.time_base, frame.pict_type = index * repeat + copy, 1 / rate, 0
                    yield frame

        encode_into(container, stream, frames())
    return out


def colour_of(path: Path) -> Colour:
    """The :class:`Colour` a file's first frame and stream declare."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            return describe(frame, stream.codec_context)
    raise AssertionError(f"{path} has no frames")


def yuv_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    """Frames ``indices`` (decode order) as 8-bit 4:2:0 YUV samples, ``(H * 3/2) x W``: what
    ffmpeg's psnr filter compares, free of any YUV -> RGB choice (matrix, chroma siting)."""
    wanted, found = set(indices), {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found[index] = frame.reformat(format="yuv420p", interpolation=Interpolation.POINT).to_ndarray()
    return [found[i] for i in indices]


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two ``uint8`` arrays (peak 255)."""
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


def psnr16(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two ``uint16`` RGB images (peak 65535)."""
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(65535.0**2 / error))


class Blend:
    """A stand-in model that blends its two anchors in float (uint16 RGB in, float RGB out)."""

    tile = None

    def encode(self, frames, timestamps, tile=None):
        return [frame.astype(np.float32) / 65535.0 for frame in frames], list(timestamps)

    def synthesize(self, encoded, target_times, should_cancel=None):
        (first, second), (t0, t1) = encoded[0][:2], encoded[1][:2]
        results = []
        for time in target_times:
            weight = (time - t0) / (t1 - t0)
            rgb = ((1 - weight) * first + weight * second).astype(np.float32)
            image = (rgb * 255).round().astype(np.uint8)
            results.append(
                SimpleNamespace(rgb=rgb, image=image, confidence=np.ones(rgb.shape[:2], np.float32), time=time)
            )
        return results
