"""An export run on the model worker's thread, reporting through typed signals."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from tempo_app.errors import user_message
from tempo_app.model_worker import NO_MODEL


class ExportJob(QObject):
    """Runs :func:`tempo_core.video.engine.run_export` for ``settings``.

    Exactly one of ``done(ExportResult)``, ``failed(str)`` or ``cancelled(str)`` is emitted,
    after any number of ``progress(Progress)``. Connect to them *before* :meth:`start`, which
    hands the job to ``submit`` (the model worker's queue). :meth:`cancel` may be called from
    any thread; the engine checks it every frame and leaves no file behind.
    """

    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(
        self,
        settings: Any,
        submit: Callable[[Callable[[Any], None]], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        from tempo_core.video.engine import CancelToken

        self.settings = settings
        self._submit = submit
        self.token = CancelToken()
        self.started_at: float | None = None
        self.finished = False

    def start(self) -> None:
        self._submit(self)

    def cancel(self) -> None:
        self.token.cancel()

    def __call__(self, interpolator: Any) -> None:
        from tempo_core.errors import Cancelled
        from tempo_core.video.engine import run_export

        self.started_at = time.monotonic()
        try:
            if self.token.cancelled:
                raise Cancelled()
            if interpolator is None:
                self.failed.emit(NO_MODEL)
                return
            result = run_export(self.settings, interpolator, progress=self.progress.emit, cancel=self.token)
        except Cancelled as stop:
            self.cancelled.emit(str(stop))
        except Exception as error:
            self.failed.emit(user_message(error, "Exporting"))
        else:
            self.done.emit(result)
        finally:
            self.finished = True
