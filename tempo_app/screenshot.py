"""``tempo-app CLIP --at SECONDS --screenshot OUT.png``: open, synthesize, grab the window, exit.

Used for the README screenshot and as an end-to-end smoke test. Every failure ends the run with
one sentence and a non-zero exit code instead of a dialog.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PySide6.QtCore import QEventLoop, QObject, QTimer

from tempo_app.controller import AppController
from tempo_app.display import DisplayFrame
from tempo_app.main_window import MainWindow

EXIT_OK, EXIT_FAILED, EXIT_TIMEOUT = 0, 1, 3


@dataclass
class ScreenshotJob:
    clip: str
    at: float | None
    output: str
    anchors: int = 2
    overlay: bool = False
    compare: str = "off"
    checkpoint: str | None = None
    width: int = 1280
    height: int = 800
    timeout_s: float = 300.0


class ScreenshotRunner(QObject):
    """Drives the window through the steps: model -> clip -> frame -> thumbnails -> grab."""

    def __init__(self, controller: AppController, window: MainWindow, job: ScreenshotJob) -> None:
        super().__init__(window)
        self.controller = controller
        self.window = window
        self.job = job
        self.message = ""
        self._loop = QEventLoop(self)
        self._code = EXIT_FAILED
        self._stage = "model"
        window.error_handler = self._fail

    def run(self) -> int:
        job, controller = self.job, self.controller
        self.window.resize(job.width, job.height)
        self.window.show()
        controller.model.changed.connect(self._on_model)
        controller.display.frame_ready.connect(self._on_frame)
        controller.display.status.connect(self._on_synthesis_refused)
        QTimer.singleShot(round(job.timeout_s * 1000), self._on_timeout)
        controller.start(checkpoint=job.checkpoint)
        if self._stage == "model":
            self._loop.exec()
        if self.message:
            print(f"tempo-app: {self.message}", file=sys.stderr)
        return self._code

    def _finish(self, code: int, message: str = "") -> None:
        if self._stage == "done":
            return
        self._stage = "done"
        self._code = code
        self.message = message
        self._loop.exit(code)

    def _fail(self, message: str) -> None:
        self._finish(EXIT_FAILED, message)

    def _on_timeout(self) -> None:
        self._finish(EXIT_TIMEOUT, f"Gave up after {self.job.timeout_s:g} seconds ({self._stage}).")

    def _on_model(self) -> None:
        model = self.controller.model
        if self._stage != "model" or model.loading:
            return
        if model.info is None:
            self._fail(model.problem or "No model could be loaded.")
            return
        self._stage = "clip"
        self._open_clip()

    def _open_clip(self) -> None:
        job, controller = self.job, self.controller
        if not controller.open_clip(job.clip):
            return  # the error handler already ended the run
        session = controller.session
        at = session.start_time if job.at is None else job.at
        if not session.start_time - 1e-9 <= at <= session.end_time + 1e-9:
            self._fail(
                f"--at {at:g} is outside the clip, whose frames run from "
                f"{session.start_time:.3f} to {session.end_time:.3f} seconds."
            )
            return
        controller.view.set_overlay_enabled(job.overlay)
        controller.view.set_compare_mode(job.compare)
        session.set_anchor_count(job.anchors)
        self._stage = "frame"
        session.set_playhead(at)
        controller.display.update()

    def _on_synthesis_refused(self, message: str) -> None:
        if self._stage == "frame":
            self._fail(message)

    def _on_frame(self, frame: DisplayFrame) -> None:
        if self._stage != "frame" or frame.kind not in ("real", "synthesized"):
            return
        if abs(frame.time - self.controller.session.playhead) > 1e-3:
            return
        if self.job.compare != "off" and frame.reference is None:
            return  # the real frame to compare with follows from the frame thread
        self._stage = "thumbnails"
        self._wait_for_thumbnails()

    def _wait_for_thumbnails(self, waited_ms: int = 0) -> None:
        loader = self.controller.thumbnail_loader
        if loader is not None and loader.isRunning() and waited_ms < 20000:
            QTimer.singleShot(50, lambda: self._wait_for_thumbnails(waited_ms + 50))
            return
        QTimer.singleShot(50, self._grab)  # let the last thumbnails paint

    def _grab(self) -> None:
        if self._stage == "done":
            return
        pixmap = self.window.grab()
        if pixmap.isNull() or not pixmap.save(self.job.output):
            self._fail(f"The screenshot could not be written to {self.job.output}.")
            return
        self._finish(EXIT_OK)
