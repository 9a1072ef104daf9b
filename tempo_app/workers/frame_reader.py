"""Decode the real frames the viewer shows on a thread of their own, never on the UI thread.

A random seek in a long-GOP or 4K file decodes many frames; done on the UI thread it froze the
window while the user scrubbed. :class:`FrameReader` owns the open clip's ``VideoReader`` from the
moment it is handed over and is the only thread that touches it (reads it, closes it).

* :meth:`FrameReader.set_reader` hands the clip's reader over (None closes the clip) and starts a
  new *generation*. Every result carries the generation of its request, and a result of an older
  generation is never emitted, so a clip change never shows a frame of the previous clip.
* :meth:`FrameReader.request` is *latest wins* (a :class:`~tempo_app.workers.latest_wins.LatestWinsThread`):
  a new request replaces the one still waiting, so rapid scrubbing never builds a queue. A read
  already decoding cannot be interrupted; its result is emitted, and the receiver decides whether
  it still matters. A handed-over reader is taken by a job, before any waiting read.
* Every exception becomes ``read_failed`` with one sentence from :func:`user_message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from tempo_app.errors import user_message
from tempo_app.workers.latest_wins import LatestWinsThread

if TYPE_CHECKING:  # keeps start-up light: the reader loads PyAV
    from tempo_core.video.reader import VideoReader


@dataclass(frozen=True)
class FrameRequest:
    """Read real frame ``index`` of the clip handed over as ``generation``."""

    generation: int
    index: int


class FrameReader(LatestWinsThread[FrameRequest]):
    """The thread that decodes real frames for the viewer; see the module docstring."""

    result = Signal(int, int, object)  # generation, index, (H, W, 3) uint8 RGB
    failed = Signal(int, int, str)  # generation, index, one sentence

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._handed: list[VideoReader] = []  # handed over, not yet taken by the thread
        self._reader: VideoReader | None = None  # used by the run thread only
        self._reader_generation = -1

    # ------------------------------------------------------------ UI side
    @property
    def generation(self) -> int:
        """The generation of the reader handed over last (results of others are dropped)."""
        with self._cond:
            return self._generation

    def set_reader(self, reader: VideoReader | None) -> int:
        """Hand ``reader`` over to this thread (None: close the clip); returns its generation.

        From now on only this thread uses ``reader``: it reads from it and closes it when the
        next one is handed over or the thread stops.
        """
        with self._cond:
            self._generation += 1
            generation = self._generation
            if reader is not None:
                self._handed.append(reader)
            self._pending = None
            self._stopping = False
        self.queue_job(partial(self._take, reader, generation))
        if reader is not None and not self.isRunning():
            self.start()
        return generation

    def request(self, index: int) -> FrameRequest:
        """Read frame ``index`` of the current clip, replacing the read still waiting."""
        with self._cond:
            request = FrameRequest(self._generation, int(index))
            self._pending = request
            self._cond.notify_all()
        return request

    def stop(self, timeout_ms: int = 10000) -> bool:
        """Close the clip and end the thread after the current read; True when it ended."""
        with self._cond:
            self._generation += 1
        self.request_stop()
        if self.isRunning() and not self.wait(timeout_ms):
            return False
        self.finish()  # the thread has ended (or never ran): nobody else uses them now
        return True

    # ---------------------------------------------------------- thread side
    def _take(self, reader: VideoReader | None, generation: int) -> None:
        """Job: close the current reader and make ``reader`` the one read from."""
        with self._cond:
            if reader is not None and reader in self._handed:
                self._handed.remove(reader)
        self._close(self._reader)
        self._reader, self._reader_generation = reader, generation

    def handle(self, request: FrameRequest) -> None:
        self._read(request)

    def _is_current(self, generation: int) -> bool:
        with self._cond:
            return generation == self._generation and not self._stopping

    def _read(self, request: FrameRequest) -> None:
        if self._reader is None or request.generation != self._reader_generation:
            return  # asked for before a clip change that this thread has already seen
        try:
            image = np.ascontiguousarray(self._reader.read_frame(request.index), dtype=np.uint8)
        except Exception as error:  # every failure becomes a sentence
            message = user_message(error, "Reading the frame")
            if self._is_current(request.generation):
                self.failed.emit(request.generation, request.index, message)
            return
        if self._is_current(request.generation):
            self.result.emit(request.generation, request.index, image)

    def finish(self) -> None:
        """Close every reader: the current one and those handed over but never taken."""
        with self._cond:
            handed, self._handed = self._handed, []
            self._jobs.clear()  # takes of readers closed here
        self._close(*handed, self._reader)
        self._reader, self._reader_generation = None, -1

    @staticmethod
    def _close(*readers: VideoReader | None) -> None:
        for reader in readers:
            if reader is None:
                continue
            try:
                reader.close()
            except Exception:  # closing is best effort; the file is going away anyway
                pass
