"""The export queue: several exports (whole clips or ranges) run one after another.

:class:`ExportQueue` is the state, free of Qt: jobs in order, each with its settings, status and
progress; jobs that have not started can be reordered and removed. :class:`QueueRunner` runs
the queued jobs in order through the app's export jobs (:class:`tempo_app.workers.export_job.ExportJob`,
made by ``new_export``, run on the model thread), one at a time: a job that fails or is
cancelled is marked so and the next one starts. The view is
:class:`tempo_app.widgets.export_queue_panel.ExportQueuePanel`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from tempo_core.video.engine import ExportSettings

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
_IDS = itertools.count(1)


@dataclass
class QueuedExport:
    """One job of the queue. ``progress`` in [0, 1]; ``message`` is the outcome in words."""

    settings: ExportSettings
    label: str
    id: int = 0
    status: str = QUEUED
    progress: float = 0.0
    message: str = ""

    @property
    def waiting(self) -> bool:
        return self.status == QUEUED


def job_label(settings: ExportSettings) -> str:
    """``clip.mp4 1.5-3.0 s -> clip_tempo_x2.mp4`` (the range only when one is set)."""
    span = ""
    if settings.start is not None or settings.end is not None:
        start = "start" if settings.start is None else f"{settings.start:.1f}"
        end = "end" if settings.end is None else f"{settings.end:.1f} s"
        span = f" {start}-{end}"
    source, output = os.path.basename(str(settings.input_path)), os.path.basename(str(settings.output_path))
    return f"{source}{span} -> {output}"


class ExportQueue:
    """Jobs in the order they will run (Qt-free)."""

    def __init__(self) -> None:
        self.jobs: list[QueuedExport] = []

    def add(self, settings: ExportSettings, label: str | None = None) -> QueuedExport:
        job = QueuedExport(settings, label or job_label(settings), id=next(_IDS))
        self.jobs.append(job)
        return job

    def find(self, job_id: int) -> QueuedExport | None:
        return next((job for job in self.jobs if job.id == job_id), None)

    def remove(self, job_id: int) -> bool:
        """Remove a job that is not running; False when it is running or unknown."""
        job = self.find(job_id)
        if job is None or job.status == RUNNING:
            return False
        self.jobs.remove(job)
        return True

    def move(self, job_id: int, step: int) -> bool:
        """Move a waiting job ``step`` places (negative: earlier) among the waiting jobs."""
        job = self.find(job_id)
        if job is None or not job.waiting:
            return False
        waiting = [j for j in self.jobs if j.waiting]
        position = waiting.index(job)
        target = max(0, min(len(waiting) - 1, position + step))
        if target == position:
            return False
        waiting.insert(target, waiting.pop(position))
        order = iter(waiting)  # finished and running jobs keep their places
        self.jobs = [next(order) if j.waiting else j for j in self.jobs]
        return True

    def next_waiting(self) -> QueuedExport | None:
        return next((job for job in self.jobs if job.waiting), None)

    @property
    def running(self) -> QueuedExport | None:
        return next((job for job in self.jobs if job.status == RUNNING), None)

    @property
    def unfinished(self) -> int:
        """Jobs queued or running: what closing the app would lose."""
        return sum(1 for job in self.jobs if job.status in (QUEUED, RUNNING))

    def clear_finished(self) -> None:
        self.jobs = [job for job in self.jobs if job.status in (QUEUED, RUNNING)]


class QueueRunner(QObject):
    """Runs the waiting jobs of ``queue`` one after another with ``new_export(settings)``
    (an object with ``progress/done/failed/cancelled`` signals, ``start()`` and ``cancel()``).
    ``changed(job_id)`` follows every change of a job; ``idle()`` when nothing is left to run."""

    changed = Signal(int)
    idle = Signal()

    def __init__(self, queue: ExportQueue, new_export: Callable[[ExportSettings], Any], parent=None) -> None:
        super().__init__(parent)
        self.queue = queue
        self._new_export = new_export
        self._current: Any = None
        self.active = False

    def start(self) -> None:
        """Run the queue (no-op while it runs)."""
        self.active = True
        if self._current is None:
            self._next()

    def cancel_current(self) -> None:
        """Cancel the running job; the queue then goes on with the next one."""
        if self._current is not None:
            self._current.cancel()

    def stop(self) -> None:
        """Cancel the running job and start no other."""
        self.active = False
        self.cancel_current()

    def _next(self) -> None:
        job = self.queue.next_waiting() if self.active else None
        if job is None:
            self.active = False
            self.idle.emit()
            return
        job.status, job.progress = RUNNING, 0.0
        export = self._new_export(job.settings)
        self._current = export
        export.progress.connect(lambda progress, j=job: self._on_progress(j, progress))
        export.result.connect(lambda result, j=job: self._finish(j, DONE, _done_message(result)))
        export.failed.connect(lambda message, j=job: self._finish(j, FAILED, message))
        export.cancelled.connect(lambda message, j=job: self._finish(j, CANCELLED, message))
        self.changed.emit(job.id)
        export.start()  # after connecting: a quick failure must not be missed

    def _on_progress(self, job: QueuedExport, progress: Any) -> None:
        job.progress = progress.done / max(1, progress.total)
        self.changed.emit(job.id)

    def _finish(self, job: QueuedExport, status: str, message: str) -> None:
        job.status, job.message = status, message
        if status == DONE:
            job.progress = 1.0
        self._current = None
        self.changed.emit(job.id)
        self._next()


def _done_message(result: Any) -> str:
    text = f"{result.frames_written} frames ({result.synthesized} synthesized)"
    replaced = getattr(result, "duplicates_replaced", 0)
    return text + (f", {replaced} duplicate frames replaced" if replaced else "")
