"""Find a clip's scene cuts in the background, the way the export finds them.

:class:`SceneCutScanner` reads the clip's small frames with a private ``VideoReader`` and runs
:func:`tempo_core.video.scenecut.cuts_of` with the export's default threshold, so the viewer
holds the frames the export holds and never blends across a cut.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from tempo_app.errors import user_message
from tempo_app.workers.foreground import FOREGROUND


class _Interrupted(Exception):
    """The scan was cancelled (another clip opened, or the app is closing)."""


class SceneCutScanner(QThread):
    """Emits ``cuts_found(path, list[int])`` once, or ``error(str)``; :meth:`cancel` stops it."""

    result = Signal(str, list)  # path, the frames that start a new scene
    failed = Signal(str)

    def __init__(self, path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path

    def run(self) -> None:
        from tempo_core.video.reader import VideoReader
        from tempo_core.video.scenecut import cuts_of

        try:
            with VideoReader(self.path, cache_size=2) as reader:
                cuts = cuts_of(self._small_frames(reader))
        except _Interrupted:
            return
        except Exception as error:  # the viewer then blends as if there were no cut: say so
            self.failed.emit(user_message(error, "Finding scene cuts"))
            return
        if not self.isInterruptionRequested():
            self.result.emit(self.path, cuts)

    def _small_frames(self, reader) -> Iterator[np.ndarray]:
        for _, small in reader.iter_small():
            FOREGROUND.wait_idle(self.isInterruptionRequested)
            if self.isInterruptionRequested():
                raise _Interrupted
            yield small

    def cancel(self) -> None:
        """Ask the thread to stop at its next check; returns at once (never waits on the UI thread)."""
        self.requestInterruption()
