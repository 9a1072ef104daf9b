"""Decode the real frames the viewer shows on a thread of their own, never on the UI thread.

A random seek in a long-GOP or 4K file decodes many frames; done on the UI thread it froze the
window while the user scrubbed. :class:`FrameReader` owns the open clip's ``VideoReader`` from the
moment it is handed over and is the only thread that touches it (reads it, closes it).

* :meth:`FrameReader.set_reader` hands the clip's reader over (None closes the clip) and starts a
  new *generation*. Every result carries the generation of its request, and a result of an older
  generation is never emitted, so a clip change never shows a frame of the previous clip.
* :meth:`FrameReader.request` is *latest wins*: a new request replaces the one still waiting, so
  rapid scrubbing never builds a queue. A read already decoding cannot be interrupted; its
  result is emitted, and the receiver decides whether it still matters.
* Every exception becomes ``read_failed`` with one sentence from :func:`user_message`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from tempo_app.errors import user_message


@dataclass(frozen=True)
class FrameRequest:
    """Read real frame ``index`` of the clip handed over as ``generation``."""

    generation: int
    index: int


class FrameReader(QThread):
    """The thread that decodes real frames for the viewer; see the module docstring."""

    frame_read = Signal(int, int, object)  # generation, index, (H, W, 3) uint8 RGB
    read_failed = Signal(int, int, str)  # generation, index, one sentence

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._generation = 0
        self._handover: Any = None  # the reader this thread takes next, if any
        self._handover_pending = False
        self._retired: list[Any] = []  # readers to close (this thread never used them)
        self._pending: FrameRequest | None = None
        self._stopping = False
        self._reader: Any = None  # used by the run thread only
        self._reader_generation = -1

    # ------------------------------------------------------------ UI side
    @property
    def generation(self) -> int:
        """The generation of the reader handed over last (results of others are dropped)."""
        with self._cond:
            return self._generation

    def set_reader(self, reader: Any) -> int:
        """Hand ``reader`` over to this thread (None: close the clip); returns its generation.

        From now on only this thread uses ``reader``: it reads from it and closes it when the
        next one is handed over or the thread stops.
        """
        with self._cond:
            self._generation += 1
            if self._handover_pending and self._handover is not None:
                self._retired.append(self._handover)
            self._handover, self._handover_pending = reader, True
            self._pending = None
            self._stopping = False
            self._cond.notify_all()
            generation = self._generation
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
            self._stopping = True
            self._pending = None
            self._cond.notify_all()
        if self.isRunning() and not self.wait(timeout_ms):
            return False
        self._close_all()  # the thread has ended (or never ran): nobody else uses them now
        return True

    # ---------------------------------------------------------- thread side
    def run(self) -> None:
        while True:
            with self._cond:
                while not (self._stopping or self._pending or self._retired or self._handover_pending):
                    self._cond.wait()
                if self._stopping:
                    break
                retired, self._retired = self._retired, []
                handover = self._take_handover()
                request, self._pending = self._pending, None
            self._close(*retired)
            if handover is not None:
                self._close(self._reader)
                self._reader, self._reader_generation = handover
            if request is not None:
                self._read(request)
        self._close_all()

    def _take_handover(self) -> tuple[Any, int] | None:
        """The handed-over reader and its generation (called with the lock held)."""
        if not self._handover_pending:
            return None
        reader, self._handover, self._handover_pending = self._handover, None, False
        return reader, self._generation

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
                self.read_failed.emit(request.generation, request.index, message)
            return
        if self._is_current(request.generation):
            self.frame_read.emit(request.generation, request.index, image)

    def _close_all(self) -> None:
        with self._cond:
            retired, self._retired = self._retired, []
            handover = self._take_handover()
        self._close(*retired, self._reader, handover[0] if handover else None)
        self._reader, self._reader_generation = None, -1

    @staticmethod
    def _close(*readers: Any) -> None:
        for reader in readers:
            if reader is None:
                continue
            try:
                reader.close()
            except Exception:  # closing is best effort; the file is going away anyway
                pass
