"""Work for the model thread that the export dialog starts: the export, and a speed probe.

Both are callables that :meth:`tempo_app.workers.model_worker.ModelWorker.submit` runs on the model
thread with the loaded interpolator (or None), reporting through typed Qt signals.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from tempo_app.errors import user_message
from tempo_app.workers.model_worker import NO_MODEL

if TYPE_CHECKING:  # keeps start-up light: tempo_core loads torch and PyAV
    from tempo_core.inference import Interpolator
    from tempo_core.video.engine import ExportSettings

Submit = Callable[[Callable[[Any], None]], None]


def _on_cpu(interpolator: Any) -> bool:
    return getattr(getattr(interpolator, "device", None), "type", "cpu") == "cpu"


class ExportJob(QObject):
    """Runs :func:`tempo_core.video.engine.run_export` (with its report) for ``settings``: the export and
    its report (JSON sidecar and score plot beside the output; none is left when the export is
    cancelled or fails), with the safety net below ``min_confidence`` when set.

    Exactly one of ``done(ExportResult)``, ``failed(str)`` or ``cancelled(str)`` is emitted,
    after any number of ``progress(Progress)``; ``reported(ExportReport)`` comes just before
    ``done``. Connect to them *before* :meth:`start`, which
    hands the job to ``submit`` (the model worker's queue). :meth:`cancel` may be called from
    any thread; the model is checked before every encode and target time and, where the
    interpolator supports it, between the stages of a synthesis, and no file is left behind.
    On a CPU every synthesized frame is its own job (batches gain nothing there and would delay
    progress and cancellation).
    """

    progress = Signal(object)
    result = Signal(object)
    reported = Signal(object)  # ExportReport, just before result
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(
        self,
        settings: ExportSettings,
        submit: Submit,
        parent: QObject | None = None,
        min_confidence: float | None = None,
    ) -> None:
        super().__init__(parent)
        from tempo_core.video.engine import CancelToken

        self.settings = settings
        self.min_confidence = min_confidence
        self._submit = submit
        self.token = CancelToken()
        self.started_at: float | None = None
        self.cancel_requested_at: float | None = None
        self.finished_at: float | None = None
        self.finished = False

    def start(self) -> None:
        self._submit(self)

    def cancel(self) -> None:
        if self.cancel_requested_at is None:
            self.cancel_requested_at = time.monotonic()
        self.token.cancel()

    def __call__(self, interpolator: Interpolator | None) -> None:
        from tempo_core.errors import Cancelled
        from tempo_core.video.engine import run_export

        self.started_at = time.monotonic()
        try:
            if self.token.cancelled:
                raise Cancelled()
            if interpolator is None:
                self.failed.emit(NO_MODEL)
                return
            settings = self.settings
            if _on_cpu(interpolator):
                settings = dataclasses.replace(settings, batch_size=1)
            exported = run_export(
                settings, interpolator, self.progress.emit, self.token, report=True, min_confidence=self.min_confidence
            )
        except Cancelled as stop:
            self._finish()
            self.cancelled.emit(str(stop))
        except Exception as error:
            self._finish()
            self.failed.emit(user_message(error, "Exporting"))
        else:
            self._finish()
            self.reported.emit(exported.report)
            self.result.emit(exported)

    def _finish(self) -> None:
        self.finished_at = time.monotonic()
        self.finished = True


class SpeedProbe(QObject):
    """Measures one full-resolution synthesis of the open clip on the model thread.

    Emits ``measured(ms)``: reading and encoding two anchors and synthesizing the time between
    them, as a viewer synthesis or an export frame does. Nothing is emitted on failure (the
    estimate then stays unknown; the export itself reports real problems).
    """

    result = Signal(float)  # milliseconds per synthesized frame

    def __init__(self, clip_path: str, pair: tuple[int, int], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clip_path = clip_path
        self.pair = pair

    def __call__(self, interpolator: Interpolator | None) -> None:
        if interpolator is None:
            return
        from tempo_core.video.reader import VideoReader

        try:
            with VideoReader(self.clip_path, cache_size=2) as reader:
                frames = [reader.read_frame(index) for index in self.pair]
                times = [float(reader.frame_times[index]) for index in self.pair]
            started = time.perf_counter()
            encoded = interpolator.encode(frames, times)
            interpolator.synthesize(encoded, [0.5 * (times[0] + times[1])])
        except Exception:  # an estimate is a nicety; the export reports real problems
            return
        self.result.emit((time.perf_counter() - started) * 1000.0)
