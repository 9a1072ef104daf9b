"""The export engine: a clip in, a smoother or slower clip out. Qt-free; the CLI and app call it.

:func:`run_export` plans the output timeline (:mod:`tempo_core.video.timeline`) after detecting scene
cuts (:mod:`tempo_core.video.scenecut`), then runs three stages at once, joined by small bounded
queues so the slowest stage sets the pace and memory stays flat:

1. a decoder thread reads the real frames each job needs, in order;
2. the calling thread runs the model: each anchor set is encoded once and every target time
   between those anchors is synthesized from the cached features, in batches;
3. a writer thread encodes and muxes (:class:`tempo_core.video.writer.VideoWriter`).

Frames that fall on a real frame are that frame, unchanged. Progress is reported after every
batch; cancellation is checked before every frame job and while waiting on a queue. Cancel or
failure removes the temporary output: nothing half-written is ever left, the source is never
touched.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tempo_core.errors import Cancelled, InputError, MediaError, OutputError
from tempo_core.video.reader import VideoReader
from tempo_core.video.scenecut import DEFAULT_THRESHOLD, cut_scores, detect_cuts
from tempo_core.video.timeline import MODES, OutputFrame, Plan, plan_output, snap_tolerance
from tempo_core.video.writer import CODECS, VideoWriter, check_output_path

LARGE_FRAME_PIXELS = 3840 * 2160  # above this, synthesize in tiles unless a tile size is given
AUTO_TILE = 1024
_QUEUE_DEPTH = 3
_POLL_S = 0.1


class CancelToken:
    """Thread-safe cancel flag: the UI calls :meth:`cancel`, the engine polls :attr:`cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class Progress:
    done: int  # output frames written
    total: int
    fps: float  # output frames per second so far
    eta_s: float | None  # seconds left, None until measurable


@dataclass(frozen=True)
class ExportSettings:
    """One export. ``mode``: "factor" (K x frame rate), "fps" (target rate), "slowmo" (duration
    x K) or "times" (explicit source ``times`` written at ``value`` fps). ``start``/``end`` in
    source seconds. ``quality`` is CRF-like (lower is better). ``scene_threshold`` >= 1 turns
    scene-cut detection off. ``tile`` forces tiled synthesis of that many pixels a side."""

    input_path: str | Path
    output_path: str | Path
    mode: str
    value: float
    codec: str = "h264"
    quality: int = 18
    start: float | None = None
    end: float | None = None
    anchors: int = 2
    overwrite: bool = False
    scene_threshold: float = DEFAULT_THRESHOLD
    batch_size: int = 8
    tile: int | None = None
    times: tuple[float, ...] | None = None


@dataclass
class ExportResult:
    output_path: Path
    frames_written: int
    synthesized: int
    held_at_cuts: int
    audio: str  # "copied", "dropped" or "none"
    seconds: float
    notes: list[str] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # source frames that start a new scene


@dataclass(frozen=True)
class _Job:
    """Output frames made the same way: ``sources`` copied, or synthesized from ``anchors``."""

    sources: tuple[int, ...]  # real frames this job needs, sorted
    times: tuple[float, ...]  # target times (synthesis) — empty for a copy
    count: int  # output frames produced


_DONE = object()


def validate(settings: ExportSettings) -> None:
    """Refuse impossible settings before any file is opened."""
    if settings.mode not in MODES:
        raise InputError(f"Unknown mode {settings.mode!r}; use one of {', '.join(MODES)}.")
    if settings.anchors not in (2, 4):
        raise InputError(f"The number of anchors must be 2 or 4, not {settings.anchors}.")
    if settings.codec not in CODECS:
        raise InputError(f"Unknown codec {settings.codec!r}; use one of {', '.join(CODECS)}.")
    if settings.batch_size < 1:
        raise InputError("The batch size must be at least 1.")
    check_output_path(Path(settings.output_path), settings.codec, settings.overwrite, Path(settings.input_path))


def detect_scene_cuts(
    reader: VideoReader, start: int, stop: int, threshold: float, cancel: CancelToken | None
) -> list[int]:
    """Source frame indices in ``[start, stop)`` that begin a new scene."""
    if threshold >= 1.0 or stop - start < 2:
        return []

    def thumbs() -> Iterator[np.ndarray]:
        for _, small in reader.iter_small(start, stop):
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            yield small.astype(np.float32) / 255.0

    return [start + i for i in detect_cuts(cut_scores(thumbs()), threshold)]


def make_jobs(plan: Plan, frame_times: np.ndarray, batch_size: int) -> list[_Job]:
    """Group consecutive output frames: copies one by one, syntheses by anchor set and batch."""
    jobs: list[_Job] = []
    pending: list[OutputFrame] = []

    def flush() -> None:
        if pending:
            jobs.append(_Job(pending[0].anchors, tuple(f.time for f in pending), len(pending)))
            pending.clear()

    for frame in plan.frames:
        if frame.source is not None:
            flush()
            jobs.append(_Job((frame.source,), (), 1))
            continue
        if pending and (pending[0].anchors != frame.anchors or len(pending) >= batch_size):
            flush()
        pending.append(frame)
    flush()
    return jobs


def run_export(
    settings: ExportSettings,
    interpolator,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Run one export (see the module docstring). Raises Cancelled, MediaError, OutputError,
    InputError or ModelError, each with one plain sentence, and leaves no output behind then."""
    began = time.monotonic()
    cancel = cancel or CancelToken()
    validate(settings)
    notes: list[str] = []
    with VideoReader(settings.input_path, cache_size=16) as reader:
        info = reader.info
        times = reader.frame_times
        lo = max(0, int(np.searchsorted(times, settings.start or times[0])) - 3)
        hi = len(times) if settings.end is None else int(np.searchsorted(times, settings.end)) + 3
        cuts = detect_scene_cuts(reader, lo, min(hi, len(times)), settings.scene_threshold, cancel)
        plan = plan_output(
            times,
            settings.mode,
            settings.value,
            source_rate=reader.rate,
            last_duration=info.duration - float(times[-1] - times[0]),
            start=settings.start,
            end=settings.end,
            anchors=settings.anchors,
            cuts=cuts,
            tolerance=snap_tolerance(reader.time_base, times, reader.rate),
            times=settings.times,
        )
        large = info.width * info.height > LARGE_FRAME_PIXELS
        batch = 1 if large else settings.batch_size
        same_timing = settings.mode in ("factor", "fps") or not plan.duration_changed
        same_timing = same_timing and settings.mode != "times"
        copy_audio = info.has_audio and same_timing and settings.codec != "png"
        if info.has_audio and not copy_audio:
            if settings.codec == "png":
                why = "a PNG sequence holds no audio"
            elif settings.mode == "slowmo":
                why = "slow motion changes the duration"
            else:
                why = "explicit times change the timing"
            notes.append(f"The audio was dropped: {why}.")
        if cancel.cancelled:
            raise Cancelled()
        writer = VideoWriter(
            settings.output_path,
            rate=plan.rate,
            width=info.width,
            height=info.height,
            codec=settings.codec,
            quality=settings.quality,
            overwrite=settings.overwrite,
            audio_source=settings.input_path if copy_audio else None,
            audio_start=plan.start,
            audio_end=plan.end,
        )
        restore_tile = _configure_tiling(interpolator, settings, info.width * info.height, notes)
        try:
            jobs = make_jobs(plan, times, batch)
            depth = 1 if large else _QUEUE_DEPTH
            _run_pipeline(reader, jobs, interpolator, writer, len(plan.frames), progress, cancel, depth)
            if cancel.cancelled:
                raise Cancelled()
            path = writer.finish()
        except BaseException:
            writer.abort()
            raise
        finally:
            restore_tile()
    notes.extend(writer.notes)
    audio = writer.audio if writer.audio == "copied" else ("dropped" if info.has_audio else "none")
    return ExportResult(
        output_path=path,
        frames_written=writer.frames_written,
        synthesized=plan.synthesized,
        held_at_cuts=plan.held_at_cuts,
        audio=audio,
        seconds=time.monotonic() - began,
        notes=notes,
        cuts=cuts,
    )


def _configure_tiling(interpolator, settings: ExportSettings, pixels: int, notes: list[str]):
    """Pass the tile size to the interpolator (if it tiles); returns an undo function."""
    if not hasattr(interpolator, "tile"):
        return lambda: None
    previous = interpolator.tile
    tile = settings.tile
    if tile is None and previous is None and pixels > LARGE_FRAME_PIXELS:
        tile = AUTO_TILE
        notes.append(f"Frames larger than 4K are synthesized in {AUTO_TILE}-pixel tiles.")
    if tile is not None:
        interpolator.tile = int(tile)

    def undo() -> None:
        interpolator.tile = previous

    return undo


class _Stop(Exception):
    """Internal: a stage noticed that the pipeline is stopping."""


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            q.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event):
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue


def _run_pipeline(reader, jobs, interpolator, writer, total, progress, cancel, depth) -> None:
    """Decode thread -> model (this thread) -> write thread, queues ``depth`` jobs deep."""
    decoded: queue.Queue = queue.Queue(maxsize=depth)
    synthesized: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failures: list[BaseException] = []

    def guarded(stage: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                stage()
            except _Stop:
                pass
            except BaseException as err:  # handed to the calling thread
                failures.append(err)
                stop.set()

        return body

    def decode_stage() -> None:
        window: dict[int, np.ndarray] = {}
        for job in jobs:
            for index in job.sources:
                if index not in window:
                    window[index] = reader.read_frame(index)
            for index in [i for i in window if i < job.sources[0] - 4]:
                del window[index]
            _put(decoded, (job, [window[i] for i in job.sources]), stop)
        _put(decoded, _DONE, stop)

    def write_stage() -> None:
        while (item := _get(synthesized, stop)) is not _DONE:
            for image in item:
                writer.write(image)

    threads = [
        threading.Thread(target=guarded(decode_stage), name="tempo-decode", daemon=True),
        threading.Thread(target=guarded(write_stage), name="tempo-write", daemon=True),
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        encoded_key, encoded = None, None
        while True:
            if cancel.cancelled:
                raise Cancelled()
            try:
                item = _get(decoded, stop)
            except _Stop:
                break
            if item is _DONE:
                _put(synthesized, _DONE, stop)
                break
            job, frames = item
            if not job.times:
                images = frames
            else:
                if job.sources != encoded_key:
                    anchor_times = [float(reader.frame_times[i]) for i in job.sources]
                    encoded = interpolator.encode(frames, anchor_times)
                    encoded_key = job.sources
                images = [s.image for s in interpolator.synthesize(encoded, list(job.times))]
            _put(synthesized, images, stop)
            _report(progress, writer.frames_written, total, started)
        for thread in threads:
            while thread.is_alive():
                if cancel.cancelled:
                    raise Cancelled()
                thread.join(timeout=_POLL_S)
    except _Stop:
        pass
    finally:
        stop.set()  # finished stages have already exited; running ones stop now
        for thread in threads:
            thread.join()
    if failures:
        raise _user_error(failures[0], writer)
    if cancel.cancelled:
        raise Cancelled()
    if writer.frames_written != total:
        raise MediaError("The export stopped before every frame was written.")
    _report(progress, writer.frames_written, total, started)


def _report(progress, done: int, total: int, started: float) -> None:
    if progress is None:
        return
    elapsed = time.monotonic() - started
    fps = done / elapsed if elapsed > 0 and done else 0.0
    eta = (total - done) / fps if fps > 0 else None
    progress(Progress(done=done, total=total, fps=fps, eta_s=eta))


def _user_error(err: BaseException, writer: VideoWriter) -> BaseException:
    """Errors from the stages as they should reach the caller."""
    if isinstance(err, OSError):
        from tempo_core.video.writer import output_error

        return output_error(err, writer.path)
    if isinstance(err, MemoryError):
        return OutputError("Ran out of memory; try a smaller --tile or a lower resolution.")
    return err
