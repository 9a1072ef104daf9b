"""The user's picture first: background scans yield the CPU while a frame is being synthesized.

On a small CPU the thumbnails and the scene-cut scan, both decoding the whole clip when it opens,
would otherwise share the cores with the first in-between frame the user asked for and make it
several times slower. :data:`FOREGROUND` is one process-wide gate: the model worker holds it
(:meth:`ForegroundGate.busy`) while it encodes and synthesizes; the background loops call
:meth:`ForegroundGate.wait_idle` between two frames of their own work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class ForegroundGate:
    """Counts the foreground jobs running now; background work waits while there is one."""

    def __init__(self) -> None:
        self._running = 0
        self._changed = threading.Condition()

    @property
    def is_busy(self) -> bool:
        with self._changed:
            return self._running > 0

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Hold the gate for the duration of a ``with`` block (nesting and threads allowed)."""
        with self._changed:
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    def wait_idle(self, interrupted: Callable[[], bool], max_wait_s: float = 60.0) -> None:
        """Return once no foreground job runs, ``interrupted()`` turns true, or after ``max_wait_s``
        (so a stuck job never starves the background for good)."""
        deadline = time.monotonic() + max_wait_s
        with self._changed:
            # woken when the gate is released; polled for ``interrupted``, which nobody notifies
            while self._running and not interrupted() and time.monotonic() < deadline:
                self._changed.wait(timeout=0.05)


FOREGROUND = ForegroundGate()
