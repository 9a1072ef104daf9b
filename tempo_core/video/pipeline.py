"""The export pipeline: decode thread -> model (the calling thread) -> write thread.

:class:`ExportPipeline` runs a list of :class:`Job` (made from a timeline plan by
:func:`make_jobs`): each job is either real frames copied through, or target times synthesized
from one anchor set. The stages are joined by queues ``depth`` jobs deep, so the slowest stage
sets the pace and memory stays flat. A failure in any stage stops the others and reaches the
caller as the user-facing error; cancellation is checked before every job and while waiting.

Real frames travel as the decoded source frames when the reader keeps them (written without a
round trip through RGB); synthesized frames as float RGB when the model gives it (``rgb``), so
nothing passes through 8 bits on the way to a 10-bit output. ``on_job`` (optional) sees every
job with its syntheses (None for copies) on the model thread, in output order: the hook for
per-frame records such as confidence.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tempo_core.errors import Cancelled, MediaError, OutputError
from tempo_core.video.reader import VideoReader
from tempo_core.video.timeline import OutputFrame, Plan
from tempo_core.video.writer import VideoWriter, output_error

_POLL_S = 0.1
_KEEP_BEHIND = 4  # decoded frames kept this far before the current job's first anchor


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


class Synthesized(Protocol):
    """A synthesized frame at ``time``: ``image`` uint8 ``H x W x 3`` RGB, its ``confidence``
    ``H x W`` in [0, 1] (scored by the safety net); a model may also give ``rgb``, float32
    ``H x W x 3`` in [0, 1] before rounding, which the pipeline then writes instead."""

    image: np.ndarray
    confidence: np.ndarray
    time: float


class FrameModel(Protocol):
    """What the pipeline needs of :class:`tempo_core.inference.Interpolator`."""

    def encode(self, frames: Sequence[np.ndarray], timestamps: Sequence[float], tile: int | None = None) -> Any: ...

    def synthesize(
        self, anchors: Any, target_times: Sequence[float], should_cancel: Callable[[], bool] | None = None
    ) -> Sequence[Synthesized]:
        """Syntheses at ``target_times``; ``should_cancel`` is asked between the stages of each
        synthesis, which stops with :class:`~tempo_core.errors.Cancelled` once it answers True."""
        ...


Review = Callable[[Sequence[np.ndarray], Sequence[float], Sequence[Synthesized]], Sequence[Synthesized]]


@dataclass(frozen=True)
class Job:
    """Output frames made the same way: ``sources`` copied, or synthesized from ``anchors``."""

    sources: tuple[int, ...]  # real frames this job needs, sorted
    times: tuple[float, ...]  # target times (synthesis) — empty for a copy
    count: int  # output frames produced


def make_jobs(plan: Plan, batch_size: int) -> list[Job]:
    """Group consecutive output frames: copies one by one, syntheses by anchor set and batch."""
    jobs: list[Job] = []
    pending: list[OutputFrame] = []

    def flush() -> None:
        if pending:
            jobs.append(Job(pending[0].anchors, tuple(f.time for f in pending), len(pending)))
            pending.clear()

    for frame in plan.frames:
        if frame.source is not None:
            flush()
            jobs.append(Job((frame.source,), (), 1))
            continue
        if pending and (pending[0].anchors != frame.anchors or len(pending) >= batch_size):
            flush()
        pending.append(frame)
    flush()
    return jobs


class _Stop(Exception):
    """Internal: a stage noticed that the pipeline is stopping."""


_DONE = object()


@dataclass
class ExportPipeline:
    """One run of the three stages over ``jobs``; :meth:`run` returns once every frame is
    written to ``writer`` (not yet finished: the caller moves the file into place).

    ``tile`` is passed to every ``model.encode`` call (None: the model's own choice). ``review``
    sees every job's anchors (frames and times) and syntheses and returns the frames to write
    instead (the safety net, :class:`tempo_core.video.safety_net.SafetyNet`)."""

    reader: VideoReader
    writer: VideoWriter
    model: FrameModel
    jobs: list[Job]
    total: int  # output frames the jobs produce
    cancel: CancelToken
    progress: Callable[[Progress], None] | None = None
    tile: int | None = None
    depth: int = 3
    on_job: Callable[[Job, Sequence[Synthesized] | None], None] | None = None
    review: Review | None = None

    def __post_init__(self) -> None:
        self._decoded: queue.Queue = queue.Queue(maxsize=self.depth)
        self._synthesized: queue.Queue = queue.Queue(maxsize=self.depth)
        self._stop = threading.Event()
        self._failures: list[BaseException] = []
        self._started = time.monotonic()

    def run(self) -> None:
        """Run the stages; raises Cancelled, or the first stage's error as a user-facing one."""
        threads = [
            threading.Thread(target=self._guarded(self._decode_stage), name="tempo-decode", daemon=True),
            threading.Thread(target=self._guarded(self._write_stage), name="tempo-write", daemon=True),
        ]
        for thread in threads:
            thread.start()
        self._started = time.monotonic()
        try:
            self._model_stage()
            self._wait_for(threads)
        except _Stop:
            pass
        finally:
            self._stop.set()  # finished stages have already exited; running ones stop now
            for thread in threads:
                thread.join()
        if self._failures:
            raise _user_error(self._failures[0], self.writer)
        if self.cancel.cancelled:
            raise Cancelled()
        if self.writer.frames_written != self.total:
            raise MediaError("The export stopped before every frame was written.")
        self._report()

    def _cancelled(self) -> bool:
        """The user's cancel, asked by the model between the stages of a synthesis."""
        return self.cancel.cancelled

    # ------------------------------------------------------------------ stages
    def _guarded(self, stage: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                stage()
            except _Stop:
                pass
            except BaseException as err:  # handed to the calling thread
                self._failures.append(err)
                self._stop.set()

        return body

    def _decode_stage(self) -> None:
        window: dict[int, np.ndarray] = {}
        for job in self.jobs:
            if not job.times:  # a real frame: the decoded frame itself when it can be written as is
                source = self.reader.read_source(job.sources[0])
                if source is not None:
                    self._put(self._decoded, (job, [source]))
                    continue
            for index in job.sources:
                if index not in window:
                    window[index] = self.reader.read_frame(index)
            for index in [i for i in window if i < job.sources[0] - _KEEP_BEHIND]:
                del window[index]
            self._put(self._decoded, (job, [window[i] for i in job.sources]))
        self._put(self._decoded, _DONE)

    def _write_stage(self) -> None:
        while (images := self._get(self._synthesized)) is not _DONE:
            for image in images:
                self.writer.write(image)

    def _model_stage(self) -> None:
        encoded_key, encoded = None, None
        while True:
            if self.cancel.cancelled:
                raise Cancelled()
            item = self._get(self._decoded)
            if item is _DONE:
                self._put(self._synthesized, _DONE)
                return
            job, frames = item
            syntheses = None
            if not job.times:
                images = frames
            else:
                anchor_times = [float(self.reader.frame_times[i]) for i in job.sources]
                if job.sources != encoded_key:
                    encoded = self.model.encode(frames, anchor_times, tile=self.tile)
                    encoded_key = job.sources
                syntheses = self.model.synthesize(encoded, list(job.times), should_cancel=self._cancelled)
                if self.review is not None:
                    syntheses = self.review(frames, anchor_times, syntheses)
                images = [_best_image(s) for s in syntheses]
            if self.on_job is not None:
                self.on_job(job, syntheses)
            self._put(self._synthesized, images)
            self._report()

    def _wait_for(self, threads: list[threading.Thread]) -> None:
        for thread in threads:
            while thread.is_alive():
                if self.cancel.cancelled:
                    raise Cancelled()
                thread.join(timeout=_POLL_S)

    # ------------------------------------------------------------------ plumbing
    def _put(self, target: queue.Queue, item: object) -> None:
        while True:
            if self._stop.is_set():
                raise _Stop()
            try:
                target.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def _get(self, source: queue.Queue) -> Any:
        while True:
            if self._stop.is_set():
                raise _Stop()
            try:
                return source.get(timeout=_POLL_S)
            except queue.Empty:
                continue

    def _report(self) -> None:
        if self.progress is None:
            return
        done = self.writer.frames_written
        elapsed = time.monotonic() - self._started
        fps = done / elapsed if elapsed > 0 and done else 0.0
        eta = (self.total - done) / fps if fps > 0 else None
        self.progress(Progress(done=done, total=self.total, fps=fps, eta_s=eta))


def _best_image(synthesis: Synthesized) -> np.ndarray:
    """The float RGB of a synthesis when the model gives it, else its uint8 image."""
    rgb = getattr(synthesis, "rgb", None)
    return rgb if rgb is not None else synthesis.image


def _user_error(err: BaseException, writer: VideoWriter) -> BaseException:
    """Errors from the stages as they should reach the caller."""
    if isinstance(err, OSError):
        return output_error(err, writer.path)
    if isinstance(err, MemoryError):
        return OutputError("Ran out of memory; try a smaller --tile or a lower resolution.")
    return err
