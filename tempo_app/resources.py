"""Paths to the bundled style sheet and icons (shipped as package data)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

HERE = Path(__file__).resolve().parent
ICONS = HERE / "icons"
STYLE_SHEET = HERE / "style.qss"


@cache
def icon(name: str) -> QIcon:
    """The SVG icon ``icons/<name>.svg`` (an empty icon when missing)."""
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def style_sheet() -> str:
    try:
        return STYLE_SHEET.read_text(encoding="utf-8")
    except OSError:
        return ""
