"""Frame-accurate video reading with PyAV: true timestamps, rotation, any pixel format.

:class:`VideoReader` indexes a file once (demuxing packets, no decoding) to learn the
presentation time of every frame, then decodes on demand from the nearest keyframe, keeping an
LRU cache of decoded frames. Frames come out as ``uint8`` ``H x W x 3`` RGB in display
orientation (rotation metadata applied), whatever the source pixel format (8/10-bit YUV, gray,
alpha: alpha is dropped), converted with the source's own matrix and range
(:mod:`tempo_core.video.colour`); ``deep=True`` gives ``uint16`` RGB instead (no 8-bit step,
for 10-bit sources and the export), and ``keep_source=True`` keeps the decoded frames themselves
for :meth:`VideoReader.read_source` (real frames written to the output without a round trip
through RGB).

Every failure a user can cause (missing, empty, not a video, a still image, damaged, no video
stream, no frames, frames too large: :mod:`tempo_core.video.source_checks`) raises
:class:`tempo_core.errors.MediaError` with one plain sentence.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tempo_core.errors import MediaError, describe
from tempo_core.frame_sizes import DECODE_FRAME_THREADS_MAX_PIXELS
from tempo_core.local_files import ffmpeg_url
from tempo_core.video.colour import Colour, to_rgb
from tempo_core.video.colour import describe as describe_colour
from tempo_core.video.limits import check_frame_size, check_source_frames
from tempo_core.video.source_checks import check_path, check_video_header, video_stream
from tempo_core.video.timeline import nearest_indices
from tempo_core.video.timestamps import repair_times

__all__ = ["VideoInfo", "VideoReader", "check_video_header", "display_rotation", "probe", "rotate_upright"]

_SEEK_AHEAD_LIMIT = 48  # decode forward instead of seeking when the target is this close
_FRAME_THREADS_MAX_PIXELS = DECODE_FRAME_THREADS_MAX_PIXELS  # larger: slice threads (no frame queue)


@dataclass(frozen=True)
class VideoInfo:
    """What a user sees about a clip. ``width``/``height`` are the display size (after rotation);
    ``fps`` is the average rate; ``rotation`` is the counter-clockwise display rotation in
    degrees (0, 90, 180, 270) that was applied to the decoded frames."""

    path: str
    width: int
    height: int
    fps: float
    duration: float
    frame_count: int
    rotation: int
    has_audio: bool
    codec: str
    pix_fmt: str
    bit_depth: int


def probe(path: str | Path) -> VideoInfo:
    """Read a clip's :class:`VideoInfo` (indexes the file and decodes its first frame)."""
    with VideoReader(path, cache_size=1) as reader:
        return reader.info


def display_rotation(frame: av.VideoFrame) -> int:
    """The counter-clockwise display rotation of a decoded frame: 0, 90, 180 or 270 degrees."""
    return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) * 90 % 360


def rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """``[H, W, C]`` image in coded orientation -> display orientation (``rotation`` counter-clockwise,
    a multiple of 90 degrees)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


class VideoReader:
    """Random access to the frames of one video file (thread-safe; a context manager).

    Timestamps (``frame_times``, float64 seconds, strictly increasing) are the true PTS of every
    frame. Codecs that reorder frames (B-frames) are indexed in PTS order; the others in decode
    order. Broken timestamps (missing, repeated or non-increasing PTS) are repaired with
    :func:`repair_times`, and such files are then decoded by counting frames from the start
    instead of seeking by PTS, which stays correct at the cost of speed.

    Args:
        path: the video file.
        cache_size: decoded frames kept (LRU); also capped at ``max_cache_bytes``.
        max_cache_bytes: memory cap of the cache (8K frames are 100 MB each).
        deep: frames as ``uint16`` RGB (0..65535) instead of ``uint8``.
        keep_source: also cache the decoded frames, for :meth:`read_source`.
    """

    def __init__(
        self,
        path: str | Path,
        cache_size: int = 64,
        max_cache_bytes: int = 512 * 2**20,
        *,
        deep: bool = False,
        keep_source: bool = False,
    ) -> None:
        self.path = Path(path)
        self.deep = deep
        self._keep_source = keep_source
        self._sources: dict[int, av.VideoFrame] = {}
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        self._max_cache_bytes = max_cache_bytes
        self._container = None
        self._decoder = None  # generator of (index, av.VideoFrame) continuing the last decode
        self._next_index = 0
        check_path(self.path)
        try:
            self._open()
        except MediaError:
            self.close()
            raise
        except (av.FFmpegError, OSError, ValueError, IndexError, KeyError, TypeError) as err:
            self.close()
            reason = describe(err)
            raise MediaError(f"{self.path.name} is not a video file TEMPO can read ({reason}).") from None

    # ------------------------------------------------------------------ indexing
    def _open(self) -> None:
        self._container = av.open(ffmpeg_url(self.path), metadata_errors="ignore")
        self._stream = video_stream(self.path, self._container)
        context = self._stream.codec_context
        large = context.width * context.height > _FRAME_THREADS_MAX_PIXELS
        self._stream.thread_type = "SLICE" if large else "AUTO"  # frame threads hold a frame each
        self.time_base = float(self._stream.time_base or 0) or 1e-3
        self._index_packets()
        if len(self._raw_pts) == 1 and "gif" in self._container.format.name.split(","):
            raise MediaError(f"{self.path.name} is a still image, not a video; TEMPO needs a video clip.")
        first = self._decode_first()
        check_frame_size(self.path.name, first.width, first.height)
        self._coded_size = (first.width, first.height)
        self._rotation = display_rotation(first)
        self.colour: Colour = describe_colour(first, self._stream.codec_context)
        # An MP4/MOV index is written last, so a complete index means a complete file; other
        # containers (and broken timestamps) may list frames whose data is missing or damaged.
        complete_index = "mp4" in self._container.format.name and not self._damaged_tail
        if not complete_index:
            self._trim_undecodable_tail()
        self.info = self._make_info(first)

    def _index_packets(self) -> None:
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.rate: Fraction = Fraction(rate) if rate and rate > 0 else Fraction(25)
        self._nominal_step = 1.0 / float(self.rate)
        raw_pts: list[int | None] = []
        keyframes: list[bool] = []
        durations: list[int] = []
        self._damaged_tail = False
        for packet in _packets(self._container, stream, self):
            if packet.size == 0 or packet.is_discard:  # edit lists mark frames never shown
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            raw_pts.append(pts)
            check_source_frames(self.path.name, len(raw_pts))
            keyframes.append(bool(packet.is_keyframe))
            durations.append(int(packet.duration or 0))
        if not raw_pts:
            raise MediaError(f"{self.path.name} has a video stream with no frames.")
        reorders = bool(stream.codec_context.has_b_frames)
        known = [p for p in raw_pts if p is not None]
        if reorders and len(known) == len(raw_pts):
            order = sorted(range(len(raw_pts)), key=lambda i: raw_pts[i])
        else:
            order = list(range(len(raw_pts)))
        self._raw_pts = [raw_pts[i] for i in order]
        self._keyframe = [keyframes[i] for i in order]
        seconds = [None if p is None else p * self.time_base for p in self._raw_pts]
        self.frame_times = repair_times(seconds, self._nominal_step)
        self.frame_times.setflags(write=False)
        strictly = all(
            a is not None and b is not None and a < b for a, b in zip(self._raw_pts, self._raw_pts[1:], strict=False)
        )
        self._reliable = self._raw_pts[0] is not None and strictly
        self._pts_to_index = {p: i for i, p in enumerate(self._raw_pts)} if self._reliable else {}
        last = durations[order[-1]] * self.time_base if durations else 0.0
        self._last_duration = last if last > 0 else self._nominal_step

    def _decode_first(self) -> av.VideoFrame:
        for _, frame in self._decode_from(0):
            return frame
        raise MediaError(f"{self.path.name} is damaged: not one of its video frames can be decoded.")

    def _trim_undecodable_tail(self) -> None:
        """A truncated file may index frames whose data is missing: keep only decodable ones.
        Decodes the last keyframe interval (the whole file when timestamps are broken)."""
        start = 0
        if self._reliable:
            start = max(i for i in range(len(self._raw_pts)) if self._keyframe[i] or i == 0)
        last = -1
        for index, _ in self._decode_from(start):
            last = index
        if last < 0:  # the last GOP is lost entirely: count from the start
            for index, _ in self._decode_from(0):
                last = index
        if 0 <= last < len(self._raw_pts) - 1:
            self._truncate(last + 1)
        self._decoder = None

    def _truncate(self, count: int) -> None:
        self._raw_pts = self._raw_pts[:count]
        self._keyframe = self._keyframe[:count]
        times = np.array(self.frame_times[:count])
        times.setflags(write=False)
        self.frame_times = times
        self._last_duration = self._nominal_step

    def _make_info(self, first: av.VideoFrame) -> VideoInfo:
        width, height = first.width, first.height
        if self._rotation in (90, 270):
            width, height = height, width
        count = len(self.frame_times)
        span = float(self.frame_times[-1] - self.frame_times[0])
        fps = (count - 1) / span if count > 1 and span > 0 else 1.0 / self._nominal_step
        if abs(fps * self._nominal_step - 1.0) < 0.02:  # constant rate: prefer the exact one
            fps = 1.0 / self._nominal_step
        else:
            self.rate = Fraction(fps).limit_denominator(1001)
        fmt = first.format
        depth = max((c.bits for c in fmt.components), default=8)
        return VideoInfo(
            path=str(self.path),
            width=width,
            height=height,
            fps=float(fps),
            duration=span + self._last_duration,
            frame_count=count,
            rotation=self._rotation,
            has_audio=bool(self._container.streams.audio),
            codec=self._stream.codec_context.name,
            pix_fmt=fmt.name,
            bit_depth=int(depth),
        )

    # ------------------------------------------------------------------ decoding
    def _decode_from(self, index: int):
        """Yield ``(frame_index, frame)`` in presentation order, from the keyframe before
        ``index``; damaged packets are skipped."""
        container, stream = self._container, self._stream
        try:
            if self._reliable and index > 0:
                key = max(i for i in range(index + 1) if self._keyframe[i] or i == 0)
                container.seek(self._raw_pts[key], stream=stream, backward=True, any_frame=False)
            else:
                container.seek(0, backward=True, any_frame=False)
        except av.FFmpegError:  # not seekable: start over from a fresh demuxer
            container.close()
            self._container = container = av.open(ffmpeg_url(self.path), metadata_errors="ignore")
            self._stream = stream = container.streams.video[0]
        stream.codec_context.flush_buffers()
        counter = 0
        for packet in _packets(container, stream, self):
            try:
                frames = stream.decode(packet)
            except (av.FFmpegError, ValueError):
                continue  # damaged packet: skip it, the next keyframe recovers
            for frame in frames:
                if (frame.width, frame.height) != getattr(self, "_coded_size", None):
                    check_frame_size(self.path.name, frame.width, frame.height)  # a size change
                if self._reliable:
                    found = self._pts_to_index.get(frame.pts)
                    if found is None:
                        continue
                    position = found
                else:
                    position = counter
                counter += 1
                if position >= len(self._raw_pts):
                    return
                yield position, frame

    def _image(self, frame: av.VideoFrame) -> np.ndarray:
        try:
            same = (frame.width, frame.height) == self._coded_size
            # a stream that changes size mid-way keeps every frame the first frame's size
            image = to_rgb(frame, self.colour, deep=self.deep, size=None if same else self._coded_size)
        except (av.FFmpegError, ValueError, NotImplementedError) as err:
            raise MediaError(f"A frame of {self.path.name} ({frame.format.name}) cannot be converted to RGB.") from err
        image = rotate_upright(image, self._rotation)
        image.setflags(write=False)  # shared with the cache: callers copy before editing
        return image

    def _remember(self, index: int, frame: av.VideoFrame) -> None:
        image = self._image(frame)
        self._cache[index] = image
        self._cache.move_to_end(index)
        passable = self._rotation == 0 and (frame.width, frame.height) == self._coded_size
        if self._keep_source and passable:
            self._sources[index] = frame
        size = image.nbytes * (2 if self._keep_source else 1)
        limit = max(1, min(self._cache_size, self._max_cache_bytes // max(1, size)))
        while len(self._cache) > limit:
            dropped, _ = self._cache.popitem(last=False)
            self._sources.pop(dropped, None)

    def read_source(self, index: int) -> av.VideoFrame | None:
        """The decoded frame at ``index`` as the file holds it (its own pixel format and tags),
        for writing unchanged; None when it cannot be written as is (a rotated clip, a frame of
        another size) or the reader was not opened with ``keep_source``."""
        with self._lock:
            self.read_frame(index)
            return self._sources.get(index)

    def read_frame(self, index: int) -> np.ndarray:
        """The frame at ``index`` (presentation order) as read-only ``H x W x 3`` RGB (``uint8``;
        ``uint16`` for a ``deep`` reader)."""
        with self._lock:
            count = len(self.frame_times)
            if not 0 <= index < count:
                raise IndexError(f"frame {index} is outside 0..{count - 1}")
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index]
            continuing = self._decoder is not None and self._next_index <= index < self._next_index + _SEEK_AHEAD_LIMIT
            if not continuing:
                self._decoder = self._decode_from(index)
            for position, frame in self._decoder:
                self._next_index = position + 1
                if position >= index - 2:
                    self._remember(position, frame)
                if position >= index:
                    break
            else:
                self._decoder = None
            if index not in self._cache:
                self._decoder = None
                raise MediaError(f"Frame {index} of {self.path.name} cannot be decoded; the file may be damaged.")
            return self._cache[index]

    def iter_frames(self, start: int = 0, stop: int | None = None):
        """Yield ``(index, image)`` for ``start <= index < stop`` in order (sequential decode)."""
        stop = len(self.frame_times) if stop is None else min(stop, len(self.frame_times))
        for index in range(max(0, start), stop):
            yield index, self.read_frame(index)

    def iter_small(self, start: int = 0, stop: int | None = None, size: int = 32):
        """Yield ``(index, uint8 size x size x 3 RGB)`` for ``start <= index < stop`` by one
        sequential decode, scaled by swscale (for scene-cut detection; rotation not applied)."""
        for index, (small,) in self.iter_thumbnails(start, stop, (size,)):
            yield index, small

    def iter_thumbnails(self, start: int, stop: int | None, sizes: tuple[int, ...]):
        """Yield ``(index, [uint8 s x s x 3 RGB for s in sizes])`` by one sequential decode."""
        stop = len(self.frame_times) if stop is None else min(stop, len(self.frame_times))
        with self._lock:
            self._decoder = None
            try:
                for index, frame in self._decode_from(start):
                    if index >= stop:
                        break
                    if index >= start:
                        yield index, [self._small(frame, size) for size in sizes]
            finally:
                self._decoder = None

    def _small(self, frame: av.VideoFrame, size: int) -> np.ndarray:
        try:
            return to_rgb(frame, self.colour, deep=False, size=(size, size))
        except (av.FFmpegError, ValueError, NotImplementedError) as err:
            raise MediaError(f"A frame of {self.path.name} ({frame.format.name}) cannot be converted to RGB.") from err

    # ------------------------------------------------------------------ time queries
    def frame_at(self, time: float) -> int:
        """Index of the frame whose timestamp is nearest to ``time`` (seconds)."""
        times = self.frame_times
        right = int(np.searchsorted(times, time))
        if right <= 0:
            return 0
        if right >= len(times):
            return len(times) - 1
        return right if times[right] - time < time - times[right - 1] else right - 1

    def nearest_indices(self, time: float, n: int) -> list[int]:
        """The ``n`` real frames nearest to ``time``, sorted by time (at least one)."""
        return nearest_indices(self.frame_times, time, max(1, int(n)))

    @property
    def rotation(self) -> int:
        return self._rotation

    def close(self) -> None:
        with self._lock:
            self._decoder = None
            self._cache.clear()
            self._sources.clear()
            if self._container is not None:
                self._container.close()
                self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.frame_times)


def _packets(container, stream, reader: VideoReader):
    """Demux ``stream``, ending (and flagging ``reader._damaged_tail``) at a demuxer error."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, ValueError):
            reader._damaged_tail = True
            return
        yield packet
