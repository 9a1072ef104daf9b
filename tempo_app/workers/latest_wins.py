"""A worker thread fed two ways: jobs that run in order, and one request where the latest wins.

Both of the app's worker threads follow this pattern: :class:`~tempo_app.workers.model_worker.ModelWorker`
(jobs: load a model, run an export; requests: synthesize the playhead's frame) and
:class:`~tempo_app.workers.frame_reader.FrameReader` (jobs: take over a clip's reader; requests: decode a
real frame). A job is any callable without arguments; it runs on the thread, before any waiting
request. A request replaces the one still waiting, so rapid scrubbing never builds a queue; a
running one cannot be interrupted, but it may poll :meth:`LatestWinsThread.superseded`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QObject, QThread

RequestT = TypeVar("RequestT")
Job = Callable[[], None]


class LatestWinsThread(QThread, Generic[RequestT]):
    """Subclasses implement :meth:`handle` (one request, on the thread) and may override
    :meth:`finish` (on the thread, after the loop ends). ``_cond`` guards ``_jobs``,
    ``_pending`` and ``_stopping``; subclasses may guard state of their own with it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._jobs: deque[Job] = deque()
        self._pending: RequestT | None = None
        self._stopping = False

    # ------------------------------------------------------------ UI side
    def queue_job(self, job: Job) -> None:
        """Run ``job()`` on the thread after the jobs queued before it."""
        with self._cond:
            self._jobs.append(job)
            self._cond.notify_all()

    def replace_request(self, request: RequestT | None) -> RequestT | None:
        """Make ``request`` the waiting one (None: none); returns the one it replaced."""
        with self._cond:
            dropped, self._pending = self._pending, request
            self._cond.notify_all()
        return dropped

    def request_stop(self) -> None:
        """End the loop after the current job or request; the waiting request is dropped."""
        with self._cond:
            self._stopping = True
            self._pending = None
            self._cond.notify_all()

    def superseded(self) -> bool:
        """A newer request is waiting, or the thread is stopping (polled by long requests)."""
        with self._cond:
            return self._stopping or self._pending is not None

    # ---------------------------------------------------------- thread side
    def run(self) -> None:
        while True:
            with self._cond:
                while not (self._stopping or self._jobs or self._pending is not None):
                    self._cond.wait()
                if self._stopping:
                    break
                job = self._jobs.popleft() if self._jobs else None
                request, self._pending = (None, self._pending) if job is not None else (self._pending, None)
            if job is not None:
                job()
            else:
                self.handle(request)
        self.finish()

    def handle(self, request: RequestT) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Release what the thread holds; runs on the thread once the loop has ended."""
