"""Colour maps for the confidence overlay (Qt-free, numpy only).

Each map is a 256-entry uint8 RGB lookup table built from a few colour stops, so no plotting
library is needed. Confidence 0 is the first entry, 1 the last. :func:`doubt_overlay` colours
only the doubtful pixels: below a threshold, with an opacity that grows as confidence falls.
"""

from __future__ import annotations

import numpy as np

_STOPS: dict[str, list[tuple[int, int, int]]] = {
    "magma": [(0, 0, 4), (81, 18, 124), (183, 55, 121), (252, 137, 97), (252, 253, 191)],
    "viridis": [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
    "turbo": [(48, 18, 59), (40, 160, 240), (120, 250, 80), (250, 180, 40), (122, 4, 3)],
    "red-alert": [(255, 20, 60), (255, 60, 40), (255, 140, 30), (255, 200, 40), (250, 240, 90)],
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


def doubt_overlay(confidence: np.ndarray, threshold: float, name: str) -> np.ndarray:
    """An ``(H, W, 4)`` uint8 RGBA overlay of the pixels whose confidence is below ``threshold``.

    ``confidence`` is ``(H, W)`` float in [0, 1] (NaN counts as 0). A pixel at or above the
    threshold is fully transparent; below it the opacity is ``sqrt(1 - confidence / threshold)``
    (0 at the threshold, 1 at confidence 0: a pixel just below the threshold is already visible)
    and the colour is the map's entry for ``confidence / threshold``, so the map's whole range
    spans the doubtful values.
    """
    threshold = min(max(float(threshold), 1e-3), 1.0)
    clean = np.clip(np.nan_to_num(np.asarray(confidence, dtype=np.float32), nan=0.0), 0.0, 1.0)
    scaled = np.minimum(clean / threshold, 1.0)
    rgba = np.empty((*clean.shape, 4), dtype=np.uint8)
    rgba[..., :3] = COLORMAPS[name][np.round(scaled * 255.0).astype(np.intp)]
    rgba[..., 3] = np.round(np.sqrt(1.0 - scaled) * 255.0).astype(np.uint8)
    return rgba


def doubt_gradient(threshold: float, name: str, width: int = 160) -> np.ndarray:
    """A ``1 x width x 4`` RGBA strip of :func:`doubt_overlay` from confidence 0 to ``threshold``."""
    values = np.linspace(0.0, min(max(float(threshold), 1e-3), 1.0), width, dtype=np.float32)
    return np.ascontiguousarray(doubt_overlay(values[None, :], threshold, name))
