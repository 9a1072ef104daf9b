"""Colour kept end to end: the source's matrix, range, primaries and transfer, and its bit depth.

A decoded YUV frame is turned into RGB with the source's *own* matrix (BT.601, BT.709, BT.2020,
SMPTE 240M, FCC) and range (limited or full); an untagged source is read the way players read it
(BT.709 from 1280 pixels wide or 577 lines high up, BT.601 below; limited range unless the pixel
format is a full-range ``yuvj`` one). Frames go back to YUV with the same matrix and range, and
the output carries the source's four tags unchanged (an untagged source stays untagged, so players
guess it the same way). HDR transfer tags (PQ, HLG) and wide-gamut primaries pass through as
tags: the pixels are never converted between transfers, the network works on the coded signal.

Conversions use swscale with bicubic chroma and accurate rounding, through 16-bit RGB, so an
8-bit or 10-bit luma plane survives a round trip exactly (chroma loses only its 4:2:0 resampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

__all__ = ["Colour", "OutputFormat", "describe", "from_rgb", "output_format", "rgb8", "to_output", "to_rgb"]

INTERPOLATION = Interpolation.BICUBIC | Interpolation.ACCURATE_RND
UNSPECIFIED_MATRIX = 2  # AVCOL_SPC_UNSPECIFIED
RGB_MATRIX = 0  # AVCOL_SPC_RGB
LIMITED, FULL = 1, 2  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG
# AVColorSpace (what files carry) -> the swscale matrix that converts it.
_SWS_MATRIX = {1: Colorspace.ITU709, 4: Colorspace.FCC, 5: Colorspace.ITU601, 6: Colorspace.ITU601}
_SWS_MATRIX |= {7: Colorspace.SMPTE240M, 9: Colorspace.BT2020, 10: Colorspace.BT2020}
MATRIX_NAMES = {0: "RGB", 1: "BT.709", 2: "unspecified", 4: "FCC", 5: "BT.601", 6: "BT.601", 7: "SMPTE 240M"}
MATRIX_NAMES |= {9: "BT.2020", 10: "BT.2020"}
TRANSFER_NAMES = {16: "PQ", 18: "HLG"}


@dataclass(frozen=True)
class Colour:
    """How a source stores colour. ``matrix``, ``primaries``, ``transfer`` and ``range`` are the
    FFmpeg enum values the file carries (2/2/2/0 when untagged); ``pix_fmt`` and ``bit_depth``
    describe its samples; ``width``/``height`` its coded size (for the untagged guess)."""

    matrix: int = UNSPECIFIED_MATRIX
    primaries: int = 2
    transfer: int = 2
    range: int = 0
    pix_fmt: str = "yuv420p"
    bit_depth: int = 8
    width: int = 0
    height: int = 0

    @property
    def is_rgb(self) -> bool:
        """The samples are RGB (``gbrp``, ``bgr0``, ...) or gray: no matrix is involved."""
        name = self.pix_fmt
        return not name.startswith(("yuv", "nv", "p0", "p2", "p4", "uyvy", "yuyv", "ayuv", "v210", "y2"))

    @property
    def deep(self) -> bool:
        """More than 8 bits a sample."""
        return self.bit_depth > 8

    @property
    def sws_matrix(self) -> Colorspace:
        """The matrix that converts this source: its own, or the players' guess when untagged."""
        if self.matrix in _SWS_MATRIX:
            return _SWS_MATRIX[self.matrix]
        hd = self.width >= 1280 or self.height > 576
        return Colorspace.ITU709 if hd else Colorspace.ITU601

    @property
    def full_range(self) -> bool:
        """Full-range samples: tagged so, or a ``yuvj`` pixel format; untagged YUV is limited."""
        return self.range == FULL or (self.range != LIMITED and self.pix_fmt.startswith("yuvj"))

    def describe(self) -> str:
        """A short human description: ``BT.709 limited 10-bit, PQ``."""
        matrix = MATRIX_NAMES.get(self.matrix, f"matrix {self.matrix}")
        if self.matrix == UNSPECIFIED_MATRIX and not self.is_rgb:
            matrix = f"untagged (read as {'BT.709' if self.sws_matrix == Colorspace.ITU709 else 'BT.601'})"
        text = f"{matrix} {'full' if self.full_range else 'limited'} {self.bit_depth}-bit"
        return text + (f", {TRANSFER_NAMES[self.transfer]}" if self.transfer in TRANSFER_NAMES else "")


def describe(frame: av.VideoFrame, context: object | None = None) -> Colour:
    """The :class:`Colour` of a decoded frame; a tag the frame leaves unspecified is taken from
    the stream's codec ``context`` (container-level tags) when it has one."""

    def tag(name: str, unspecified: int) -> int:
        value = int(getattr(frame, name, unspecified) or 0)
        if value in (unspecified, 0) and context is not None:
            value = int(getattr(context, name, value) or value)
        return value

    fmt = frame.format
    depth = max((c.bits for c in fmt.components), default=8)
    matrix = tag("colorspace", UNSPECIFIED_MATRIX)
    if matrix == 0 and fmt.name.startswith("yuv"):
        matrix = UNSPECIFIED_MATRIX  # "RGB" on YUV samples is a broken tag: guess instead
    return Colour(
        matrix=matrix,
        primaries=tag("color_primaries", 2),
        transfer=tag("color_trc", 2),
        range=tag("color_range", 0),
        pix_fmt=fmt.name,
        bit_depth=int(depth),
        width=frame.width,
        height=frame.height,
    )


def _range(full: bool) -> ColorRange:
    return ColorRange.JPEG if full else ColorRange.MPEG


