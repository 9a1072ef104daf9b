"""The confidence track's state: one frame score per synthesized time, and the doubtful ones.

Qt-free. Scores come from two places: an export report (every synthesized frame of the export,
:func:`tempo_core.video.report.load_report` or the export the app just ran) and the frames the
app synthesized while scrubbing (the full-size ones: a preview's map is of another size). A score
is :func:`tempo_core.frame_score.frame_score` of the frame's confidence map, in [0, 1], higher is
better. A frame is *doubtful* when its score is below :attr:`ConfidenceTrack.doubtful_below`:
by default :data:`tempo_core.frame_score.DOUBTFUL_SCORE` (0.9: most frames score above it, and the
training targets below it are far worse, docs/decisions/023-confidence-disagreement-frame-score.md);
an export with a safety net uses its ``min_confidence`` instead (the frames it replaced are the doubtful ones).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keeps start-up light: tempo_core loads torch and PyAV
    from tempo_core.video.report_records import ExportReport

TIME_DIGITS = 6  # times closer than a microsecond are the same frame


@dataclass(frozen=True)
class TrackPoint:
    """One scored frame: ``time`` in source seconds, ``score`` in [0, 1]; ``origin`` "export" or
    "scrub"; ``fallback`` "hold" or "blend" when an export's safety net replaced it."""

    time: float
    score: float
    origin: str
    fallback: str | None = None


class ConfidenceTrack:
    """Scores by time; export scores replace scrubbed ones at the same time."""

    def __init__(self, doubtful_below: float | None = None) -> None:
        self._doubtful_below = doubtful_below  # None: the frame score's DOUBTFUL_SCORE
        self.report_output: str | None = None  # the export whose report is shown, if any
        self._points: dict[float, TrackPoint] = {}
        self._times: list[float] = []  # sorted keys of _points

    def __len__(self) -> int:
        return len(self._points)

    @property
    def points(self) -> list[TrackPoint]:
        """All points, earliest first."""
        return [self._points[t] for t in self._times]

    @property
    def doubtful_below(self) -> float:
        """The doubtful line: the export's ``min_confidence``, else ``DOUBTFUL_SCORE``."""
        if self._doubtful_below is None:
            from tempo_core.frame_score import DOUBTFUL_SCORE  # loads torch: only once scores exist

            self._doubtful_below = DOUBTFUL_SCORE
        return self._doubtful_below

    def clear(self) -> None:
        self._points.clear()
        self._times.clear()
        self.report_output = None
        self._doubtful_below = None

    def add(self, point: TrackPoint) -> bool:
        """Add or replace the point at its time; False when nothing changed (a scrubbed score
        never replaces an export's)."""
        key = round(point.time, TIME_DIGITS)
        old = self._points.get(key)
        if old == point or (old is not None and old.origin == "export" and point.origin == "scrub"):
            return False
        if old is None:
            bisect.insort(self._times, key)
        self._points[key] = point
        return True

    def add_scrubbed(self, time: float, score: float) -> bool:
        """A frame the viewer synthesized at ``time`` scored ``score``; True when it is new."""
        return self.add(TrackPoint(float(time), float(score), "scrub"))

    def load_report(self, report: ExportReport) -> int:
        """Show an export's scores (the previous export's are dropped); returns how many. The
        doubtful line follows the export's safety net when it had one. Every value is converted
        before the track changes: a report that fails leaves the previous track whole."""
        points = [TrackPoint(float(f.time), float(f.score), "export", f.fallback) for f in report.synthesized]
        doubtful_below = None if report.min_confidence is None else float(report.min_confidence)
        for key in [k for k, p in self._points.items() if p.origin == "export"]:
            del self._points[key]
        self._times = sorted(self._points)
        for point in points:
            self.add(point)
        self.report_output = report.output
        self._doubtful_below = doubtful_below
        return len(points)

    def is_doubtful(self, point: TrackPoint) -> bool:
        """Below the doubtful line, replaced by the safety net, or not a number (NaN is no score)."""
        return not point.score >= self.doubtful_below or point.fallback is not None

    @property
    def doubtful(self) -> list[TrackPoint]:
        """The doubtful points, earliest first."""
        return [p for p in self.points if self.is_doubtful(p)]

    def next_doubtful(self, time: float) -> TrackPoint | None:
        """The first doubtful point after ``time`` (more than a microsecond later), if any."""
        later = [p for p in self.doubtful if p.time > time + 10**-TIME_DIGITS]
        return later[0] if later else None

    def previous_doubtful(self, time: float) -> TrackPoint | None:
        """The last doubtful point before ``time``, if any."""
        earlier = [p for p in self.doubtful if p.time < time - 10**-TIME_DIGITS]
        return earlier[-1] if earlier else None

    def in_range(self, start: float, end: float) -> list[TrackPoint]:
        """Points with ``start <= time <= end``, earliest first."""
        lo = bisect.bisect_left(self._times, round(start, TIME_DIGITS))
        hi = bisect.bisect_right(self._times, round(end, TIME_DIGITS))
        return [self._points[t] for t in self._times[lo:hi]]
