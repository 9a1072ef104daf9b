"""Colour maps for the confidence overlay (Qt-free, numpy only).

Each map is a 256-entry uint8 RGB lookup table built from a few colour stops, so no plotting
library is needed. Confidence 0 is the first entry, 1 the last.
"""

from __future__ import annotations

import numpy as np

_STOPS: dict[str, list[tuple[int, int, int]]] = {
    "magma": [(0, 0, 4), (81, 18, 124), (183, 55, 121), (252, 137, 97), (252, 253, 191)],
    "viridis": [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
    "turbo": [(48, 18, 59), (40, 160, 240), (120, 250, 80), (250, 180, 40), (122, 4, 3)],
    "red-alert": [(230, 30, 30), (240, 120, 40), (245, 220, 80), (120, 200, 120), (40, 160, 90)],
    "gray": [(0, 0, 0), (255, 255, 255)],
}


def _build_table(stops: list[tuple[int, int, int]]) -> np.ndarray:
    positions = np.linspace(0.0, 1.0, len(stops))
    samples = np.linspace(0.0, 1.0, 256)
    colours = np.asarray(stops, dtype=np.float64)
    table = np.stack([np.interp(samples, positions, colours[:, c]) for c in range(3)], axis=1)
    return np.clip(np.round(table), 0, 255).astype(np.uint8)


COLORMAPS: dict[str, np.ndarray] = {name: _build_table(stops) for name, stops in _STOPS.items()}


def apply_colormap(confidence: np.ndarray, name: str) -> np.ndarray:
    """Map ``confidence`` (HxW float in [0, 1]) to an HxWx3 uint8 RGB image."""
    table = COLORMAPS[name]
    clean = np.nan_to_num(np.asarray(confidence, dtype=np.float32), nan=0.0)
    index = np.clip(np.round(clean * 255.0), 0, 255).astype(np.intp)
    return np.ascontiguousarray(table[index])


def gradient(name: str, width: int = 256) -> np.ndarray:
    """A 1 x width x 3 strip of the map, for the legend."""
    return np.ascontiguousarray(apply_colormap(np.linspace(0.0, 1.0, width)[None, :], name))
