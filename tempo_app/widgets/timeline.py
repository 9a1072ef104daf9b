"""The timeline scrubber: thumbnails, a tick per real frame, a continuous playhead, anchors.

Layout, top to bottom: the anchor lane (one tick per real frame; click a tick to pin or unpin
it as an anchor; pinned anchors are filled, automatic ones outlined), the thumbnail strip, the
confidence track (the score of every synthesized frame known, from an export report or from
scrubbing: :mod:`tempo_app.widgets.confidence_track`) and the time ruler; a scene cut is an
orange bar between its two frames. Clicking or dragging anywhere below the anchor lane moves the
playhead in continuous time (it snaps to a real frame within a few pixels). The export range
(in/out points) is shown as a shaded band. The wheel zooms around the cursor; shift+wheel pans.
"""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPolygonF, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from tempo_app.state.confidence_track import ConfidenceTrack
from tempo_app.state.session import SessionState
from tempo_app.widgets.confidence_track import TRACK_HEIGHT, paint_track

LANE_HEIGHT = 18
THUMB_HEIGHT = 40
TRACK_TOP = LANE_HEIGHT + THUMB_HEIGHT + 4  # the confidence track; its doubt marks in the gap
RULER_HEIGHT = 18
MARGIN = 10
SNAP_PIXELS = 3
PIN_PIXELS = 6


