"""What the display decides to show: a picture for the viewer, or what the viewer waits for.

Plain dataclasses (no Qt), produced by :class:`tempo_app.display.DisplayController`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DisplayFrame:
    """One picture for the viewer. ``kind`` is "real", "synthesized", "preview", "held" (a real
    frame the export holds at a scene cut) or "nearest" (a real frame standing in while no model
    is available)."""

    image: np.ndarray  # (H, W, 3) uint8 RGB, possibly smaller than the clip for previews
    time: float
    kind: str
    frame_index: int  # the real frame shown, or the nearest one
    anchors: tuple[int, ...] = ()
    confidence: np.ndarray | None = None  # (h, w) float32 in [0, 1]
    reference: np.ndarray | None = None  # nearest real frame, for compare mode
    note: str = ""


@dataclass(frozen=True)
class Pending:
    """What the viewer waits for: a synthesis ("synthesis" or "preview") of ``time`` from
    ``anchors``, or the decode of real frame ``frame_index`` ("frame"). ``started`` is a
    :func:`time.monotonic` stamp; ``expected_s`` comes from the measured speed (None: unknown)."""

    kind: str
    time: float
    frame_position: float  # fractional frame number of ``time``
    anchors: tuple[int, ...] = ()
    frame_index: int | None = None
    started: float = 0.0
    expected_s: float | None = None


@dataclass(frozen=True)
class PendingReal:
    """A real frame to show once the frame thread has decoded it, if the playhead stays."""

    index: int
    kind: str  # "real" or "nearest"
    note: str
    playhead: float
