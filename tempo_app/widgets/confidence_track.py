"""The confidence track under the timeline's thumbnails: one coloured bar per scored frame.

Painted by :class:`tempo_app.widgets.timeline.TimelineWidget` into its track lane. Each scored
frame (:class:`tempo_app.state.confidence_track.TrackPoint`) is a bar centred on its time, reaching
half-way to its neighbours (at least 2 pixels wide), coloured by score around the track's
doubtful line: amber at the line, red a quarter below it, green a quarter above, or at 1 when the
line is higher than 0.75 (the ramp then as steep below; scores of one clip often span only a few
tenths, so a ramp over all of [0, 1] would paint them alike);
a doubtful frame also gets a red mark above its bar; frames of an export
are full height, frames only synthesized while scrubbing three quarters.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter

from tempo_app.state.confidence_track import ConfidenceTrack, TrackPoint

TRACK_HEIGHT = 10
_STOPS = ((0.0, (214, 48, 49)), (0.5, (240, 173, 40)), (1.0, (76, 187, 96)))
SPREAD = 0.25  # score distance from the doubtful line to full red / full green
MIN_SPREAD = 0.02  # the ramp for a line at or near 1
_EMPTY, _DOUBT = QColor("#2a2e36"), QColor("#ff4d4d")


def score_colour(score: float, line: float = 0.5) -> QColor:
    """Amber at the doubtful ``line``, red at ``line - spread`` and below, green at
    ``line + spread`` and above (linear between); ``spread`` is ``SPREAD``, less when the line
    is so high that green would lie above a score of 1."""
    spread = min(SPREAD, max(1.0 - line, MIN_SPREAD))
    score = min(max(0.5 + (float(score) - line) / (2 * spread), 0.0), 1.0)
    for (low, a), (high, b) in zip(_STOPS[:-1], _STOPS[1:], strict=True):
        if score <= high:
            w = (score - low) / (high - low)
            return QColor(*(round(x + w * (y - x)) for x, y in zip(a, b, strict=True)))
    return QColor(*_STOPS[-1][1])


def track_bars(
    points: list[TrackPoint], time_to_x: Callable[[float], float], left: float, right: float
) -> list[tuple[float, float, TrackPoint]]:
    """``(x0, x1, point)`` for each point: from half-way to the previous point to half-way to
    the next (the ends reach as far as their inner half), at least 2 pixels, clipped to
    ``[left, right]``; points outside are dropped."""
    xs = [time_to_x(p.time) for p in points]
    bars = []
    for i, (x, point) in enumerate(zip(xs, points, strict=True)):
        before = (x - xs[i - 1]) / 2 if i > 0 else None
        after = (xs[i + 1] - x) / 2 if i + 1 < len(xs) else None
        half_left = before if before is not None else (after if after is not None else 3.0)
        half_right = after if after is not None else half_left
        x0, x1 = x - half_left, x + half_right
        if x1 - x0 < 2:
            x0, x1 = x - 1, x + 1
        x0, x1 = max(x0, left), min(x1, right)
        if x1 > x0:
            bars.append((x0, x1, point))
    return bars


def paint_track(
    painter: QPainter,
    lane: QRectF,
    track: ConfidenceTrack,
    time_to_x: Callable[[float], float],
    view: tuple[float, float],
) -> None:
    """Paint ``track``'s points between the view's times into ``lane``."""
    painter.fillRect(lane, _EMPTY)
    span = view[1] - view[0]
    points = track.in_range(view[0] - 0.05 * span, view[1] + 0.05 * span)
    for x0, x1, point in track_bars(points, time_to_x, lane.left(), lane.right()):
        height = lane.height() if point.origin == "export" else lane.height() * 0.75
        top = lane.bottom() - height
        painter.fillRect(QRectF(x0, top, x1 - x0, height), score_colour(point.score, track.doubtful_below))
        if track.is_doubtful(point):
            middle = (x0 + x1) / 2
            painter.fillRect(QRectF(middle - 1.5, lane.top() - 3, 3, 3), _DOUBT)
