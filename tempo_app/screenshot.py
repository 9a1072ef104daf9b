"""``tempo-app CLIP --at SECONDS --screenshot OUT.png``: open, synthesize, grab the window, exit.

Used for the README screenshot and as an end-to-end smoke test. Every failure ends the run with
one sentence and a non-zero exit code instead of a dialog. The request is checked before anything
loads (:func:`request_problem`): the output must be an image name (``.png``, ``.jpg``, ``.bmp``),
not the clip, not a folder; the window at most 7680 x 4320. The picture is saved to a hidden
temporary file beside the output and renamed over it, so an existing file is replaced whole or
not at all, never emptied.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QTimer

from tempo_app.controller import AppController
from tempo_app.display import DisplayFrame
from tempo_app.main_window import MainWindow

EXIT_OK, EXIT_FAILED, EXIT_TIMEOUT = 0, 1, 3
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MAX_WINDOW = (7680, 4320)


def request_problem(output: str, clip: str | None, size: str) -> str | None:
    """Why ``--screenshot output`` (of ``clip``, window ``size`` like "1280x800") cannot be
    done, as one sentence; None when it can."""
    path = Path(output)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"--screenshot needs an image name ending in {', '.join(IMAGE_SUFFIXES)}, not {path.name or output!r}."
    if clip is not None and path.exists() and Path(clip).exists() and os.path.samefile(path, clip):
        return "--screenshot would overwrite the clip; choose another name."
    if path.is_dir():
        return f"{output} is a folder; --screenshot needs an image file name."
    if not path.absolute().parent.is_dir():
        return f"The folder {path.absolute().parent} does not exist."
    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        return None  # the size parser says how it should look
    if width > MAX_WINDOW[0] or height > MAX_WINDOW[1]:
        return f"--size may be at most {MAX_WINDOW[0]}x{MAX_WINDOW[1]}, not {size}."
    return None


def save_atomically(pixmap, output: str) -> bool:
    """Save ``pixmap`` (a QPixmap) to a temporary file beside ``output``, then rename it over
    ``output``; False (and nothing changed) when it cannot be written."""
    from tempo_core.output_paths import temporary_name

    path = Path(output)
    temp = temporary_name(path)
    try:
        if not pixmap.save(str(temp), path.suffix.lstrip(".").upper()):
            return False
        os.replace(temp, path)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)


@dataclass
class ScreenshotJob:
    clip: str
    at: float | None
    output: str
    anchors: int = 2
    overlay: bool = False
    compare: str = "off"
    report: str | None = None  # an export report to show on the confidence track
    next_doubtful: bool = False  # then go to its first doubtful frame after ``at`` (the D key)
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
        problem = request_problem(job.output, job.clip, f"{job.width}x{job.height}")
        if problem:
            print(f"tempo-app: {problem}", file=sys.stderr)
            return EXIT_FAILED
        self.window.resize(job.width, job.height)
        self.window.show()
        controller.model.changed.connect(self._on_model)
        controller.display.frame_ready.connect(self._on_frame)
        controller.display.status.connect(self._on_synthesis_refused)
        QTimer.singleShot(round(job.timeout_s * 1000), self._on_timeout)
        controller.start(checkpoint=job.checkpoint)
        if self._stage != "done":
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
        QTimer.singleShot(0, self._open_clip)  # after the controller's own "model loaded" line

    def _open_clip(self) -> None:
        job, controller = self.job, self.controller
        if not controller.open_clip(job.clip):
            return  # the error handler already ended the run
        if job.report and not controller.load_report_file(job.report):
            return  # likewise
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
        if job.next_doubtful and not controller.jump_to_doubtful(+1):
            self._fail(f"The confidence track has no doubtful frame after {at:g} s.")
            return
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
        if pixmap.isNull() or not save_atomically(pixmap, self.job.output):
            self._fail(f"The screenshot could not be written to {self.job.output}.")
            return
        self._finish(EXIT_OK)
