"""The application's non-visual core: state objects, workers and the actions the UI triggers.

Widgets call these methods and observe the state; :class:`AppController` never touches a widget.
The clip's ``VideoReader`` is opened here (to index the clip and check it), on a
:class:`ClipOpener` thread when the user opens it (:meth:`AppController.open_clip_in_background`),
and then handed over to the display's frame thread, which alone reads and closes it.
Problems come out of the ``error`` signal as one sentence; the window shows them as dialogs
(the ``--screenshot`` runner prints them instead). The confidence track
(:class:`tempo_app.state.confidence_track.ConfidenceTrack`) gathers the score of every full-size frame
the viewer synthesizes and of every frame an export of the clip synthesized.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from tempo_app.display import DisplayController
from tempo_app.errors import user_message
from tempo_app.playback import Playback
from tempo_app.state.confidence_track import ConfidenceTrack
from tempo_app.state.model_state import (
    LOW_MEMORY_TILE,
    ModelInfo,
    ModelSpec,
    ModelState,
    available_devices,
    fp16_possible,
)
from tempo_app.state.session import SessionState
from tempo_app.state.settings import AppSettings
from tempo_app.state.view_state import ViewState
from tempo_app.workers.clip_opener import ClipOpener
from tempo_app.workers.export_job import ExportJob, SpeedProbe
from tempo_app.workers.model_worker import InterpolatorFactory, ModelWorker
from tempo_app.workers.scene_cuts import SceneCutScanner
from tempo_app.workers.thumbnails import ThumbnailLoader

if TYPE_CHECKING:  # keeps start-up light: tempo_core loads PyAV and torch
    from tempo_app.state.display_frames import DisplayFrame
    from tempo_core.video.engine import ExportSettings
    from tempo_core.video.reader import VideoReader
    from tempo_core.video.report_records import ExportReport

# How long closing the app waits for a clip still being indexed (a scan cannot be interrupted).
OPENER_GRACE_MS = 5000

# The viewer's reader keeps a small decode cache of its own: the frames decoded on the way to a
# seek make stepping forward instant, and the display keeps recently shown frames in its LRU.
# The model thread's reader has its own cache, so two full-size ones would double the memory.
VIEWER_READER_FRAMES = 16
VIEWER_READER_BYTES = 128 * 2**20


class AppController(QObject):
    """Owns the session, view and model state, the model worker and the thumbnail loader."""

    error = Signal(str)  # one sentence for a dialog
    status_message = Signal(str)  # transient text for the status bar
    thumbnail = Signal(int, object)  # frame index, QImage
    thumbnails_reset = Signal()
    recent_files_changed = Signal(list)
    confidence_changed = Signal()  # the confidence track gained or lost scores

    def __init__(
        self,
        settings: AppSettings,
        factory: InterpolatorFactory | None = None,
        preview_max_side: int = 320,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.session = SessionState(self)
        self.view = ViewState(self)
        self.model = ModelState(self)
        self.worker = ModelWorker(factory)
        self.display = DisplayController(
            self.session, self.model, self.worker, preview_max_side=preview_max_side, parent=self
        )
        self.playback = Playback(self.session, self)
        self.confidence = ConfidenceTrack()
        self.thumbnail_loader: ThumbnailLoader | None = None
        self.cut_scanner: SceneCutScanner | None = None
        self.export_job: ExportJob | None = None
        self.speed_probe: SpeedProbe | None = None
        self.opener: ClipOpener | None = None  # the open whose result will be shown
        self._openers: set[ClipOpener] = set()  # every open still running, superseded ones too
        self.worker.model_loaded.connect(self._on_model_loaded)
        self.worker.model_failed.connect(self._on_model_failed)
        self.display.error.connect(self.error)
        self.display.status.connect(self.status_message)
        self.display.frame_ready.connect(self._score_shown_frame)
        self.session.clip_changed.connect(self._clear_confidence)
        self.model.spec = ModelSpec(None, settings.device, settings.precision)

    # ------------------------------------------------------------ lifecycle
    def start(self, load_model: bool = True, checkpoint: str | None = None) -> None:
        """Start the worker and load ``checkpoint`` (None: the bundled default)."""
        self.worker.start()
        if load_model:
            spec = replace(self.model.spec, path=checkpoint)
            if spec.precision == "fp16" and not fp16_possible(spec.device, available_devices()):
                spec = replace(spec, precision="fp32")  # remembered from a machine with a GPU
            self.load_model(spec, startup=checkpoint is None)

    def shutdown(self) -> bool:
        """Stop everything; False when a thread is still busy after the grace period."""
        self.playback.pause()
        background = [t for t in (self.thumbnail_loader, self.cut_scanner) if t is not None]
        self._stop_thumbnails()
        self._stop_cut_scan()
        self.opener = None  # a clip still being indexed is closed when it arrives
        if self.export_job is not None:
            self.export_job.cancel()
        frames_stopped = self.display.shutdown()  # closes the clip's reader on its thread
        stopped = self.worker.stop()
        openers_stopped = all(opener.wait(OPENER_GRACE_MS) for opener in list(self._openers))
        background_stopped = all(thread.wait(OPENER_GRACE_MS) for thread in background)  # closing: may wait
        return stopped and frames_stopped and openers_stopped and background_stopped

    def threads_running(self) -> bool:
        """A worker thread is still running (after :meth:`shutdown` gave up waiting for it)."""
        openers = any(opener.isRunning() for opener in self._openers)
        return self.worker.isRunning() or self.display.frames.isRunning() or openers

    # ----------------------------------------------------------------- clip
    def open_clip(self, path: str) -> bool:
        """Open ``path`` now, on this thread (scripts, tests); on failure report one sentence and
        keep the current clip. The window uses :meth:`open_clip_in_background`.
        """
        path = os.path.abspath(os.fspath(path))
        self.opener = None  # this open supersedes one still running
        try:
            reader = open_viewer_reader(path)
        except Exception as error:
            self.error.emit(user_message(error, f"Opening {os.path.basename(path)}"))
            return False
        self._show_clip(path, reader)
        return True

    def open_clip_in_background(self, path: str) -> None:
        """Open ``path`` on a :class:`ClipOpener` thread; the window stays responsive meanwhile.

        The clip is shown when it has been indexed, unless another open came later; a failure is
        one sentence on ``error`` and keeps the current clip.
        """
        path = os.path.abspath(os.fspath(path))
        opener = ClipOpener(path, open_viewer_reader, parent=self)  # parented: never freed running
        opener.result.connect(self._on_clip_opened)
        opener.failed.connect(self._on_open_failed)
        opener.finished.connect(self._on_opener_finished)
        self.opener = opener
        self._openers.add(opener)
        self.status_message.emit(f"Opening {os.path.basename(path)}...")
        opener.start()

    def _on_clip_opened(self, path: str, reader: VideoReader) -> None:
        if self.sender() is not self.opener:  # superseded, or the app is closing
            reader.close()
            return
        self.opener = None
        self._show_clip(path, reader)
        self.status_message.emit(f"Opened {os.path.basename(path)}: {len(reader.frame_times)} frames.")

    def _on_open_failed(self, path: str, message: str) -> None:
        if self.sender() is self.opener:
            self.opener = None
            self.error.emit(message)

    def _on_opener_finished(self) -> None:
        opener = self.sender()
        self._openers.discard(opener)
        opener.deleteLater()

    def _show_clip(self, path: str, reader: VideoReader) -> None:
        """Make the opened ``reader`` the current clip (it goes to the frame thread)."""
        frame_times, info = reader.frame_times, reader.info
        self.playback.pause()
        self._stop_thumbnails()
        self._stop_cut_scan()
        self.display.set_reader(reader)  # the frame thread closes the previous clip's reader
        self.session.set_clip(path, info, frame_times)
        self.recent_files_changed.emit(self.settings.add_recent_file(path))
        self.settings.set_last_folder("open", path)
        self._start_thumbnails(path, len(frame_times))
        self._start_cut_scan(path)
        self.display.update()

    def close_clip(self) -> None:
        """Close the open clip; a frame still being decoded for it is never shown."""
        if not self.session.has_clip:
            return
        self.playback.pause()
        self._stop_thumbnails()
        self._stop_cut_scan()
        self.display.set_reader(None)
        self.session.clear_clip()

    def _start_thumbnails(self, path: str, frame_count: int) -> None:
        self.thumbnails_reset.emit()
        loader = ThumbnailLoader(path, frame_count, parent=self)  # parented: never freed running
        loader.result.connect(self._on_thumbnail)
        loader.failed.connect(self.status_message)
        self.thumbnail_loader = loader
        loader.start()

    def _on_thumbnail(self, index: int, image: object) -> None:
        if self.sender() is self.thumbnail_loader:  # not a late one from the previous clip
            self.thumbnail.emit(index, image)

    def _stop_thumbnails(self) -> None:
        loader, self.thumbnail_loader = self.thumbnail_loader, None
        if loader is not None:
            loader.cancel()
            if loader.isRunning():
                loader.finished.connect(loader.deleteLater)
            else:
                loader.deleteLater()

    def _start_cut_scan(self, path: str) -> None:
        scanner = SceneCutScanner(path, parent=self)  # parented: never freed running
        scanner.result.connect(self._on_cuts_found)
        scanner.failed.connect(self.status_message)
        self.cut_scanner = scanner
        scanner.start()

    def _on_cuts_found(self, path: str, cuts: list) -> None:
        if self.sender() is not self.cut_scanner or path != self.session.path:
            return
        self.session.set_cuts(cuts)
        if cuts:
            self.status_message.emit(f"{len(cuts)} scene cut(s) found: nothing is blended across them.")

    def _stop_cut_scan(self) -> None:
        scanner, self.cut_scanner = self.cut_scanner, None
        if scanner is not None:
            scanner.cancel()
            if scanner.isRunning():
                scanner.finished.connect(scanner.deleteLater)
            else:
                scanner.deleteLater()

    # ---------------------------------------------------------------- model
    def load_model(self, spec: ModelSpec, startup: bool = False) -> None:
        self.model.set_loading(spec)
        self.worker.load_model(spec, startup)

    def set_device(self, device: str | None) -> None:
        self.load_model(replace(self.model.spec, device=device))

    def set_precision(self, precision: str) -> None:
        self.load_model(replace(self.model.spec, precision=precision))

    def set_tiling(self, tiled: bool) -> None:
        """Synthesize in tiles (less GPU memory, a little slower) or whole frames."""
        self._change_processing(replace(self.model.spec, tile=LOW_MEMORY_TILE if tiled else None))

    def set_half_size(self, on: bool) -> None:
        """On a CPU, large frames (720p and up) through the learned network at half size (about 2x
        faster), or every frame through the whole network at full size."""
        self._change_processing(replace(self.model.spec, scale="auto" if on else "1"))

    def _change_processing(self, spec: ModelSpec) -> None:
        """Tiles and the processing scale change how the loaded weights run: no reload."""
        self.model.set_loading(spec)
        self.worker.change_processing(spec)

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.settings.device = info.spec.device  # remembered only once they worked
        self.settings.precision = info.spec.precision
        self.model.set_loaded(info)
        self.speed_probe = None  # a probe of the previous model no longer counts
        self.status_message.emit(f"Model {info.name} loaded on {info.device_name}.")

    def _on_model_failed(self, message: str, startup: bool) -> None:
        self.model.set_failed(message)
        if startup:
            self.status_message.emit(message)
        else:
            self.error.emit(message)

    # --------------------------------------------------------------- export
    def measure_speed(self) -> bool:
        """Measure one full-resolution synthesis of the open clip on the model thread, unless a
        speed is known or being measured; True when a measurement was queued."""
        session, model = self.session, self.model
        if model.ms_per_frame is not None or not model.ready or session.frame_count < 2:
            return False
        if self.speed_probe is not None:
            return False
        middle = max(1, session.frame_count // 2)
        probe = SpeedProbe(str(session.path), (middle - 1, middle), self)
        probe.result.connect(self._on_speed_measured)
        self.speed_probe = probe
        self.worker.submit(probe)
        return True

    def _on_speed_measured(self, ms: float) -> None:
        probe = self.sender()
        if probe is not self.speed_probe:
            return
        self.speed_probe = None
        probe.deleteLater()
        if self.model.ms_per_frame is None:
            self.model.set_ms_per_frame(ms)

    def new_export(self, export_settings: ExportSettings) -> ExportJob:
        """An export job for the model thread: connect to its signals, then ``job.start()``."""
        job = ExportJob(export_settings, self.worker.submit, self)
        job.reported.connect(self._on_export_reported)
        self.export_job = job
        self.settings.set_last_folder("export", os.fspath(export_settings.output_path))
        return job

    # ------------------------------------------------------- confidence track
    def _clear_confidence(self) -> None:
        self.confidence.clear()
        self.confidence_changed.emit()

    def _score_shown_frame(self, frame: DisplayFrame) -> None:
        """Add the score of a full-size synthesized frame the viewer shows to the track."""
        if frame.kind != "synthesized" or frame.confidence is None:
            return
        from tempo_core.frame_score import frame_score

        if self.confidence.add_scrubbed(frame.time, float(frame_score(frame.confidence))):
            self.confidence_changed.emit()

    def _on_export_reported(self, report: ExportReport) -> None:
        """An export of the open clip fills the track; one of another file (the queue) does not."""
        if self.session.has_clip and _same_file(report.source, self.session.path):
            self.show_report(report)

    def show_report(self, report: ExportReport) -> bool:
        """Show an export report's scores on the track, if it is a report of the open clip."""
        if not self.session.has_clip or not _same_file(report.source, self.session.path):
            self.error.emit(f"This export report is of {os.path.basename(report.source)}, not of the open clip.")
            return False
        count = self.confidence.load_report(report)
        self.confidence_changed.emit()
        doubtful = len([p for p in self.confidence.doubtful if p.origin == "export"])
        self.status_message.emit(f"Export report: {count} synthesized frames scored, {doubtful} doubtful.")
        return True

    def load_report_file(self, path: str) -> bool:
        """Read an export report (``OUTPUT.report.json``) and show it; one sentence on failure."""
        from tempo_core.video.report import load_report

        try:
            report = load_report(path)
        except Exception as error:
            self.error.emit(user_message(error, f"Reading {os.path.basename(path)}"))
            return False
        return self.show_report(report)

    def jump_to_doubtful(self, direction: int) -> bool:
        """Put the playhead on the next (``direction`` > 0) or previous doubtful frame of the
        track and open the confidence overlay there (its threshold raised to the score's own,
        :data:`tempo_core.frame_score.SCORE_THRESHOLD`, if lower); False (and a status line)
        when there is none."""
        playhead = self.session.playhead
        point = (
            self.confidence.next_doubtful(playhead) if direction > 0 else self.confidence.previous_doubtful(playhead)
        )
        if point is None:
            where = "after" if direction > 0 else "before"
            self.status_message.emit(f"No doubtful frame {where} {playhead:.3f} s on the confidence track.")
            return False
        from tempo_core.frame_score import SCORE_THRESHOLD

        self.playback.pause()
        self.session.set_playhead(point.time)
        # the overlay shows at least every pixel the score counted as untrusted
        self.view.set_overlay_threshold(max(self.view.overlay_threshold, SCORE_THRESHOLD))
        self.view.set_overlay_enabled(True)
        replaced = f", replaced by a {point.fallback} in the export" if point.fallback else ""
        self.status_message.emit(f"Doubtful frame at {point.time:.3f} s: score {point.score:.2f}{replaced}.")
        return True


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def open_viewer_reader(path: str) -> VideoReader:
    """The viewer's ``VideoReader`` of ``path`` (indexes and checks the file: may take seconds)."""
    from tempo_core.video.reader import VideoReader

    return VideoReader(path, cache_size=VIEWER_READER_FRAMES, max_cache_bytes=VIEWER_READER_BYTES)
