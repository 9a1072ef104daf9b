"""Output timeline planning: which source time every output frame shows, and from which anchors.

Modes (``value`` is K or F):

* ``factor``: K x the source frame rate, same duration (``--factor 2``: 30 -> 60 fps).
* ``fps``: any target rate F, same duration; non-integer ratios such as 24 -> 60 work.
* ``slowmo``: duration x K, played at the source rate (every source second becomes K seconds).
* ``times``: explicit source times, written at ``value`` fps.

Output frame k shows source time ``start + k * step``. A time within ``tolerance`` of a real
frame *is* that frame (passed through unchanged). Otherwise it is synthesized from the N real
frames nearest to it that lie in the same scene, with at least one on each side. Times beyond
the clip's ends, and times between the two frames of a scene cut, hold the nearest real frame
on that side: nothing is ever blended across a cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from tempo_core.errors import InputError

MODES = ("factor", "fps", "slowmo", "times")


@dataclass(frozen=True)
class OutputFrame:
    """One output frame: ``source`` is set when a real frame is shown as is (at its own time, or
    held past the clip's ends, or ``held`` at a scene cut); otherwise ``anchors`` are used."""

    index: int
    time: float
    source: int | None = None
    anchors: tuple[int, ...] = ()
    held: bool = False


@dataclass(frozen=True)
class Plan:
    frames: list[OutputFrame]
    rate: Fraction  # output frame rate
    start: float  # source time of output frame 0 (s)
    end: float  # end of the covered source range (s)
    duration_changed: bool  # True for slow motion: audio cannot be copied

    @property
    def synthesized(self) -> int:
        return sum(1 for f in self.frames if f.source is None)

    @property
    def held_at_cuts(self) -> int:
        return sum(1 for f in self.frames if f.held)

    def needed_sources(self) -> tuple[int, int]:
        """Inclusive range of source indices the plan reads."""
        used = [f.source for f in self.frames if f.source is not None]
        used += [a for f in self.frames for a in f.anchors]
        return min(used), max(used)


MIN_OUTPUT_RATE = 0.01  # output frames per second: one every 100 s


def output_rate(mode: str, value: float, source_rate: Fraction) -> Fraction:
    """The output frame rate of a mode (a fraction, so 24000/1001-based rates stay exact)."""
    if mode not in MODES:
        raise InputError(f"Unknown mode {mode!r}; use one of {', '.join(MODES)}.")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"The {mode} value must be a positive number, not {value}.")
    if mode == "slowmo":
        return source_rate
    asked = float(source_rate) * value if mode == "factor" else value
    if asked < MIN_OUTPUT_RATE:  # also what would round to a rate of 0 (ZeroDivisionError)
        raise InputError(
            f"--{mode} {value:g} gives {asked:.3g} frames per second; TEMPO writes at least {MIN_OUTPUT_RATE:g}."
        )
    if mode == "factor":
        return source_rate * Fraction(value).limit_denominator(1000)
    return Fraction(value).limit_denominator(1001)


def segment_bounds(count: int, cuts: Iterable[int]) -> np.ndarray:
    """``segment_id[i]`` for every frame: a cut at ``c`` starts a new segment at frame ``c``."""
    starts = np.zeros(count, dtype=np.int64)
    for c in cuts:
        if 0 < c < count:
            starts[c] = 1
    return np.cumsum(starts)


def nearest_indices(frame_times: np.ndarray, time: float, count: int) -> list[int]:
    """Indices of the ``count`` frames nearest to ``time``, sorted by time.

    ``frame_times`` is strictly increasing. The nearest frames of a sorted list form a window of
    consecutive frames, grown one frame at a time towards the closer side.
    """
    total = len(frame_times)
    count = max(0, min(count, total))
    if count == 0:
        return []
    right = int(np.searchsorted(frame_times, time, side="left"))
    left = right - 1
    chosen: list[int] = []
    while len(chosen) < count:
        take_left = right >= total or (left >= 0 and time - frame_times[left] <= frame_times[right] - time)
        if take_left:
            chosen.append(left)
            left -= 1
        else:
            chosen.append(right)
            right += 1
    return sorted(chosen)


