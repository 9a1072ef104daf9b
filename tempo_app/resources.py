"""Paths to the bundled style sheet and icons (shipped as package data)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
ICONS = HERE / "icons"
STYLE_SHEET = HERE / "style.qss"


LIGHT, ACCENT, DIMMED = "#e6e8ec", "#ffb347", "#5a606c"
ICON_SIZES = (16, 20, 24, 32, 48)


def _render(svg: bytes, size: int) -> QPixmap:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    QSvgRenderer(svg).render(painter)
    painter.end()
    return QPixmap.fromImage(image)


@cache
def icon(name: str) -> QIcon:
    """The SVG icon ``icons/<name>.svg`` with a dimmed disabled state (empty when missing)."""
    path = ICONS / f"{name}.svg"
    if not path.exists():
        return QIcon()
    svg = path.read_text(encoding="utf-8")
    result = QIcon()
    dimmed = svg.replace(LIGHT, DIMMED).replace(ACCENT, DIMMED)
    for size in ICON_SIZES:
        result.addPixmap(_render(svg.encode(), size), QIcon.Mode.Normal)
        result.addPixmap(_render(dimmed.encode(), size), QIcon.Mode.Disabled)
    return result


def style_sheet() -> str:
    """The app's style sheet, with ``@ICONS@`` pointing at the bundled icons folder."""
    try:
        text = STYLE_SHEET.read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.replace("@ICONS@", ICONS.as_posix())
