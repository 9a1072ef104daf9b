"""Session state: the open clip, the playhead in continuous time, anchors and the export range.

:class:`SessionState` is a QObject with signals and setters; it imports no widgets. The anchor
rule lives in the Qt-free :func:`choose_anchors` so it can be tested without Qt.

Anchor rule: with no pinned frames the anchors, and whether a time is a real frame, a frame held
at a scene cut or a synthesis, are the export's own (:func:`tempo_core.video.timeline.plan_frame`
with the clip's scene cuts, found in the background when it opens), so the viewer shows at a
time what the export writes there. With two or more pinned frames exactly the pinned frames are
used. With one pinned frame it is kept and the nearest automatic frames fill up to N.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from tempo_core.video import timeline
from tempo_core.video.timeline import nearest_indices

ANCHOR_COUNTS = (2, 4)


def choose_anchors(
    frame_times: np.ndarray,
    time: float,
    count: int,
    pinned: Iterable[int],
    segment: np.ndarray | None = None,
) -> tuple[int, ...]:
    """Anchor frame indices for ``time`` (see the module docstring for the rule); ``segment``
    is the scene of every frame (:func:`tempo_core.video.timeline.segment_bounds`)."""
    pinned_sorted = sorted(set(pinned))
    if len(pinned_sorted) >= 2:
        return tuple(pinned_sorted)
    candidates = list(timeline.choose_anchors(frame_times, time, count + len(pinned_sorted), segment))
    candidates.sort(key=lambda index: abs(frame_times[index] - time))
    chosen = list(pinned_sorted)
    for index in candidates:
        if len(chosen) >= count:
            break
        if index not in chosen:
            chosen.append(index)
    return tuple(sorted(chosen))


class SessionState(QObject):
    """What is open and where the playhead stands. Times are seconds on the clip's PTS axis."""

    clip_changed = Signal()
    playhead_changed = Signal(float)
    anchors_changed = Signal(tuple)
    range_changed = Signal()
    scrubbing_changed = Signal(bool)
    cuts_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path: str | None = None
        self.info: Any = None
        self.frame_times = np.zeros(0, dtype=np.float64)
        self.playhead = 0.0
        self.anchor_count = 2
        self.pinned: set[int] = set()
        self.in_point: float | None = None
        self.out_point: float | None = None
        self.scrubbing = False
        self.cuts: tuple[int, ...] = ()  # frames that start a new scene
        self.segment = np.zeros(0, dtype=np.int64)  # the scene of every frame
        self._anchors: tuple[int, ...] = ()

    # ----------------------------------------------------------------- clip
    @property
    def has_clip(self) -> bool:
        return self.path is not None and len(self.frame_times) > 0

    @property
    def start_time(self) -> float:
        return float(self.frame_times[0]) if len(self.frame_times) else 0.0

    @property
    def end_time(self) -> float:
        return float(self.frame_times[-1]) if len(self.frame_times) else 0.0

    @property
    def duration(self) -> float:
        """The clip's duration as its container gives it (seconds), else the span of its frames
        plus one frame interval."""
        duration = getattr(self.info, "duration", None)
        if duration:
            return float(duration)
        return self.end_time - self.start_time + self.frame_interval if self.has_clip else 0.0

    @property
    def frame_count(self) -> int:
        return len(self.frame_times)

    @property
    def frame_interval(self) -> float:
        """Median spacing of real frames in seconds (1/25 s when unknown)."""
        if len(self.frame_times) >= 2:
            return float(np.median(np.diff(self.frame_times)))
        fps = getattr(self.info, "fps", 0) or 25.0
        return 1.0 / float(fps)

    def set_clip(self, path: str, info: Any, frame_times: np.ndarray) -> None:
        self.path = path
        self.info = info
        self.frame_times = np.asarray(frame_times, dtype=np.float64)
        self.cuts = ()
        self.segment = np.zeros(len(self.frame_times), dtype=np.int64)
        self.pinned = set()
        self.in_point = None
        self.out_point = None
        self.scrubbing = False
        self.playhead = self.start_time
        self._anchors = ()
        self.clip_changed.emit()
        self.range_changed.emit()
        self.playhead_changed.emit(self.playhead)
        self._update_anchors()

    def clear_clip(self) -> None:
        self.path = None
        self.info = None
        self.frame_times = np.zeros(0, dtype=np.float64)
        self.cuts = ()
        self.segment = np.zeros(0, dtype=np.int64)
        self.pinned = set()
        self._anchors = ()
        self.in_point = self.out_point = None
        self.clip_changed.emit()

    # ------------------------------------------------------------- playhead
    def set_playhead(self, time: float) -> None:
        if not self.has_clip or not math.isfinite(time):
            return
        time = min(max(float(time), self.start_time), self.end_time)
        if time == self.playhead:
            return
        self.playhead = time
        self.playhead_changed.emit(time)
        self._update_anchors()

    def set_scrubbing(self, scrubbing: bool) -> None:
        if scrubbing != self.scrubbing:
            self.scrubbing = scrubbing
            self.scrubbing_changed.emit(scrubbing)

    def nearest_frame(self, time: float | None = None) -> int:
        """Index of the real frame nearest to ``time`` (default: the playhead)."""
        time = self.playhead if time is None else time
        return nearest_indices(self.frame_times, time, 1)[0] if self.has_clip else 0

    def set_cuts(self, cuts: Iterable[int]) -> None:
        """The frames that start a new scene (found in the background after the clip opened)."""
        if not self.has_clip:
            return
        self.cuts = tuple(sorted(int(c) for c in cuts if 0 < int(c) < len(self.frame_times)))
        self.segment = timeline.segment_bounds(len(self.frame_times), self.cuts)
        self.cuts_changed.emit()
        self._update_anchors(force=bool(self.cuts))  # the display re-decides what to show

    @property
    def tolerance(self) -> float:
        """A time this close to a real frame is that frame."""
        return min(1e-4, self.frame_interval * 1e-3)

    def plan_at(self, time: float | None = None) -> timeline.OutputFrame:
        """How the export shows ``time`` (default: the playhead): a real frame (``source``, and
        ``held`` at a scene cut) or a synthesis from ``anchors``. Pins are not applied."""
        time = self.playhead if time is None else time
        return timeline.plan_frame(time, self.frame_times, self.segment, self.anchor_count, self.tolerance)

    def real_frame_at(self, time: float | None = None) -> int | None:
        """The frame index when ``time`` stands on a real frame, else None."""
        if not self.has_clip:
            return None
        time = self.playhead if time is None else time
        index = self.nearest_frame(time)
        return index if abs(self.frame_times[index] - time) <= self.tolerance else None

    def held_frame_at(self, time: float | None = None) -> int | None:
        """The real frame the export holds at ``time`` between the two frames of a scene cut
        (None elsewhere, or when pinned anchors decide)."""
        if not self.has_clip or len(self.pinned) >= 2:
            return None
        frame = self.plan_at(time)
        return frame.source if frame.held else None

    def frame_position(self, time: float | None = None) -> float:
        """Fractional frame number of ``time`` (12.5 = half-way between frames 12 and 13)."""
        if not self.has_clip:
            return 0.0
        time = self.playhead if time is None else time
        right = int(np.searchsorted(self.frame_times, time, side="right"))
        left = max(0, min(right - 1, len(self.frame_times) - 1))
        if left + 1 >= len(self.frame_times):
            return float(left)
        span = self.frame_times[left + 1] - self.frame_times[left]
        return left + float((time - self.frame_times[left]) / span)

    def step_frame(self, step: int) -> None:
        """Move to the previous (-1) or next (+1) real frame, from anywhere in between."""
        if not self.has_clip:
            return
        position = self.frame_position()
        if step > 0:
            target = math.floor(position + 1e-6) + step
        else:
            target = math.ceil(position - 1e-6) + step
        target = min(max(target, 0), len(self.frame_times) - 1)
        self.set_playhead(float(self.frame_times[target]))

    def step_fraction(self, fraction: float) -> None:
        """Move by ``fraction`` of a frame interval (negative moves back)."""
        if not self.has_clip:
            return
        position = self.frame_position() + fraction
        position = round(position / abs(fraction)) * abs(fraction) if fraction else position
        position = min(max(position, 0.0), len(self.frame_times) - 1.0)
        left = int(math.floor(position))
        if left >= len(self.frame_times) - 1:
            self.set_playhead(self.end_time)
            return
        t0, t1 = self.frame_times[left], self.frame_times[left + 1]
        self.set_playhead(float(t0 + (position - left) * (t1 - t0)))

    # -------------------------------------------------------------- anchors
    @property
    def anchors(self) -> tuple[int, ...]:
        return self._anchors

    def set_anchor_count(self, count: int) -> None:
        if count not in ANCHOR_COUNTS:
            raise ValueError(f"anchor count must be one of {ANCHOR_COUNTS}")
        if count != self.anchor_count:
            self.anchor_count = count
            self._update_anchors()

    def toggle_pin(self, index: int) -> None:
        if not self.has_clip or not 0 <= index < len(self.frame_times):
            return
        if index in self.pinned:
            self.pinned.discard(index)
        else:
            self.pinned.add(index)
        self._update_anchors(force=True)

    def clear_pins(self) -> None:
        if self.pinned:
            self.pinned = set()
            self._update_anchors(force=True)

    def _update_anchors(self, force: bool = False) -> None:
        if not self.has_clip:
            return
        anchors = choose_anchors(self.frame_times, self.playhead, self.anchor_count, self.pinned, self.segment)
        if force or anchors != self._anchors:
            self._anchors = anchors
            self.anchors_changed.emit(anchors)

    # ---------------------------------------------------------------- range
    def set_in_point(self, time: float | None) -> None:
        self.in_point = time
        if time is not None and self.out_point is not None and self.out_point <= time:
            self.out_point = None
        self.range_changed.emit()

    def set_out_point(self, time: float | None) -> None:
        self.out_point = time
        if time is not None and self.in_point is not None and self.in_point >= time:
            self.in_point = None
        self.range_changed.emit()

    @property
    def export_range(self) -> tuple[float | None, float | None]:
        return self.in_point, self.out_point
