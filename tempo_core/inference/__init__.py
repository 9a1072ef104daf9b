"""The inference runtime: a trained TEMPO network run on real images, on any device.

:class:`Interpolator` (:mod:`.interpolator`) is the entry point: anchors in as uint8 / uint16
images with their timestamps, frames out at any target times. Around it, one concept a module:
:mod:`.images` (pixels to tensors and back, one uint16 convention), :mod:`.device` (device and
precision), :mod:`.settings` (the user-facing choices, importable without torch), :mod:`.anchors`
(encoded anchors and the whole-frame / half-size / tiled strategies), :mod:`.half_size` (when the
network runs at half size), :mod:`.tiling` (overlapping tiles), :mod:`.shared_motion` (one motion
search per anchor gap) and :mod:`.compiled` (the whole synthesis as one compiled graph).

Names are loaded on first use, so ``tempo_core.inference.settings`` imports without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Interpolator": "interpolator",
    "Synthesis": "interpolator",
    "check_times": "interpolator",
    "cancel_check": "interpolator",
    "EncodedAnchors": "anchors",
    "image_to_tensor": "images",
    "tensor_to_image": "images",
    "pad_to_multiple": "images",
    "to_unit_float": "images",
    "to_uint8": "images",
    "PRECISIONS": "device",
    "resolve_device": "device",
    "device_description": "device",
    "PRECISION_NAMES": "settings",
    "SCALE_CHOICES": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tempo_core.inference' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tempo_core.inference.{_EXPORTS[name]}"), name)
