"""Play / pause: advance the playhead one real frame per frame interval."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from tempo_app.state.session import SessionState


class Playback(QObject):
    """Plays real frames at the clip's rate; stops at the end (or the out point)."""

    playing_changed = Signal(bool)

    def __init__(self, session: SessionState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        session.clip_changed.connect(self.pause)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self) -> None:
        session = self.session
        if not session.has_clip or self.playing:
            return
        end = session.out_point if session.out_point is not None else session.end_time
        if session.playhead >= end - 1e-9:
            start = session.in_point if session.in_point is not None else session.start_time
            session.set_playhead(start)
        self._timer.start(max(1, round(1000 * session.frame_interval)))
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def _tick(self) -> None:
        session = self.session
        end = session.out_point if session.out_point is not None else session.end_time
        if session.playhead >= end - 1e-9:
            self.pause()
            return
        session.step_frame(+1)
