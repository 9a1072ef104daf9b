"""numpy <-> Qt image helpers and the small resize used for previews and thumbnails."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage


def to_qimage(rgb: np.ndarray) -> QImage:
    """Copy an HxWx3 uint8 RGB array into a QImage that owns its memory."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    if rgb.ndim == 2:
        rgb = np.ascontiguousarray(np.repeat(rgb[:, :, None], 3, axis=2))
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """Copy an HxWx4 uint8 RGBA array (straight alpha) into a QImage that owns its memory."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    height, width = rgba.shape[:2]
    image = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return image.copy()


def qimage_to_array(image: QImage) -> np.ndarray:
    """An HxWx3 uint8 RGB copy of ``image``."""
    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = converted.width(), converted.height()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    rows = buffer.reshape(height, converted.bytesPerLine())
    return rows[:, : 3 * width].reshape(height, width, 3).copy()


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an RGB uint8 array with a good downscaling filter."""
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    image = Image.fromarray(np.ascontiguousarray(rgb))
    return np.asarray(image.resize((max(1, width), max(1, height)), Image.Resampling.BILINEAR))


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is at most ``max_side``, aspect kept."""
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
