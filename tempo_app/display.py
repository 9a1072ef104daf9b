"""Decides what the viewer shows for the playhead: a real frame, a cached or a new synthesis.

On a real frame it shows that frame, decoded by the :class:`~tempo_app.workers.frame_reader.FrameReader`
thread (the UI thread never decodes video) and kept in a small LRU of recent real frames, so
stepping back and forth is instant. A real frame is shown when it arrives, and only if the
playhead still stands where it was asked for. Between frames it asks the
:class:`~tempo_app.workers.model_worker.ModelWorker`: a reduced-resolution preview while the
user drags, the full resolution once the playhead rests (``rest_ms`` without movement, or the
drag ends). Results are cached (LRU, byte budget), and only results for where the playhead
stands are shown, so rapid scrubbing ends on the last position. Failures caused by the request
itself (pinned anchors too far from the playhead) go to the status bar; others become one
dialog, not repeated until a synthesis succeeds. The nearest real frame, the reference of compare
mode, is read while the model synthesizes; a synthesis shown before it arrives is shown again,
with its reference, when it does. Between the two frames of a scene cut it shows the real frame
the export holds there. While the picture for the playhead is on its way, ``pending_changed``
says what is computed (a :class:`Pending`) and when it started.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from tempo_app.state.cache import LRUCache
from tempo_app.state.display_frames import DisplayFrame, Pending, PendingReal
from tempo_app.state.model_state import ModelState
from tempo_app.state.session import SessionState
from tempo_app.workers.frame_reader import FrameReader
from tempo_app.workers.model_worker import ModelWorker, SynthesisRequest, SynthesisResult

if TYPE_CHECKING:  # keeps start-up light: the reader loads PyAV
    from tempo_core.video.reader import VideoReader


class DisplayController(QObject):
    """Observes the session, talks to the worker, emits ``frame_ready`` for the viewer."""

    frame_ready = Signal(object)  # DisplayFrame
    error = Signal(str)  # one sentence, for a dialog (not repeated until a success)
    status = Signal(str)  # one sentence for the status bar (e.g. pinned anchors too far away)
    idle = Signal()  # the latest request has finished
    busy_changed = Signal(bool)  # a synthesis for the playhead is running
    pending_changed = Signal(object)  # Pending, or None once the picture for the playhead is shown

    def __init__(
        self,
        session: SessionState,
        model_state: ModelState,
        worker: ModelWorker,
        preview_max_side: int = 320,
        rest_ms: int = 200,
        cache_bytes: int = 256 * 2**20,
        real_cache_bytes: int = 96 * 2**20,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.model_state = model_state
        self.worker = worker
        self.preview_max_side = preview_max_side
        self.cache = LRUCache(cache_bytes)
        self.real_frames = LRUCache(real_cache_bytes, max_items=32)  # frame index -> image
        self.frames = FrameReader(self)
        self.current: DisplayFrame | None = None
        self._has_clip = False
        self._clip_generation = 0
        self._pending_real: PendingReal | None = None
        self._next_id = 0
        self._latest_id: int | None = None
        self._last_error: str | None = None
        self._rest_timer = QTimer(self)
        self._rest_timer.setSingleShot(True)
        self._rest_timer.setInterval(rest_ms)
        self._rest_timer.timeout.connect(self._on_rest)
        session.playhead_changed.connect(self.update)
        session.anchors_changed.connect(self.update)
        session.scrubbing_changed.connect(self._on_scrubbing)
        model_state.changed.connect(self._on_model_changed)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_error)
        worker.request_finished.connect(self._on_finished)
        self.frames.result.connect(self._on_frame_read)
        self.frames.failed.connect(self._on_read_failed)
        self._generation: int | None = None
        self.pending: Pending | None = None

    # ------------------------------------------------------------- inputs
    def set_reader(self, reader: VideoReader | None) -> None:
        """Hand the open clip's reader to the frame thread (None: the clip was closed).

        The reader then belongs to that thread: nothing here reads from it or closes it.
        """
        self._clip_generation = self.frames.set_reader(reader)
        self._has_clip = reader is not None
        self.cache.clear()
        self.real_frames.clear()
        self._pending_real = None
        self._set_latest(None)
        self._rest_timer.stop()
        self.current = None
        self._set_pending(None)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Close the clip and end the frame thread; False when a read is still running."""
        self.set_reader(None)
        return self.frames.stop(timeout_ms)

    @property
    def busy(self) -> bool:
        return self._latest_id is not None

    def update(self, *_: object) -> None:
        """Show the right picture for the playhead now, requesting a synthesis if needed."""
        session = self.session
        self._pending_real = None
        if not session.has_clip or not self._has_clip:
            return
        index = session.real_frame_at()
        if index is not None:
            self._drop_request()
            self._show_real(index)
            return
        held = session.held_frame_at()
        if held is not None:  # between the two frames of a scene cut: the export holds a frame
            self._drop_request()
            self._show_real(held, kind="held", note="scene cut: the export holds this frame")
            return
        if self._show_cached(None):
            return
        if not self.model_state.ready:
            self._drop_request()
            note = "Loading the model" if self.model_state.loading else "No model loaded"
            self._show_real(session.nearest_frame(), kind="nearest", note=note)
            return
        self._prefetch(session.nearest_frame())  # the reference, decoded while the model works
        if session.scrubbing:
            self._rest_timer.start()
            if not self._show_cached(self.preview_max_side):
                self._request(self.preview_max_side)
        else:
            self._request(None)

    # ------------------------------------------------------------ helpers
    def _cache_key(self, max_side: int | None) -> tuple:
        session = self.session
        return (
            self._generation,
            session.path,
            round(session.playhead, 9),
            session.anchors,
            max_side,
        )

    def _show_cached(self, max_side: int | None) -> bool:
        """Show the cached result for the playhead; a request still running becomes moot."""
        result = self.cache.get(self._cache_key(max_side))
        if result is None:
            return False
        self._drop_request()
        self._show_result(result)
        return True

    def _at_playhead(self, request: SynthesisRequest) -> bool:
        session = self.session
        return (
            request.clip_path == session.path
            and round(request.time, 9) == round(session.playhead, 9)
            and request.anchors == session.anchors
        )

    def _full_shown(self) -> bool:
        """The full-resolution synthesis of the playhead is on screen already."""
        current = self.current
        return (
            current is not None
            and current.kind == "synthesized"
            and current.time == self.session.playhead
            and current.anchors == self.session.anchors
        )

    def _request(self, max_side: int | None) -> None:
        self._next_id += 1
        self._set_latest(self._next_id)
        session = self.session
        kind = "preview" if max_side is not None else "synthesis"
        self._set_pending(
            Pending(
                kind,
                session.playhead,
                session.frame_position(),
                session.anchors,
                started=time.monotonic(),
                expected_s=self.expected_seconds(max_side),
            )
        )
        self.worker.request(
            SynthesisRequest(
                self._next_id,
                str(self.session.path),
                self.session.playhead,
                self.session.anchors,
                max_side,
            )
        )

    def _set_latest(self, request_id: int | None) -> None:
        was_busy = self._latest_id is not None
        self._latest_id = request_id
        if request_id is None and self.pending is not None and self.pending.kind != "frame":
            self._set_pending(None)
        if was_busy != (request_id is not None):
            self.busy_changed.emit(request_id is not None)

    def _set_pending(self, pending: Pending | None) -> None:
        if pending != self.pending:
            self.pending = pending
            self.pending_changed.emit(pending)

    def expected_seconds(self, max_side: int | None) -> float | None:
        """The expected time of a synthesis from the last measured full-resolution one
        (previews scale with their share of the pixels); None before the first measurement."""
        ms = self.model_state.ms_per_frame
        if ms is None:
            return None
        info = self.session.info
        width, height = (getattr(info, "width", 0) or 0), (getattr(info, "height", 0) or 0)
        if max_side is not None and width and height:
            ms *= min(1.0, (max_side / max(width, height)) ** 2)
        return ms / 1000.0

    def _drop_request(self) -> None:
        if self._latest_id is not None:
            self._set_latest(None)
            self.worker.request(None)
            self.idle.emit()

    def _prefetch(self, index: int) -> np.ndarray | None:
        """Real frame ``index`` if decoded already; else ask the frame thread for it."""
        image = self.real_frames.get(index)
        if image is None:
            self.frames.request(index)
        return image

    def _show_real(self, index: int, kind: str = "real", note: str = "") -> None:
        """Show real frame ``index`` now if decoded, else as soon as the frame thread has it."""
        image = self._prefetch(index)
        if image is None:
            session = self.session
            self._pending_real = PendingReal(index, kind, note, session.playhead)
            position = session.frame_position()
            self._set_pending(Pending("frame", session.playhead, position, frame_index=index, started=time.monotonic()))
            return
        frame = self._real_frame(image, index, kind, note)
        current = self.current
        if current is not None and (current.kind, current.frame_index, current.time, current.note) == (
            kind,
            index,
            frame.time,
            note,
        ):
            self._set_pending(None)  # on screen already (the anchors changed with the playhead)
            return
        self._emit(frame)

    def _real_frame(self, image: np.ndarray, index: int, kind: str, note: str) -> DisplayFrame:
        time = float(self.session.frame_times[index]) if kind == "real" else self.session.playhead
        return DisplayFrame(image, time, kind, index, self.session.anchors, reference=image, note=note)

    def _show_result(self, result: SynthesisResult) -> None:
        """Show a synthesis; its reference follows from the frame thread if not decoded yet."""
        self._pending_real = None
        request = result.request
        nearest = self.session.nearest_frame(request.time)
        kind = "preview" if request.max_side is not None else "synthesized"
        frame = DisplayFrame(
            result.image,
            request.time,
            kind,
            nearest,
            request.anchors,
            confidence=result.confidence,
            reference=self._prefetch(nearest),
        )
        self._emit(frame)

    def _emit(self, frame: DisplayFrame) -> None:
        self.current = frame
        if self._latest_id is None or frame.kind == "synthesized":
            self._set_pending(None)
        self.frame_ready.emit(frame)

    def _report(self, message: str) -> None:
        if message != self._last_error:
            self._last_error = message
            self.error.emit(message)

    # ------------------------------------------------------------- events
    def _on_scrubbing(self, scrubbing: bool) -> None:
        if not scrubbing:
            self._rest_timer.stop()
            self.update()

    def _on_rest(self) -> None:
        if self._has_clip and self.session.has_clip and self.session.real_frame_at() is None and self.model_state.ready:
            if not self._show_cached(None):
                self._request(None)

    def _on_model_changed(self) -> None:
        info = self.model_state.info
        generation = info.generation if info is not None else None
        if generation != self._generation and not self.model_state.loading:
            self._generation = generation
            self.cache.clear()
            self.update()
        elif self.current is not None and self.current.kind == "nearest":
            self.update()

    def _on_result(self, result: SynthesisResult) -> None:
        if result.model_generation != self._generation or not self._has_clip:
            return
        request = result.request
        size = result.image.nbytes + result.confidence.nbytes
        key = (self._generation, request.clip_path, round(request.time, 9), request.anchors)
        self.cache.put((*key, request.max_side), result, size)
        if request.max_side is None:
            self.model_state.set_ms_per_frame(result.ms)
        # Results for where the playhead stands are shown (a preview that finishes after the
        # full-resolution request was made still helps); those for older positions are not.
        if self._at_playhead(request) and not (request.max_side and self._full_shown()):
            self._last_error = None
            self._show_result(result)

    def _on_error(self, request_id: int, message: str, user_caused: bool) -> None:
        if request_id != self._latest_id:
            return
        if user_caused:  # e.g. pinned anchors too far away: no dialog at every scrub step
            note = "cannot synthesize here, see the status bar"
            self._show_real(self.session.nearest_frame(), kind="nearest", note=note)
            self.status.emit(message)
        else:
            self._report(message)

    def _on_finished(self, request_id: int) -> None:
        if request_id == self._latest_id:
            self._set_latest(None)
            self.idle.emit()

    def _on_frame_read(self, generation: int, index: int, image: np.ndarray) -> None:
        if generation != self._clip_generation:  # a late frame of a clip closed since
            return
        self.real_frames.put(index, image)
        pending, current = self._pending_real, self.current
        if pending is not None and pending.index == index:
            self._pending_real = None
            if pending.playhead == self.session.playhead:
                self._emit(self._real_frame(image, index, pending.kind, pending.note))
        elif (
            current is not None
            and current.kind in ("synthesized", "preview")
            and current.reference is None
            and current.frame_index == index
        ):
            self._emit(replace(current, reference=image))

    def _on_read_failed(self, generation: int, index: int, message: str) -> None:
        if generation != self._clip_generation:
            return
        if self._pending_real is not None and self._pending_real.index == index:
            self._pending_real = None
            self._set_pending(None)
        self._report(message)
