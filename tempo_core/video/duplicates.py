"""Duplicate frames: repeats that carry no motion of their own are made from the true motion.

Animation on twos (every drawing shown for two frames), a screen recording that stalls for a
frame or two, telecined film: such clips repeat a frame exactly or nearly (compression noise
only). Interpolating between a frame and its own repeat makes nothing move, and the output
stutters: still, jump, still, jump. Here a frame is a *repeat* when it differs from the frame
before it by less than :data:`REPEAT_MEAN` on average and :data:`REPEAT_MAX` anywhere (levels of
255, on :data:`THUMB_SIZE`-pixel thumbnails); the plan is then made from the distinct frames only
(:func:`plan_without_repeats`), so every output time between two distinct frames, the repeats'
own times included, is synthesized from the motion between them.

Runs longer than :data:`MAX_RUN` repeats are a picture that truly stands still (a title, a
locked-off shot) and stay real frames: nothing is interpolated across a long stillness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from tempo_core.video.timeline import OutputFrame, Plan

__all__ = ["MAX_RUN", "RepeatFinder", "find_repeats", "is_repeat", "plan_without_repeats", "repeats_replaced"]

THUMB_SIZE = 128
REPEAT_MEAN = 0.75  # mean absolute difference, levels of 255
REPEAT_MAX = 10.0  # largest absolute difference, levels of 255
MAX_RUN = 3  # a frame shown up to 4 times in a row is a repeat; longer is a real stillness


def is_repeat(previous: np.ndarray, current: np.ndarray) -> bool:
    """Whether thumbnail ``current`` (``uint8 h x w x 3``) repeats ``previous``."""
    diff = np.abs(current.astype(np.int16) - previous.astype(np.int16))
    return float(diff.mean()) < REPEAT_MEAN and float(diff.max()) < REPEAT_MAX


def find_repeats(thumbnails: Iterable[tuple[int, np.ndarray]], max_run: int = MAX_RUN) -> list[int]:
    """Indices of the frames that repeat the frame before them, from ``(index, thumbnail)`` in
    order; runs of more than ``max_run`` repeats are left out (a true stillness)."""
    finder = RepeatFinder(max_run)
    for index, thumb in thumbnails:
        finder.add(index, thumb)
    return finder.finish()


class RepeatFinder:
    """:func:`find_repeats` one thumbnail at a time (fed during the scene-cut scan)."""

    def __init__(self, max_run: int = MAX_RUN) -> None:
        self.max_run = max_run
        self._previous: tuple[int, np.ndarray] | None = None
        self._run: list[int] = []
        self._found: list[int] = []

    def add(self, index: int, thumb: np.ndarray) -> None:
        previous = self._previous
        if previous is not None and previous[0] == index - 1 and is_repeat(previous[1], thumb):
            self._run.append(index)
        else:
            self._close_run()
        self._previous = (index, thumb)

    def _close_run(self) -> None:
        if len(self._run) <= self.max_run:
            self._found.extend(self._run)
        self._run = []

    def finish(self) -> list[int]:
        self._close_run()
        return sorted(self._found)


def plan_without_repeats(
    times: np.ndarray,
    repeats: Sequence[int],
    cuts: Sequence[int],
    last_duration: float,
    plan: Callable[[np.ndarray, list[int], float], Plan],
) -> Plan:
    """Plan from the distinct frames only, then name the frames by their index in the clip.

    ``times`` are all source frame times; ``plan(times, cuts, last_duration)`` plans from a list
    of frames (the distinct ones, their cuts renumbered, the clip's end unchanged)."""
    drop = set(repeats)
    keep = np.array([i for i in range(len(times)) if i not in drop], dtype=np.int64)
    kept_times = np.asarray(times, dtype=np.float64)[keep]
    position = {int(index): k for k, index in enumerate(keep)}
    kept_cuts = [position[c] for c in cuts if c in position]
    clip_end = float(times[-1]) + last_duration
    planned = plan(kept_times, kept_cuts, clip_end - float(kept_times[-1]))

    def original(k: int | None) -> int | None:
        return None if k is None else int(keep[k])

    frames = [
        OutputFrame(f.index, f.time, original(f.source), tuple(int(keep[a]) for a in f.anchors), f.held)
        for f in planned.frames
    ]
    return Plan(frames, planned.rate, planned.start, planned.end, planned.duration_changed)


def repeats_replaced(plan: Plan, times: np.ndarray, repeats: Sequence[int]) -> int:
    """How many repeated frames fall inside the planned range (each now made from the motion)."""
    return sum(1 for r in repeats if plan.start <= float(times[r]) < plan.end)