class TimelineWidget(QWidget):
    """Custom-painted scrubber observing a :class:`SessionState`."""

    pin_toggled = Signal(int)

    def __init__(self, session: SessionState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.session = session
        self.thumbnails: dict[int, QImage] = {}
        self.confidence_track: ConfidenceTrack | None = None
        self.view_start = 0.0
        self.view_end = 1.0
        self._dragging = False
        self.setMinimumHeight(TRACK_TOP + TRACK_HEIGHT + RULER_HEIGHT + 12)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        session.clip_changed.connect(self._on_clip_changed)
        session.playhead_changed.connect(self._on_playhead)
        session.anchors_changed.connect(self.update)
        session.range_changed.connect(self.update)
        session.cuts_changed.connect(self.update)

    def sizeHint(self) -> QSize:
        return QSize(800, TRACK_TOP + TRACK_HEIGHT + RULER_HEIGHT + 12)

    def set_confidence_track(self, track: ConfidenceTrack | None) -> None:
        """Paint ``track`` under the thumbnails (call :meth:`update` when it changes)."""
        self.confidence_track = track
        self.update()

    # ------------------------------------------------------------ thumbnails
    def clear_thumbnails(self) -> None:
        self.thumbnails.clear()
        self.update()

    def add_thumbnail(self, index: int, image: QImage) -> None:
        self.thumbnails[index] = image
        self.update()

    # --------------------------------------------------------------- mapping
    def _on_clip_changed(self) -> None:
        self.view_start, self.view_end = self.session.start_time, self.session.end_time
        if self.view_end <= self.view_start:
            self.view_end = self.view_start + 1.0
        self.thumbnails.clear()
        self.update()

    def _on_playhead(self, time: float) -> None:
        span = self.view_end - self.view_start
        if time < self.view_start or time > self.view_end:  # keep the playhead in view
            self.view_start = min(max(time - span / 2, self.session.start_time), time)
            self.view_end = self.view_start + span
        self.update()

    def time_to_x(self, time: float) -> float:
        width = max(1.0, self.width() - 2 * MARGIN)
        return MARGIN + (time - self.view_start) / (self.view_end - self.view_start) * width

    def x_to_time(self, x: float) -> float:
        width = max(1.0, self.width() - 2 * MARGIN)
        return self.view_start + (x - MARGIN) / width * (self.view_end - self.view_start)

    def frame_x(self, index: int) -> float:
        return self.time_to_x(float(self.session.frame_times[index]))

    def frame_near(self, x: float, pixels: float) -> int | None:
        """The real frame whose tick is within ``pixels`` of ``x``, if any."""
        if not self.session.has_clip:
            return None
        index = self.session.nearest_frame(self.x_to_time(x))
        return index if abs(self.frame_x(index) - x) <= pixels else None

    # --------------------------------------------------------------- paint
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1d2027"))
        if not self.session.has_clip:
            painter.setPen(QColor("#8a909c"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No clip")
            return
        self._paint_thumbnails(painter)
        self._paint_track(painter)
        self._paint_range(painter)
        self._paint_ticks(painter)
        self._paint_anchors(painter)
        self._paint_ruler(painter)
        self._paint_playhead(painter)

    def _paint_thumbnails(self, painter: QPainter) -> None:
        top = LANE_HEIGHT
        painter.fillRect(QRectF(MARGIN, top, self.width() - 2 * MARGIN, THUMB_HEIGHT), QColor("#101216"))
        indices = sorted(self.thumbnails)
        painter.save()
        painter.setClipRect(QRectF(MARGIN, top, self.width() - 2 * MARGIN, THUMB_HEIGHT))
        for position, index in enumerate(indices):
            image = self.thumbnails[index]
            left = self.frame_x(index)
            right = self.frame_x(indices[position + 1]) if position + 1 < len(indices) else None
            width = image.width() if right is None else max(1.0, right - left)
            source = QRectF(0, 0, min(image.width(), width), image.height())
            painter.drawImage(QRectF(left, top, source.width(), THUMB_HEIGHT), image, source)
        painter.restore()

    def _paint_track(self, painter: QPainter) -> None:
        lane = QRectF(MARGIN, TRACK_TOP, self.width() - 2 * MARGIN, TRACK_HEIGHT)
        if self.confidence_track is None:
            return
        painter.save()
        painter.setClipRect(QRectF(MARGIN, TRACK_TOP - 3, lane.width(), TRACK_HEIGHT + 3))
        paint_track(painter, lane, self.confidence_track, self.time_to_x, (self.view_start, self.view_end))
        painter.restore()

    def _paint_range(self, painter: QPainter) -> None:
        session = self.session
        if session.in_point is None and session.out_point is None:
            return
        start = session.in_point if session.in_point is not None else session.start_time
        end = session.out_point if session.out_point is not None else session.end_time
        band = QRectF(self.time_to_x(start), 0, self.time_to_x(end) - self.time_to_x(start), self.height())
        painter.fillRect(band, QColor(80, 160, 255, 40))
        painter.setPen(QColor("#50a0ff"))
        for x in (band.left(), band.right()):
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def _paint_ticks(self, painter: QPainter) -> None:
        times = self.session.frame_times
        spacing = self.time_to_x(times[-1]) - self.time_to_x(times[0])
        spacing = spacing / max(1, len(times) - 1)
        every = max(1, int(3 / max(spacing, 1e-6)))  # at least 3 px between drawn ticks
        painter.setPen(QColor("#6d7480"))
        ticks = []
        for index in range(0, len(times), every):
            x = self.frame_x(index)
            if MARGIN - 1 <= x <= self.width() - MARGIN + 1:
                ticks.append(QLineF(x, LANE_HEIGHT - 7, x, LANE_HEIGHT - 1))
        painter.drawLines(ticks)  # one call for hundreds of ticks
        self._paint_cuts(painter)

    def _paint_cuts(self, painter: QPainter) -> None:
        """A scene cut is a short bar between its two frames: nothing is blended across it."""
        session = self.session
        painter.setPen(QColor("#ff7a59"))
        for cut in session.cuts:
            x = 0.5 * (self.frame_x(cut - 1) + self.frame_x(cut))
            painter.drawLine(QPointF(x, 0), QPointF(x, LANE_HEIGHT + THUMB_HEIGHT))

    def _paint_anchors(self, painter: QPainter) -> None:
        for index in self.session.anchors:
            x = self.frame_x(index)
            pinned = index in self.session.pinned
            marker = QPolygonF([QPointF(x - 5, 2), QPointF(x + 5, 2), QPointF(x, LANE_HEIGHT - 3)])
            painter.setPen(QColor("#ffb347"))
            painter.setBrush(QColor("#ffb347") if pinned else Qt.BrushStyle.NoBrush)
            painter.drawPolygon(marker)
            painter.drawLine(QPointF(x, LANE_HEIGHT), QPointF(x, LANE_HEIGHT + THUMB_HEIGHT))

    def _paint_ruler(self, painter: QPainter) -> None:
        top = TRACK_TOP + TRACK_HEIGHT + 2
        painter.setPen(QColor("#8a909c"))
        span = self.view_end - self.view_start
        step = _nice_step(span / max(1, self.width() / 90))
        first = (self.view_start // step) * step
        time = first
        while time <= self.view_end + 1e-9:
            x = self.time_to_x(time)
            if x >= MARGIN - 1:
                painter.drawLine(QPointF(x, top), QPointF(x, top + 4))
                painter.drawText(QPointF(x + 2, top + 14), f"{time:.2f}s")
            time += step

    def _paint_playhead(self, painter: QPainter) -> None:
        x = self.time_to_x(self.session.playhead)
        colour = QColor("#ff5e5e")
        painter.setPen(colour)
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setBrush(colour)
        painter.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 6, 0), QPointF(x, 8)]))

    # --------------------------------------------------------------- mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self.session.has_clip:
            return
        x, y = event.position().x(), event.position().y()
        if y < LANE_HEIGHT:
            index = self.frame_near(x, PIN_PIXELS)
            if index is not None:
                self.session.toggle_pin(index)
                self.pin_toggled.emit(index)
            return
        self._dragging = True
        self.session.set_scrubbing(True)
        self._scrub_to(x)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._scrub_to(event.position().x())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._dragging = False
            self.session.set_scrubbing(False)

    def _scrub_to(self, x: float) -> None:
        index = self.frame_near(x, SNAP_PIXELS)
        time = float(self.session.frame_times[index]) if index is not None else self.x_to_time(x)
        self.session.set_playhead(time)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.session.has_clip:
            return
        steps = event.angleDelta().y() / 120.0
        span = self.view_end - self.view_start
        full = max(1e-6, self.session.end_time - self.session.start_time)
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            start = self.view_start - steps * span * 0.1
        else:
            anchor = self.x_to_time(event.position().x())
            new_span = min(max(span / (1.25**steps), self.session.frame_interval * 4), full)
            start = anchor - (anchor - self.view_start) * new_span / span
            span = new_span
        start = min(max(start, self.session.start_time), self.session.end_time - span)
        self.view_start, self.view_end = start, start + span
        self.update()


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    import math

    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power
