"""What an export will cost, before it starts: frames out, frames to synthesize, expected time.

Qt-free. The plan is the export's own (:func:`tempo_core.video.timeline.plan_output` with the
clip's scene cuts); the time comes from the speed measured on this machine (milliseconds per
synthesized frame at full resolution, anchors encoded included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tempo_app.state.session import SessionState


@dataclass(frozen=True)
class ExportEstimate:
    """``frames`` written, of which ``synthesized``; ``seconds`` None until a speed is measured."""

    frames: int
    synthesized: int
    seconds: float | None
    ms_per_frame: float | None

    def describe(self) -> str:
        """One sentence for the dialog."""
        counts = f"{self.frames} frames out, {self.synthesized} to synthesize"
        if self.synthesized == 0:
            return f"{counts}: no model work, only copying."
        if self.seconds is None:
            return f"{counts}; measuring the speed on this machine..."
        per_frame = self.ms_per_frame / 1000.0
        return f"{counts}: about {format_duration(self.seconds)} at {per_frame:.2f} s per frame (measured here)."


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s`` or ``2 h 05 min``."""
    if not math.isfinite(seconds):
        return "--"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def source_rate(fps: float) -> Fraction:
    """The clip's frame rate as the reader gives it (24000/1001-style rates exact)."""
    return Fraction(fps).limit_denominator(1001) if fps and fps > 0 else Fraction(25)


def estimate_export(
    session: SessionState,
    mode: str,
    value: float,
    start: float | None,
    end: float | None,
    anchors: int,
    ms_per_frame: float | None,
) -> ExportEstimate:
    """Plan the export of the open clip as the engine will (raises InputError for a range or a
    value the engine would refuse)."""
    from tempo_core.video.timeline import plan_output

    times = session.frame_times
    rate = source_rate(float(getattr(session.info, "fps", 0.0) or 1.0 / session.frame_interval))
    last = session.duration - float(times[-1] - times[0]) if len(times) else None
    plan = plan_output(
        np.asarray(times),
        mode,
        value,
        source_rate=rate,
        last_duration=last if last and last > 0 else None,
        start=start,
        end=end,
        anchors=anchors,
        cuts=session.cuts,
        tolerance=session.tolerance,
    )
    seconds = None if ms_per_frame is None else plan.synthesized * ms_per_frame / 1000.0
    return ExportEstimate(len(plan.frames), plan.synthesized, seconds, ms_per_frame)
