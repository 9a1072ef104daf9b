"""The None refcount bug of PySide6 6.12.0 (issue 19), and playback that must not die of it.

PySide6 6.12.0 lowers ``sys.getrefcount(None)`` by one on every ``QPainter.drawLine`` /
``drawRect`` call; None starts near 5,000, the timeline draws hundreds of ticks per repaint, and
CPython aborts ("none_dealloc: deallocating None") within seconds of playback. pyproject.toml
pins ``pyside6-essentials<6.12`` for that reason. :func:`test_qpainter_keeps_the_refcount_of_none`
is the test that says when the pin can go: run it against a newer PySide6; when it passes, the
pin may be lifted. On Python 3.12+ None is immortal (its refcount never reaches 0), so these
tests pass there whatever the PySide6 (and the bug cannot kill the app).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QLineF, QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from tempo_app_helpers import write_clip

from tempo_app.display import DisplayFrame, Pending
from tempo_app.state.session import SessionState
from tempo_app.state.view_state import ViewState
from tempo_app.widgets.timeline import TimelineWidget
from tempo_app.widgets.viewer import ViewerWidget

# One painter call that leaks a reference of None per call would fall by the call count.
PROBE_CALLS = 200
# A handful of references may move for unrelated reasons (caches, interned objects).
SLACK = 20


def _none_refs() -> int:
    return sys.getrefcount(None)


def test_qpainter_keeps_the_refcount_of_none(qapp):
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    calls = {
        "drawLine": lambda: painter.drawLine(QPointF(0, 0), QPointF(9, 9)),
        "drawLines": lambda: painter.drawLines([QLineF(0, 0, 9, 9), QLineF(1, 0, 1, 9)]),
        "drawRect": lambda: painter.drawRect(QRectF(0, 0, 5, 5)),
        "fillRect": lambda: painter.fillRect(QRectF(0, 0, 5, 5), QColor("red")),
        "drawText": lambda: painter.drawText(QPointF(2, 12), "0.50s"),
    }
    try:
        for name, call in calls.items():
            call()  # first calls may create caches
            before = _none_refs()
            for _ in range(PROBE_CALLS):
                call()
            drop = before - _none_refs()
            assert drop < SLACK, f"QPainter.{name} lowered the refcount of None by {drop} in {PROBE_CALLS} calls"
    finally:
        painter.end()


def _session(frame_count: int = 289, fps: float = 30.0) -> SessionState:
    session = SessionState()
    session.set_clip("clip.mp4", None, np.arange(frame_count, dtype=np.float64) / fps)
    return session


def _frame(width: int = 96, height: int = 64) -> DisplayFrame:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    confidence = rng.random((height, width), dtype=np.float32)
    return DisplayFrame(image, 0.5, "synthesized", 15, (15, 16), confidence=confidence, reference=image)


def test_painting_thousands_of_times_keeps_none_alive(qtbot):
    session = _session()
    timeline = TimelineWidget(session)
    qtbot.addWidget(timeline)
    timeline.resize(900, 90)
    thumb = QImage(53, 40, QImage.Format.Format_RGB888)
    thumb.fill(QColor("#556070"))
    for index in range(0, 289, 6):
        timeline.add_thumbnail(index, thumb)
    view = ViewState()
    view.set_overlay_enabled(True)
    viewer = ViewerWidget(view)
    qtbot.addWidget(viewer)
    viewer.resize(320, 200)
    viewer.set_frame(_frame())
    viewer.set_pending(Pending("synthesis", 0.5167, 15.5, (15, 16), started=time.monotonic(), expected_s=1.7))
    canvas = QImage(900, 200, QImage.Format.Format_ARGB32_Premultiplied)
    before = _none_refs()
    for step in range(1000):  # 2,000 paints: the timeline (with thumbnails) and the viewer
        session.set_playhead(step * 0.0047)
        timeline.render(canvas)
        viewer.render(canvas)
        drop = before - _none_refs()
        # stop at the first sign: a real leak would abort the interpreter a few hundred paints on
        assert drop < SLACK, f"painting lowered the refcount of None by {drop} after {step + 1} paints"


@pytest.mark.slow
def test_thirty_seconds_of_playback_do_not_die(qtbot, window, tmp_path):
    """Play a 30 s clip at its own rate with thumbnails and the overlay on: the app survives."""
    clip = write_clip(tmp_path / "long.mp4", frames=750, fps=25)
    controller = window.controller
    with qtbot.waitSignal(controller.display.frame_ready, timeout=20000):
        assert controller.open_clip(str(clip))
    controller.view.set_overlay_enabled(True)
    session = controller.session
    before = _none_refs()
    window.transport.play_button.click()
    assert controller.playback.playing
    qtbot.waitUntil(lambda: not controller.playback.playing, timeout=45000)
    assert session.real_frame_at() == len(session.frame_times) - 1
    assert window.viewer.frame is not None and window.timeline.thumbnails
    assert before - _none_refs() < SLACK
