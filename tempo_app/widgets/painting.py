"""Drawing helpers of the viewer: text tags, the overlay legend and the waiting indicator.

Each function paints into a given rectangle with a ``QPainter`` and keeps the painter's state
as it found it (pen, brush, opacity), so the viewer composes them freely.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from tempo_app.colormap import doubt_gradient
from tempo_app.images import rgba_to_qimage

TAG_BACKGROUND = QColor(0, 0, 0, 160)
TEXT = QColor("#f0f2f5")
ACCENT = QColor("#ffb347")
DIM = QColor(10, 12, 16, 150)  # over the last picture while the next one is computed


def draw_tag(painter: QPainter, rect: QRectF, text: str, right: bool = False, bottom: bool = False) -> QRectF:
    """A rounded label in a corner of ``rect`` (top-left by default); returns its box."""
    metrics = painter.fontMetrics()
    width = min(metrics.horizontalAdvance(text) + 12, max(40.0, rect.width() - 12))
    height = metrics.height() + 6
    left = rect.right() - width - 6 if right else rect.left() + 6
    top = rect.bottom() - height - 6 if bottom else rect.top() + 6
    box = QRectF(left, top, width, height)
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(TAG_BACKGROUND)
    painter.drawRoundedRect(box, 4, 4)
    painter.setPen(TEXT)
    shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width - 8))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, shown)
    painter.restore()
    return box


def legend_box(picture: QRectF, width: float = 184.0, height: float = 46.0) -> QRectF:
    """Where the legend goes: the bottom-right corner inside ``picture``, shrunk to fit it."""
    width = min(width, max(0.0, picture.width() - 12))
    height = min(height, max(0.0, picture.height() - 12))
    return QRectF(picture.right() - width - 6, picture.bottom() - height - 6, width, height)


def draw_legend(painter: QPainter, picture: QRectF, threshold: float, colormap: str) -> QRectF:
    """The overlay's legend inside ``picture``: the colours from confidence 0 to ``threshold``."""
    box = legend_box(picture)
    if box.width() < 60 or box.height() < 30:
        return box  # a picture this small has no room for a legend
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(TAG_BACKGROUND)
    painter.drawRoundedRect(box, 4, 4)
    bar = QRectF(box.left() + 10, box.top() + 8, box.width() - 20, 10)
    painter.fillRect(bar, QColor("#d8dbe0"))  # what a picture behind a faint colour looks like
    painter.drawImage(bar, rgba_to_qimage(doubt_gradient(threshold, colormap)))
    painter.setPen(TEXT)
    metrics = painter.fontMetrics()
    text_row = QRectF(bar.left(), bar.bottom() + 3, bar.width(), metrics.height())
    painter.drawText(text_row, Qt.AlignmentFlag.AlignLeft, "0")
    painter.drawText(text_row, Qt.AlignmentFlag.AlignHCenter, "confidence")
    painter.drawText(text_row, Qt.AlignmentFlag.AlignRight, f"{threshold:.2f}")
    painter.restore()
    return box


def draw_waiting(painter: QPainter, picture: QRectF, phase: float, lines: list[str]) -> None:
    """Dim ``picture`` and draw a turning arc (``phase`` in turns) above ``lines`` of text."""
    painter.save()
    painter.fillRect(picture, DIM)
    metrics = painter.fontMetrics()
    line_height = metrics.height() + 2
    text_width = max((metrics.horizontalAdvance(line) for line in lines), default=0) + 24
    box_height = 44 + line_height * len(lines)
    box = QRectF(0, 0, min(text_width, max(60.0, picture.width() - 12)), box_height)
    box.moveCenter(picture.center())
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(TAG_BACKGROUND)
    painter.drawRoundedRect(box, 6, 6)
    centre = QPointF(box.center().x(), box.top() + 22)
    arc = QRectF(centre.x() - 12, centre.y() - 12, 24, 24)
    painter.setPen(QPen(QColor(255, 255, 255, 60), 3))
    painter.drawEllipse(arc)
    painter.setPen(QPen(ACCENT, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawArc(arc, int(-phase * 360 * 16), 100 * 16)
    painter.setPen(TEXT)
    top = box.top() + 40
    for line in lines:
        row = QRectF(box.left() + 6, top, box.width() - 12, line_height)
        shown = metrics.elidedText(line, Qt.TextElideMode.ElideRight, int(row.width()))
        painter.drawText(row, Qt.AlignmentFlag.AlignCenter, shown)
        top += line_height
    painter.restore()
