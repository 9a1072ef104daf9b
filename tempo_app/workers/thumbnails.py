"""Decode timeline thumbnails in the background with a private VideoReader."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from tempo_app.errors import user_message
from tempo_app.images import resize_rgb, to_qimage
from tempo_app.workers.foreground import FOREGROUND


def thumbnail_indices(frame_count: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over the clip (all frames when fewer)."""
    if frame_count <= 0 or count <= 0:
        return []
    if frame_count <= count:
        return list(range(frame_count))
    return sorted({int(round(i)) for i in np.linspace(0, frame_count - 1, count)})


class ThumbnailLoader(QThread):
    """Emits ``thumbnail(index, QImage)`` for evenly spread frames; stops when interrupted.

    QImage (unlike QPixmap) may be built off the UI thread.
    """

    result = Signal(int, object)  # frame index, QImage
    failed = Signal(str)

    def __init__(
        self,
        path: str,
        frame_count: int,
        count: int = 48,
        height: int = 40,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.path = path
        self.indices = thumbnail_indices(frame_count, count)
        self.height_px = height

    def run(self) -> None:
        from tempo_core.video.reader import VideoReader

        try:
            with VideoReader(self.path, cache_size=2) as reader:
                for index in self.indices:
                    FOREGROUND.wait_idle(self.isInterruptionRequested)
                    if self.isInterruptionRequested():
                        return
                    frame = reader.read_frame(index)
                    height, width = frame.shape[:2]
                    thumb_width = max(1, round(width * self.height_px / max(1, height)))
                    small = resize_rgb(frame, thumb_width, self.height_px)
                    self.result.emit(index, to_qimage(small))
        except Exception as error:  # thumbnails are a nicety: report, never crash
            self.failed.emit(user_message(error, "Decoding thumbnails"))

    def cancel(self) -> None:
        """Ask the thread to stop at its next check; returns at once (never waits on the UI thread)."""
        self.requestInterruption()
