"""Writing the output with PyAV: H.264, HEVC, ProRes, FFV1 or a PNG sequence, audio remuxed.

Safety rules, all enforced here and in :mod:`tempo_core.output_paths`:

* the output is written to a hidden temporary file (or folder) *in the target folder*, named with
  this process id, and moved into place only by :meth:`VideoWriter.finish`, which checks again
  that nothing appeared at the target meanwhile; :meth:`abort` (cancel, error) deletes it, so no
  half-written file is ever left under the target name; leftovers of killed runs are removed by
  the next writer in that folder;
* an existing output is replaced only with ``overwrite=True``, a folder only when TEMPO made it;
  the source (or a folder holding it) is never the target;
* ``OSError`` while writing becomes :class:`OutputError` with one sentence (disk full, no
  permission, ...).

Frames are ``H x W x 3`` RGB (``uint8``, ``uint16`` or float in [0, 1]) or decoded source frames
(``av.VideoFrame``, written without a round trip through RGB). Given the source's
:class:`~tempo_core.video.colour.Colour`, the output keeps its matrix, range, primaries and
transfer tags and, for HEVC / ProRes / FFV1, its bit depth (:func:`~tempo_core.video.colour.output_format`);
FFV1 then stores the source's own pixel format, so a real frame passes unchanged. Without one,
FFV1 stores RGB (``bgr0``) and PNG RGB: both lossless, a passed-through frame reads back bit-exact.
Given the source's frame rate, x264 and x265 get the crf that keeps each frame at the quality
the asked crf gives it at the source rate (:func:`encoder_crf`).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tempo_core import output_paths
from tempo_core.errors import OutputError, describe
from tempo_core.local_files import ffmpeg_url
from tempo_core.output_paths import shown
from tempo_core.video.colour import Colour, OutputFormat, from_rgb, output_format, rgb8, to_output, to_rgb


@dataclass(frozen=True)
class CodecSpec:
    label: str
    encoders: tuple[str, ...]  # first available wins
    pix_fmt: str
    containers: tuple[str, ...]  # allowed file extensions; () for a folder of images
    even_size: bool  # chroma subsampling needs even width and height


CODECS: dict[str, CodecSpec] = {
    "h264": CodecSpec("H.264", ("libx264", "mpeg4"), "yuv420p", (".mp4", ".mov", ".mkv", ".m4v"), True),
    "hevc": CodecSpec("HEVC", ("libx265", "hevc"), "yuv420p", (".mp4", ".mov", ".mkv"), True),
    "prores": CodecSpec("ProRes", ("prores_ks", "prores"), "yuv422p10le", (".mov", ".mkv"), True),
    "ffv1": CodecSpec("FFV1", ("ffv1",), "bgr0", (".mkv", ".avi", ".mov"), False),
    "png": CodecSpec("PNG sequence", ("png",), "rgb24", (), False),
}

_AUDIO_LEAD_S = 0.5  # mux audio this far ahead of the video to keep the file interleaved
QCOMP = 0.6  # x264's and x265's default quantizer curve compression (--qcomp)
_MAX_CRF = 51.0
_FRAME_DURATION_S = (0.01, 1.0)  # x264's and x265's clip of a frame's duration in rate control


def _clipped_duration(rate: Fraction | float) -> float:
    """The duration (s) x264 / x265 rate control gives a frame at ``rate`` fps."""
    low, high = _FRAME_DURATION_S
    return min(max(1.0 / float(rate), low), high)


def encoder_crf(crf: float, source_rate: Fraction | float | None, rate: Fraction | float) -> float:
    """The crf to give x264 / x265 for frames at ``rate`` so that each keeps the quality ``crf``
    gives it in a re-encode at ``source_rate`` (``None``: no source rate, ``crf`` unchanged).

    Both rate controls spend bits per unit of time: a frame's complexity is divided by its
    duration (clipped to 0.01 .. 1 s) and the quantizer scale follows complexity^(1 - qcomp), so
    at twice the rate the quantizer rises by ``6 (1 - qcomp) = 2.4`` (6 QP double the scale).
    Lowering the crf by ``6 (1 - qcomp) log2(ratio of the clipped durations)`` undoes it
    (measured in ``benchmarks/crf_at_rate.py``); a lower output rate raises it. Rounded to 0.01,
    within the encoders' 0 .. 51.
    """
    if source_rate is None or float(source_rate) <= 0 or float(rate) <= 0:
        return float(crf)
    ratio = _clipped_duration(source_rate) / _clipped_duration(rate)
    offset = 6.0 * (1.0 - QCOMP) * math.log2(ratio)
    return round(min(max(float(crf) - offset, 0.0), _MAX_CRF), 2)


def _available(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except (av.FFmpegError, ValueError):
        return False


def _create_temp_file(path: Path) -> Path:
    """An empty file in a hidden staging folder beside ``path`` (see :mod:`.output_paths`)."""
    return output_paths.create_staged_file(path)


def _create_temp_folder(path: Path) -> Path:
    """An empty hidden folder beside ``path`` (umask permissions) holding the TEMPO marker."""
    return output_paths.create_temp_folder(path)


def output_error(err: Exception, path: Path) -> OutputError:
    """One sentence for an ``OSError`` (or PyAV error) raised while writing ``path``."""
    if not isinstance(err, OSError):
        reason = describe(err) or "encoder error"
        return OutputError(f"Encoding {path.name} failed ({reason}); nothing was left behind.")
    if err.errno == errno.ENOSPC:
        return OutputError(f"The disk is full; {path.name} was not written and nothing was left behind.")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"The folder {path.parent} is not writable.")
    reason = describe(err) or "input/output error"
    return OutputError(f"Writing {path.name} failed ({reason}); nothing was left behind.")


def check_output_path(path: Path, codec: str, overwrite: bool, source: Path | None = None) -> None:
    """Refuse outputs that cannot or must not be written, before any work is done."""
    if codec not in CODECS:
        raise OutputError(f"Unknown codec {codec!r}; use one of {', '.join(CODECS)}.")
    spec = CODECS[codec]
    path = Path(path)
    folder_output = not spec.containers
    output_paths.check_output_path(path, folder_output=folder_output, overwrite=overwrite, source=source)
    if spec.containers and not path.suffix:
        raise OutputError(f"The output {shown(path)} needs a file extension such as {spec.containers[0]}.")
    if spec.containers and path.suffix.lower() not in spec.containers:
        allowed = ", ".join(spec.containers)
        raise OutputError(f"{spec.label} cannot be written to a '{path.suffix}' file; use {allowed}.")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise OutputError(f"The output folder {parent} does not exist.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"The folder {parent} is not writable.")


class VideoWriter:
    """Encode RGB frames at ``rate`` into ``path`` (see the module docstring).

    Args:
        path: output file (or folder, for ``codec="png"``).
        rate: output frame rate (a fraction: 60000/1001 stays exact).
        width, height: frame size; odd sizes are padded by one edge pixel for 4:2:0 codecs.
        codec: a key of :data:`CODECS`.
        quality: CRF-like, lower is better (H.264/HEVC crf; ignored by lossless codecs): the
            quality each frame gets in a re-encode of the source at that crf. x264 and x265 spend
            bits per second, so at a higher rate than ``source_rate`` they are given a lower crf
            (:func:`encoder_crf`, stored in ``crf``): every frame keeps that quality and the file
            is larger than a source-rate encode of the same frames.
        source_rate: the source's frame rate (``None``: ``quality`` is passed unchanged).
        audio_source: copy the first audio stream of this file, from ``audio_start`` to
            ``audio_end`` seconds (pass ``None`` to write no audio).
        source: the video being read (defaults to ``audio_source``): never written or replaced.
        colour: the source's colour (None: untagged 8-bit RGB frames, as before).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        rate: Fraction,
        width: int,
        height: int,
        codec: str = "h264",
        quality: int = 18,
        overwrite: bool = False,
        audio_source: str | Path | None = None,
        audio_start: float = 0.0,
        audio_end: float | None = None,
        source: str | Path | None = None,
        colour: Colour | None = None,
        source_rate: Fraction | float | None = None,
    ) -> None:
        self.path = Path(path)
        self.colour = colour or Colour(pix_fmt="rgb24", width=width, height=height)
        source = source if source is not None else audio_source
        check_output_path(self.path, codec, overwrite, source)
        self._overwrite = overwrite
        self._expected = output_paths.identity(self.path)  # what --overwrite may replace
        output_paths.remove_stale_leftovers(self.path.absolute().parent)
        self.spec = CODECS[codec]
        self.codec = codec
        self.rate = Fraction(rate)
        self.crf: float | None = None  # the crf given to x264 / x265
        self.notes: list[str] = []
        self.audio = "none"
        self.frames_written = 0
        self._size = (width, height)
        self._container = None
        self._audio_in = None
        self._finished = False
        with self._abort_on_failure():
            if codec == "png":
                self._temp = _create_temp_folder(self.path)
            else:
                self._temp = _create_temp_file(self.path)
                self._open_video(width, height, encoder_crf(quality, source_rate, self.rate))
                if audio_source is not None:
                    self._open_audio(Path(audio_source), audio_start, audio_end)

    # ------------------------------------------------------------------ setup
    def _open_video(self, width: int, height: int, crf: float) -> None:
        spec = self.spec
        encoder = next((e for e in spec.encoders if _available(e)), None)
        if encoder is None:
            raise OutputError(f"This build of PyAV has no {spec.label} encoder; choose another codec.")
        if encoder == "mpeg4":
            self.notes.append("libx264 is not available; wrote MPEG-4 Part 2 instead of H.264.")
        if spec.even_size and (width % 2 or height % 2):
            width, height = width + width % 2, height + height % 2
            self.notes.append(
                f"{spec.label} needs an even frame size; padded to {width}x{height} by repeating the edge pixels."
            )
        self._encoded_size = (width, height)
        self.output = self._output_format(encoder)
        self._container = av.open(ffmpeg_url(self._temp), "w")
        stream = self._container.add_stream(encoder, rate=self.rate)
        stream.width, stream.height, stream.pix_fmt = width, height, self.output.pix_fmt
        context = stream.codec_context
        context.time_base = 1 / self.rate
        context.colorspace, context.color_range = self.output.matrix, self.output.range
        context.color_primaries, context.color_trc = self.output.primaries, self.output.transfer
        options = {}
        if encoder in ("libx264", "libx265"):
            self.crf = crf
            options = {"crf": f"{crf:g}", "preset": "medium"}
            if encoder == "libx265":
                options["x265-params"] = "log-level=error"
        elif encoder.startswith("prores"):
            options = {"profile": "3"}
        elif encoder == "mpeg4":
            stream.codec_context.bit_rate = int(width * height * float(self.rate) * 0.2)
        stream.options = options
        self._video = stream

    def _output_format(self, encoder: str) -> OutputFormat:
        """The pixel format and tags to write (an 8-bit fallback encoder stays 8-bit)."""
        formats = {f.name for f in av.codec.Codec(encoder, "w").video_formats or ()}
        out, notes = output_format(self.codec, self.colour, self.spec.pix_fmt, formats if encoder == "ffv1" else set())
        if out.pix_fmt not in formats:
            out = OutputFormat(self.spec.pix_fmt, out.matrix, out.primaries, out.transfer, out.range)
        if self.colour.is_rgb and not out.is_rgb:
            out = OutputFormat(out.pix_fmt, 2, out.primaries, out.transfer, 0)  # RGB source: untagged YUV
        self.notes.extend(notes)
        return out

    def _open_audio(self, source: Path, start: float, end: float | None) -> None:
        try:
            audio_in = av.open(ffmpeg_url(source), metadata_errors="ignore")
        except (av.FFmpegError, OSError):
            return
        if not audio_in.streams.audio:
            audio_in.close()
            return
        template = audio_in.streams.audio[0]
        try:
            self._audio_out = self._container.add_stream_from_template(template)
        except (ValueError, av.FFmpegError):
            audio_in.close()
            self.audio = "dropped"
            self.notes.append(
                f"The audio codec ({template.codec_context.name}) cannot go into a "
                f"{self.path.suffix} file; the audio was dropped."
            )
            return
        self._audio_in = audio_in
        self._audio_packets = audio_in.demux(template)
        self._audio_tb = float(template.time_base)
        self._audio_shift = int(round(start / self._audio_tb))
        self._audio_range = (start, end if end is not None else float("inf"))
        self.audio = "copied"

    # ------------------------------------------------------------------ writing
    def write(self, image: np.ndarray | av.VideoFrame) -> None:
        """Append one ``H x W x 3`` RGB frame (``uint8``, ``uint16`` or float in [0, 1]) or one
        decoded source frame of the output's size."""
        shape = (image.height, image.width) if isinstance(image, av.VideoFrame) else image.shape[:2]
        if shape != (self._size[1], self._size[0]):
            raise ValueError(f"frame of size {shape[1]}x{shape[0]}, expected {self._size}")
        try:
            if self.codec == "png":
                self._write_png(image)
            else:
                self._write_video(image)
        except (OSError, av.FFmpegError) as err:
            raise output_error(err, self.path) from None
        self.frames_written += 1

    def _write_png(self, image: np.ndarray | av.VideoFrame) -> None:
        from PIL import Image

        if isinstance(image, av.VideoFrame):
            image = to_rgb(image, self.colour, deep=False)
        else:
            image = rgb8(image)
        Image.fromarray(image, "RGB").save(self._temp / f"frame_{self.frames_written:06d}.png", compress_level=3)

    def _write_video(self, image: np.ndarray | av.VideoFrame) -> None:
        width, height = self._encoded_size
        if isinstance(image, av.VideoFrame) and (image.width, image.height) == (width, height):
            frame = to_output(image, self.colour, self.output)
        else:
            if isinstance(image, av.VideoFrame):
                image = to_rgb(image, self.colour, deep=True)
            if image.shape[1] != width or image.shape[0] != height:
                pad = ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0))
                image = np.pad(image, pad, mode="edge")
            frame = from_rgb(image, self.colour, self.output)
        frame.pts = self.frames_written
        frame.time_base = 1 / self.rate
        for packet in self._video.encode(frame):
            self._mux(packet)
        self._copy_audio(until=self.frames_written / float(self.rate) + _AUDIO_LEAD_S)

    def _mux(self, packet: av.Packet) -> None:
        self._container.mux(packet)

    def _copy_audio(self, until: float) -> None:
        if self._audio_in is None:
            return
        start, end = self._audio_range
        for packet in self._audio_packets:
            if packet.pts is None or packet.size == 0:
                continue
            time = packet.pts * self._audio_tb
            if time < start - 1e-6:
                continue
            if time >= end:
                self._close_audio()
                return
            packet.pts -= self._audio_shift
            packet.dts = None if packet.dts is None else packet.dts - self._audio_shift
            packet.stream = self._audio_out
            self._mux(packet)
            if time - start >= until:
                return
        self._close_audio()

    def _close_audio(self) -> None:
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None

    # ------------------------------------------------------------------ ending
    @contextlib.contextmanager
    def _abort_on_failure(self):
        """Any failure removes the partial output; OS and codec errors become one OutputError."""
        try:
            yield
        except (OSError, av.FFmpegError) as err:
            self.abort()
            raise output_error(err, self.path) from None
        except BaseException:
            self.abort()
            raise

    def finish(self) -> Path:
        """Flush, close and move the file into place; returns the final path."""
        with self._abort_on_failure():
            if self.codec != "png":
                for packet in self._video.encode(None):
                    self._mux(packet)
                self._copy_audio(until=float("inf"))
                self._container.close()
                self._container = None
            self._move_into_place()
        self._finished = True
        return self.path

    def _move_into_place(self) -> None:
        output_paths.place(self._temp, self.path, overwrite=self._overwrite, expected=self._expected)

    def abort(self) -> None:
        """Stop and delete the temporary output (safe to call more than once)."""
        self._close_audio()
        if self._container is not None:
            try:
                self._container.close()
            except (av.FFmpegError, OSError):
                pass
            self._container = None
        temp = getattr(self, "_temp", None)
        if temp is not None and not self._finished:
            output_paths.discard(temp)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *rest: object) -> None:
        if exc_type is not None or not self._finished:
            self.abort()