def choose_anchors(frame_times: np.ndarray, time: float, n: int, segment: np.ndarray | None = None) -> tuple[int, ...]:
    """The ``n`` real frames nearest to ``time`` within the scene of the frames around it, with
    one on each side whenever both exist, sorted by time."""
    count = len(frame_times)
    after = int(np.searchsorted(frame_times, time, side="right"))
    before = after - 1
    before, after = max(before, 0), min(after, count - 1)
    seg = segment if segment is not None else np.zeros(count, dtype=np.int64)
    chosen = sorted({before, after})
    left, right = min(chosen) - 1, max(chosen) + 1
    while len(chosen) < n:
        left_ok = left >= 0 and seg[left] == seg[chosen[0]]
        right_ok = right < count and seg[right] == seg[chosen[-1]]
        if not (left_ok or right_ok):
            break
        if left_ok and (not right_ok or time - frame_times[left] <= frame_times[right] - time):
            chosen.insert(0, left)
            left -= 1
        else:
            chosen.append(right)
            right += 1
    return tuple(chosen)


def plan_output(
    frame_times: Sequence[float] | np.ndarray,
    mode: str,
    value: float,
    *,
    source_rate: Fraction,
    last_duration: float | None = None,
    start: float | None = None,
    end: float | None = None,
    anchors: int = 2,
    cuts: Iterable[int] = (),
    tolerance: float = 1e-4,
    times: Sequence[float] | None = None,
) -> Plan:
    """Plan every output frame (see the module docstring).

    Args:
        frame_times: strictly increasing source frame times (s).
        source_rate: the source's average frame rate.
        last_duration: how long the last frame lasts (s); default one nominal frame.
        start, end: source range to cover (s); default the whole clip. ``end`` is exclusive.
        anchors: N real frames per synthesized frame (2 or 4).
        cuts: frame indices that start a new scene.
        tolerance: a target this close to a real frame is that frame (about one PTS tick).
        times: for ``mode="times"``, the source times to render.
    """
    frame_times = np.asarray(frame_times, dtype=np.float64)
    if len(frame_times) == 0:
        raise InputError("The clip has no frames to plan from.")
    if anchors not in (2, 4):
        raise InputError(f"--anchors must be 2 or 4, not {anchors}.")
    rate = output_rate(mode, value, source_rate)
    nominal = 1.0 / float(source_rate)
    clip_start = float(frame_times[0])
    clip_end = float(frame_times[-1]) + (last_duration if last_duration else nominal)
    start = clip_start if start is None else max(float(start), clip_start)
    end = clip_end if end is None else min(float(end), clip_end)
    if end <= start:
        raise InputError(
            f"The range {start:.3f}-{end:.3f} s is empty; the clip spans {clip_start:.3f}-{clip_end:.3f} s."
        )
    if mode == "times":
        if not times:
            raise InputError("Mode 'times' needs a list of times.")
        targets = np.asarray(sorted(float(t) for t in times), dtype=np.float64)
    else:
        step = 1.0 / float(rate) / (float(value) if mode == "slowmo" else 1.0)
        count = max(1, int(round((end - start) / step)))
        targets = start + np.arange(count, dtype=np.float64) * step
    segment = segment_bounds(len(frame_times), cuts)
    frames = [plan_frame(float(t), frame_times, segment, anchors, tolerance, k) for k, t in enumerate(targets)]
    return Plan(frames, rate, start, end, duration_changed=(mode == "slowmo" and value != 1))


def plan_frame(
    t: float, frame_times: np.ndarray, segment: np.ndarray, n: int, tolerance: float, k: int = 0
) -> OutputFrame:
    """How source time ``t`` is shown (see the module docstring): the one rule of the export and
    the app's viewer. ``segment`` comes from :func:`segment_bounds`; ``k`` is the output index."""
    count = len(frame_times)
    after = int(np.searchsorted(frame_times, t, side="right"))
    before = after - 1
    nearest = before if after >= count else after if before < 0 else None
    if nearest is None:
        nearest = before if t - frame_times[before] <= frame_times[after] - t else after
    if abs(frame_times[nearest] - t) <= tolerance:
        return OutputFrame(k, t, source=nearest)
    if before < 0 or after >= count:  # past the clip's ends: hold the first / last frame
        return OutputFrame(k, t, source=nearest)
    if segment[before] != segment[after]:
        return OutputFrame(k, t, source=nearest, held=True)
    chosen = choose_anchors(frame_times, t, n, segment)
    return OutputFrame(k, t, anchors=chosen)


def snap_tolerance(time_base: float, frame_times: np.ndarray, rate: Fraction) -> float:
    """One PTS tick, but never more than a quarter of an input or output frame interval."""
    gaps = np.diff(frame_times)
    smallest = float(gaps.min()) if len(gaps) else 1.0
    return max(1e-6, min(time_base, 0.25 * smallest, 0.25 / float(rate)))
