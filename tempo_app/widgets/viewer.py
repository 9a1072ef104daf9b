"""The frame viewer: aspect-correct, zoomable, with confidence overlay, legend and compare modes.

It observes a :class:`~tempo_app.state.view_state.ViewState` and shows
:class:`~tempo_app.display.DisplayFrame` objects; the only state it writes back is the split
position when the user drags the divider. While the picture for the playhead is computed
(:class:`~tempo_app.display.Pending`), the last picture stays on screen dimmed, under a turning
indicator that says what is computed (time, anchors) and the elapsed and expected seconds.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from tempo_app.colormap import doubt_overlay
from tempo_app.display import DisplayFrame, Pending
from tempo_app.images import rgba_to_qimage, to_qimage
from tempo_app.state.view_state import ViewState
from tempo_app.widgets.painting import draw_legend, draw_tag, draw_waiting

KIND_LABELS = {
    "real": "Real frame",
    "synthesized": "Synthesized",
    "preview": "Preview",
    "nearest": "Nearest real frame",
    "held": "Held real frame",
}
SPIN_MS = 80  # repaint period of the waiting indicator
# A real frame's decode and a drag's small preview usually take well under this: dimming the
# picture for them during playback or a drag would flicker, so they show only once this long.
SHOW_FRAME_WAIT_S = 0.25


def describe_pending(pending: Pending, now: float) -> list[str]:
    """What the viewer waits for, in two lines: what is computed, and how long it takes."""
    where = f"{pending.time:.4f} s (frame {pending.frame_position:.3f})"
    anchors = ", ".join(str(a) for a in pending.anchors)
    if pending.kind == "frame":
        what = f"Reading real frame {pending.frame_index} at {pending.time:.4f} s"
    elif pending.kind == "preview":
        what = f"Previewing {where} from frames {anchors}"
    else:
        what = f"Synthesizing {where} from frames {anchors}"
    elapsed = f"{max(0.0, now - pending.started):.1f} s elapsed"
    if pending.kind == "frame":
        return [what, elapsed]
    if pending.expected_s is None:
        return [what, f"{elapsed}, first frame: measuring the speed"]
    return [what, f"{elapsed} of about {pending.expected_s:.1f} s"]


class ViewerWidget(QWidget):
    """Paints the current frame; wheel zooms, drag pans, double-click fits."""

    def __init__(self, view: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer")
        self.view = view
        self.frame: DisplayFrame | None = None
        self.zoom = 1.0
        self.pan = QPointF(0.0, 0.0)
        self._image: QImage | None = None
        self._reference: QImage | None = None
        self._overlay: QImage | None = None
        self._overlay_key: tuple | None = None
        self._drag: str | None = None
        self.busy = False
        self.pending: Pending | None = None
        self._spinner = QTimer(self)
        self._spinner.setInterval(SPIN_MS)
        self._spinner.timeout.connect(self.update)
        self._drag_origin = QPointF()
        self._pan_origin = QPointF()
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        view.changed.connect(self.update)

    # -------------------------------------------------------------- inputs
    def set_frame(self, frame: DisplayFrame | None) -> None:
        self.frame = frame
        self._image = to_qimage(frame.image) if frame is not None else None
        reference = frame.reference if frame is not None else None
        self._reference = to_qimage(reference) if reference is not None else None
        self._overlay = None
        self._overlay_key = None
        self.update()

    def set_busy(self, busy: bool) -> None:
        """Show that a synthesis for the playhead is on its way."""
        self.busy = busy
        self.update()

    def set_pending(self, pending: Pending | None) -> None:
        """Show what the picture for the playhead waits for (None: it is on screen)."""
        self.pending = pending
        if pending is None:
            self._spinner.stop()
        elif not self._spinner.isActive():
            self._spinner.start()
        self.update()

    def pending_lines(self) -> list[str]:
        """The waiting indicator's text (empty when nothing is pending)."""
        return describe_pending(self.pending, time.monotonic()) if self.pending is not None else []

    def waiting_shown(self) -> bool:
        """The picture is dimmed under the waiting indicator: a full-resolution synthesis is on
        its way, or a decode or a preview has taken longer than :data:`SHOW_FRAME_WAIT_S`."""
        pending = self.pending
        if pending is None:
            return False
        return pending.kind == "synthesis" or time.monotonic() - pending.started >= SHOW_FRAME_WAIT_S

    def reset_zoom(self) -> None:
        self.zoom = 1.0
        self.pan = QPointF(0.0, 0.0)
        self.update()

    def overlay_image(self) -> QImage | None:
        """The doubtful pixels of the current frame, coloured (None without confidence)."""
        if self.frame is None or self.frame.confidence is None:
            return None
        view = self.view
        key = (id(self.frame), view.colormap, view.overlay_threshold)
        if key != self._overlay_key:
            rgba = doubt_overlay(self.frame.confidence, view.overlay_threshold, view.colormap)
            self._overlay = rgba_to_qimage(rgba)
            self._overlay_key = key
        return self._overlay

    # ------------------------------------------------------------ geometry
    def _content_size(self) -> tuple[int, int]:
        source = self._reference if self._reference is not None else self._image
        return (source.width(), source.height()) if source is not None else (16, 9)

    def _fit(self, area: QRectF) -> QRectF:
        width, height = self._content_size()
        scale = min(area.width() / width, area.height() / height) * self.zoom
        size_w, size_h = width * scale, height * scale
        centre = area.center() + self.pan
        return QRectF(centre.x() - size_w / 2, centre.y() - size_h / 2, size_w, size_h)

    def image_rects(self) -> list[QRectF]:
        """Where the picture(s) go: one rect, or two for side by side."""
        area = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        if self.view.compare_mode == "side" and self._reference is not None:
            half = (area.width() - 8) / 2
            left = QRectF(area.left(), area.top(), half, area.height())
            right = QRectF(area.left() + half + 8, area.top(), half, area.height())
            return [self._fit(left), self._fit(right)]
        return [self._fit(area)]

    # ------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#15171c"))
        if self._image is None:
            painter.setPen(QColor("#8a909c"))
            text = "Open a clip: File > Open, or drop it here"
            if self.pending is not None:
                text = "\n".join(self.pending_lines())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rects = self.image_rects()
        self._draw_picture(painter, rects[0])
        if len(rects) == 2:
            painter.drawImage(rects[1], self._reference)
            draw_tag(painter, rects[1], f"Real frame {self.frame.frame_index}")
        elif self.view.compare_mode == "split" and self._reference is not None:
            self._draw_split(painter, rects[0])
        if self.view.overlay_enabled and self.frame.confidence is not None:
            draw_legend(painter, rects[0], self.view.overlay_threshold, self.view.colormap)
        if self.waiting_shown():
            phase = (time.monotonic() * 1000.0 / 900.0) % 1.0
            draw_waiting(painter, rects[0], phase, self.pending_lines())
            draw_tag(painter, rects[0], f"Previous picture: {self._label()}")
        else:
            draw_tag(painter, rects[0], self._label())

    def _draw_picture(self, painter: QPainter, rect: QRectF) -> None:
        painter.drawImage(rect, self._image)
        overlay = self.overlay_image() if self.view.overlay_enabled else None
        if overlay is not None:
            painter.setOpacity(self.view.overlay_opacity)
            painter.drawImage(rect, overlay)
            painter.setOpacity(1.0)

    def _split_x(self, rect: QRectF) -> float:
        return rect.left() + self.view.split_position * rect.width()

    def _draw_split(self, painter: QPainter, rect: QRectF) -> None:
        x = self._split_x(rect)
        source = QRectF(self._reference.rect())
        fraction = self.view.split_position
        source.setLeft(source.width() * fraction)
        target = QRectF(rect)
        target.setLeft(x)
        painter.drawImage(target, self._reference, source)
        painter.setPen(QColor("#ffd34d"))
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        painter.setBrush(QColor("#ffd34d"))
        painter.drawEllipse(QPointF(x, rect.center().y()), 5, 5)
        tag = QRectF(target)
        draw_tag(painter, tag, f"Real frame {self.frame.frame_index}", right=True)

    def _label(self) -> str:
        frame = self.frame
        text = f"{KIND_LABELS.get(frame.kind, frame.kind)}  {frame.time:.4f} s"
        if frame.kind in ("synthesized", "preview") and frame.anchors:
            text += "  from frames " + ", ".join(str(a) for a in frame.anchors)
        if frame.kind in ("real", "held", "nearest"):
            text += f"  (frame {frame.frame_index})"
        if frame.note:
            text += f"  - {frame.note}"
        return text

    # --------------------------------------------------------------- mouse
    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if not steps or self._image is None:
            return
        old_zoom = self.zoom
        self.zoom = min(max(self.zoom * (1.25**steps), 0.25), 32.0)
        # keep the point under the cursor still
        centre = QPointF(self.rect().center()) + self.pan
        offset = event.position() - centre
        self.pan -= offset * (self.zoom / old_zoom - 1.0)
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.reset_zoom()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._image is None:
            return
        rect = self.image_rects()[0]
        near_divider = abs(event.position().x() - self._split_x(rect)) <= 8
        if self.view.compare_mode == "split" and near_divider:
            self._drag = "split"
        else:
            self._drag = "pan"
            self._drag_origin = event.position()
            self._pan_origin = QPointF(self.pan)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag == "split":
            rect = self.image_rects()[0]
            if rect.width() > 0:
                self.view.set_split_position((event.position().x() - rect.left()) / rect.width())
        elif self._drag == "pan":
            self.pan = self._pan_origin + (event.position() - self._drag_origin)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