def to_rgb(frame: av.VideoFrame, colour: Colour, *, deep: bool, size: tuple[int, int] | None = None) -> np.ndarray:
    """A decoded frame -> ``H x W x 3`` RGB, full range: ``uint16`` (0..65535) when ``deep``, else
    ``uint8``. ``size`` (width, height) rescales. Uses the source's matrix and range."""
    options: dict = {"format": "rgb48le" if deep else "rgb24", "interpolation": INTERPOLATION}
    if size is not None:
        options.update(width=size[0], height=size[1])
    if not colour.is_rgb:
        matrix = colour.sws_matrix
        options.update(src_colorspace=matrix, dst_colorspace=matrix)
        options.update(src_color_range=_range(colour.full_range), dst_color_range=ColorRange.JPEG)
    return frame.to_ndarray(**options)


@dataclass(frozen=True)
class OutputFormat:
    """What the writer encodes: ``pix_fmt`` and the four tags the stream carries."""

    pix_fmt: str
    matrix: int
    primaries: int
    transfer: int
    range: int

    @property
    def is_rgb(self) -> bool:
        return not self.pix_fmt.startswith("yuv")

    @property
    def full_range(self) -> bool:
        return self.range == FULL


_DEEP_FORMATS = {"hevc": "yuv420p10le", "prores": "yuv422p10le"}


def output_format(
    codec: str, colour: Colour, default_pix_fmt: str, ffv1_formats: set[str]
) -> tuple[OutputFormat, list[str]]:
    """The pixel format and tags an export to ``codec`` writes for a source of ``colour``, and
    notes for what cannot be kept (H.264 stays 8-bit; ProRes is always limited range)."""
    notes: list[str] = []
    pix_fmt, colour_range = default_pix_fmt, colour.range
    if codec == "ffv1":
        if colour.pix_fmt in ffv1_formats and not colour.pix_fmt.startswith("yuvj"):
            pix_fmt = colour.pix_fmt  # lossless in the source's own samples: real frames unchanged
        elif colour.deep:
            pix_fmt = "gbrp16le" if colour.is_rgb else "yuv444p16le"
    elif codec in _DEEP_FORMATS and colour.deep:
        pix_fmt = _DEEP_FORMATS[codec]
    elif codec == "h264" and colour.deep:
        notes.append(
            f"H.264 is written 8-bit (what editors and players decode); the source is {colour.bit_depth}-bit, "
            "so use --codec hevc, prores or ffv1 to keep its depth."
        )
    elif codec == "png" and colour.deep:
        notes.append(f"PNG frames are written 8-bit; the source is {colour.bit_depth}-bit.")
    if colour.pix_fmt.startswith("yuvj") and colour_range == 0:
        colour_range = FULL
    if codec == "prores" and colour.full_range:
        colour_range = LIMITED
        notes.append("ProRes is always limited range; the full-range source was scaled to limited range.")
    return OutputFormat(pix_fmt, colour.matrix, colour.primaries, colour.transfer, colour_range), notes


def _tag(frame: av.VideoFrame, out: OutputFormat) -> av.VideoFrame:
    frame.colorspace, frame.color_range = out.matrix, out.range
    frame.color_primaries, frame.color_trc = out.primaries, out.transfer
    return frame


def rgb8(image: np.ndarray) -> np.ndarray:
    """``uint16`` (or float in [0, 1]) RGB -> ``uint8`` RGB by swscale, the inverse of the
    8 -> 16-bit step :func:`to_rgb` takes (swscale maps 255 to 65283, not 65535)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype != np.uint16:
        image = (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb48le")
    return frame.to_ndarray(format="rgb24", interpolation=INTERPOLATION)


def from_rgb(image: np.ndarray, colour: Colour, out: OutputFormat) -> av.VideoFrame:
    """``H x W x 3`` RGB (``uint8``, ``uint16`` 0..65535, or float in [0, 1]) -> a frame in
    ``out.pix_fmt`` with the source's matrix and the output's range, tagged. Float goes
    through 16-bit RGB: no 8-bit step before a 10-bit output."""
    if image.dtype == np.uint8:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    else:
        if image.dtype != np.uint16:
            image = (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb48le")
    options: dict = {"format": out.pix_fmt, "interpolation": INTERPOLATION}
    if not out.is_rgb:
        matrix = colour.sws_matrix
        options.update(src_colorspace=matrix, dst_colorspace=matrix)
        options.update(src_color_range=ColorRange.JPEG, dst_color_range=_range(out.full_range))
    return _tag(frame.reformat(**options), out)


def to_output(frame: av.VideoFrame, colour: Colour, out: OutputFormat) -> av.VideoFrame:
    """A decoded source frame -> ``out.pix_fmt`` without going through RGB when both are YUV
    (the samples are kept exactly when the format and range match), tagged for the output."""
    same_range = out.is_rgb or colour.is_rgb or out.full_range == colour.full_range
    if frame.format.name == out.pix_fmt and same_range:
        converted = frame
    elif out.is_rgb != colour.is_rgb:
        rgb = to_rgb(frame, colour, deep=out.pix_fmt not in ("bgr0", "rgb24"))
        return from_rgb(rgb, colour, out)
    else:
        options: dict = {"format": out.pix_fmt, "interpolation": INTERPOLATION}
        if not out.is_rgb:
            matrix = colour.sws_matrix
            options.update(src_colorspace=matrix, dst_colorspace=matrix)
            options.update(src_color_range=_range(colour.full_range), dst_color_range=_range(out.full_range))
        converted = frame.reformat(**options)
    converted.pict_type = 0  # the source's frame types must not steer the encoder's
    return _tag(converted, out)
