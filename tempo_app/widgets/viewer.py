"""The frame viewer: aspect-correct, zoomable, with confidence overlay, legend and compare modes.

It observes a :class:`~tempo_app.view_state.ViewState` and shows
:class:`~tempo_app.display.DisplayFrame` objects; the only state it writes back is the split
position when the user drags the divider.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from tempo_app.colormap import apply_colormap, gradient
from tempo_app.display import DisplayFrame
from tempo_app.images import to_qimage
from tempo_app.view_state import ViewState

KIND_LABELS = {
    "real": "Real frame",
    "synthesized": "Synthesized",
    "preview": "Preview",
    "nearest": "Nearest real frame",
}


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

    def reset_zoom(self) -> None:
        self.zoom = 1.0
        self.pan = QPointF(0.0, 0.0)
        self.update()

    def overlay_image(self) -> QImage | None:
        """The colour-mapped confidence of the current frame (None without confidence)."""
        if self.frame is None or self.frame.confidence is None:
            return None
        key = (id(self.frame), self.view.colormap)
        if key != self._overlay_key:
            self._overlay = to_qimage(apply_colormap(self.frame.confidence, self.view.colormap))
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
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Open a clip: File > Open, or drop it here",
            )
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        rects = self.image_rects()
        self._draw_picture(painter, rects[0])
        if len(rects) == 2:
            painter.drawImage(rects[1], self._reference)
            self._draw_tag(painter, rects[1], f"Real frame {self.frame.frame_index}")
        elif self.view.compare_mode == "split" and self._reference is not None:
            self._draw_split(painter, rects[0])
        self._draw_tag(painter, rects[0], self._label())
        if self.busy:
            self._draw_tag(painter, rects[0], "Synthesizing...", bottom=True)
        if self.view.overlay_enabled and self.frame.confidence is not None:
            self._draw_legend(painter)

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
        self._draw_tag(painter, tag, f"Real frame {self.frame.frame_index}", right=True)

    def _label(self) -> str:
        frame = self.frame
        text = f"{KIND_LABELS.get(frame.kind, frame.kind)}  {frame.time:.4f} s"
        if frame.kind in ("synthesized", "preview") and frame.anchors:
            text += "  from frames " + ", ".join(str(a) for a in frame.anchors)
        if frame.kind == "real":
            text += f"  (frame {frame.frame_index})"
        if frame.note:
            text += f"  - {frame.note}"
        return text

    def _draw_tag(self, painter: QPainter, rect: QRectF, text: str, right: bool = False, bottom: bool = False) -> None:
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance(text) + 12
        height = metrics.height() + 6
        left = rect.right() - width - 6 if right else rect.left() + 6
        top = rect.bottom() - height - 6 if bottom else rect.top() + 6
        box = QRectF(left, top, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor("#f0f2f5"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _draw_legend(self, painter: QPainter) -> None:
        strip = to_qimage(gradient(self.view.colormap, 160))
        metrics = painter.fontMetrics()
        box = QRectF(self.width() - 196, self.height() - 58, 184, 46)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(box, 4, 4)
        bar = QRectF(box.left() + 12, box.top() + 8, 160, 10)
        painter.drawImage(bar, strip)
        painter.setPen(QColor("#f0f2f5"))
        text_top = bar.bottom() + 4
        painter.drawText(
            QRectF(bar.left(), text_top, 40, metrics.height()),
            "low",
        )
        painter.drawText(
            QRectF(bar.left(), text_top, bar.width(), metrics.height()),
            Qt.AlignmentFlag.AlignHCenter,
            "confidence",
        )
        painter.drawText(
            QRectF(bar.left(), text_top, bar.width(), metrics.height()),
            Qt.AlignmentFlag.AlignRight,
            "high",
        )

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
