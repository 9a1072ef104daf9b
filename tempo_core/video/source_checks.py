"""What a source file must pass before anything is decoded, from its header alone.

A missing, empty or folder path, a named pipe or device (:mod:`tempo_core.local_files`: opening
one would block); a still image (FFmpeg's ``*_pipe`` image demuxers, a one-frame
GIF is caught after indexing by the reader); no video stream; an unknown codec; and a frame size
beyond :mod:`tempo_core.video.limits`, read from the container header or, for YUV4MPEG2, from
the text header before FFmpeg sees the file (FFmpeg refuses a huge y4m size with a misleading
"device or resource busy"). Each refusal is one :class:`MediaError` sentence.
"""

from __future__ import annotations

from pathlib import Path

import av

from tempo_core.errors import MediaError, describe
from tempo_core.local_files import ffmpeg_url, open_regular, special_file_kind
from tempo_core.video.limits import MAX_SIDE, check_frame_size


def video_stream(path: Path, container) -> av.VideoStream:
    """The container's first video stream, after the checks its header allows: a video stream
    exists, the file is not a still image, the codec is known, the frame size is within limits."""
    streams = container.streams
    if not streams.video:
        what = "it holds only audio" if streams.audio else "it holds no video stream"
        raise MediaError(f"{path.name} cannot be interpolated: {what}.")
    if _image_format(container.format.name):
        if _animated_webp(path):  # FFmpeg's webp_pipe reads one image and cannot decode an animation
            raise MediaError(
                f"{path.name} is an animated WebP, which TEMPO cannot decode; convert it to a video "
                "(MP4, MKV) or an animated GIF first."
            )
        raise MediaError(f"{path.name} is a still image, not a video; TEMPO needs a video clip.")
    stream = streams.video[0]
    if stream.codec_context is None:
        raise MediaError(f"{path.name} uses a video codec TEMPO cannot decode.")
    check_frame_size(path.name, stream.codec_context.width, stream.codec_context.height)
    return stream


def check_video_header(path: str | Path) -> None:
    """The refusals :class:`VideoReader` can make from the file's header alone (missing, empty,
    not a video, a still image, frames too large), in milliseconds: nothing is indexed or decoded."""
    path = Path(path)
    check_path(path)
    try:
        with av.open(ffmpeg_url(path), metadata_errors="ignore") as container:
            video_stream(path, container)
    except (av.FFmpegError, OSError, ValueError, IndexError, KeyError, TypeError) as err:
        raise MediaError(f"{path.name} is not a video file TEMPO can read ({describe(err)}).") from None


def _animated_webp(path: Path) -> bool:
    """True for a WebP whose extended header (``VP8X``) sets the animation flag."""
    try:
        with open_regular(path) as handle:
            head = handle.read(21)
    except OSError:
        return False
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def _image_format(names: str) -> bool:
    """True for FFmpeg's single-image demuxers (``png_pipe``, ``jpeg_pipe``, ``image2``, ...)."""
    return any(name.endswith("_pipe") or name == "image2" for name in names.split(","))


def check_path(path: Path) -> None:
    """Refuse a missing, folder, pipe, device or empty path, and a YUV4MPEG2 header naming a size beyond the limits."""
    if not path.exists():
        raise MediaError(f"The file {path} does not exist.")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not a video file.")
    kind = special_file_kind(path)
    if kind is not None:  # opening a pipe would wait for a writer, past Ctrl-C
        raise MediaError(f"{path} is {kind}, not a video file.")
    if path.stat().st_size == 0:
        raise MediaError(f"The file {path} is empty.")
    _check_y4m_header(path)


def _check_y4m_header(path: Path) -> None:
    """A YUV4MPEG2 header names the frame size in plain text: check it before FFmpeg allocates."""
    try:
        with open_regular(path) as handle:
            head = handle.read(256)
    except OSError as err:
        raise MediaError(f"{path.name} cannot be read ({describe(err)}).") from None
    if not head.startswith(b"YUV4MPEG2 "):
        return
    fields = {token[:1]: token[1:] for token in head.split(b"\n")[0].split(b" ")[1:] if token}
    try:
        width, height = int(fields.get(b"W", b"0")), int(fields.get(b"H", b"0"))
    except ValueError:
        raise MediaError(f"{path.name} has a damaged YUV4MPEG2 header.") from None
    check_frame_size(path.name, min(width, 10 * MAX_SIDE), min(height, 10 * MAX_SIDE))
