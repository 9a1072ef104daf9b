"""The export's per-frame scores and its safety net.

:class:`SafetyNet` reviews the syntheses of every export job before the writer sees them (the
pipeline's ``review`` stage): it scores each synthesized frame from its confidence map
(:func:`tempo_core.frame_score.frame_score`, in [0, 1], higher is better) and records the score
by target time. With ``min_confidence`` set, a synthesized frame whose score falls below it is
replaced by the better of holding the nearest real frame or the plain blend of the two anchors
around it (:func:`choose_fallback`); the record says which.

When a synthesized frame scores below what the user accepts, it is replaced by one
of two frames built from the real anchors around it: the nearest real frame held, or the plain
blend of the two anchors (linear in time, as ``tempo eval --baseline blend``). There is no ground
truth at export time, so :func:`choose_fallback` measures how far each candidate lies from the
synthesized frame *where the network is confident* (the part of the synthesis most likely right;
every pixel where no pixel is confident) and keeps the blend unless the held frame is closer by a
margin (:data:`HOLD_MARGIN`, chosen on training windows with and without scene cuts by
``benchmarks/studies/fallback_choice.py``; with the map of issue 21 the grid's best is 1.0, by 0.04 dB,
within noise, so 0.9 stays). On ordinary motion the blend is the better of the two for
99 % of the training targets; where a scene changed (a cut the scene-cut detector missed) a held
frame that the synthesis resembles beats a cross-fade (figures: docs/decisions/024-fallback-margin.md).

Anchors may come as ``uint8`` or ``uint16`` RGB (a deep export); the fallback choice is made on
8-bit copies, and the replacement carries float RGB (``rgb``) from the full-depth anchors so a
10-bit output is not rounded to 8 bits on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tempo_core.errors import InputError
from tempo_core.frame_score import SCORE_THRESHOLD, frame_score
from tempo_core.inference.images import to_uint8, to_unit_float

HOLD_MARGIN = 0.9  # chosen on training windows (docs/decisions/024-fallback-margin.md)
FallbackKind = Literal["hold", "blend"]


@dataclass
class SynthesisRecord:
    """What happened to one synthesized frame: its ``score`` in [0, 1]; ``fallback`` "hold" or
    "blend" when the safety net replaced it (None: written as synthesized); ``held_time`` the
    source time of the real frame a "hold" shows."""

    time: float
    score: float
    anchor_times: tuple[float, ...] = ()
    fallback: FallbackKind | None = None
    held_time: float | None = None


@dataclass
class Replacement:
    """A frame the safety net writes instead of a synthesis: ``image`` uint8 ``[H, W, 3]``,
    ``confidence`` the synthesis's ``[H, W]`` map, ``rgb`` float32 ``[H, W, 3]`` in [0, 1] from
    deep anchors (None for 8-bit ones)."""

    image: np.ndarray
    confidence: np.ndarray
    time: float
    rgb: np.ndarray | None = None


def check_min_confidence(value: float | None) -> None:
    """Refuse a ``--min-confidence`` outside [0, 1] with one sentence."""
    if value is not None and not (0.0 <= float(value) <= 1.0):
        raise InputError(f"--min-confidence must be a score between 0 and 1, not {value:g}.")


class SafetyNet:
    """Scores the syntheses of an export and replaces those below ``min_confidence`` (None: off).

    ``records`` maps each synthesized target time to its :class:`SynthesisRecord`.
    """

    def __init__(self, min_confidence: float | None = None) -> None:
        check_min_confidence(min_confidence)
        self.min_confidence = min_confidence
        self.records: dict[float, SynthesisRecord] = {}

    def review(
        self, frames: Sequence[np.ndarray], anchor_times: Sequence[float], syntheses: Sequence[Any]
    ) -> list[Any]:
        """The syntheses made from the anchors ``frames`` (uint8 or uint16 RGB ``[H, W, 3]``) at
        ``anchor_times``, each scored and recorded; those scoring below ``min_confidence`` (or
        NaN) replaced by a :class:`Replacement`."""
        times = [float(t) for t in anchor_times]
        written: list[Any] = []
        for synthesis in syntheses:
            score = float(frame_score(synthesis.confidence))
            record = SynthesisRecord(float(synthesis.time), score, tuple(times))
            if self.min_confidence is not None and not score >= self.min_confidence:
                synthesis = self._replace(list(frames), times, synthesis, record)
            self.records[record.time] = record
            written.append(synthesis)
        return written

    @staticmethod
    def _replace(frames: list[np.ndarray], times: list[float], synthesis: Any, record: SynthesisRecord) -> Replacement:
        frames = [np.asarray(frame) for frame in frames]
        small = [to_uint8(frame) for frame in frames]
        fallback = choose_fallback(small, times, record.time, synthesis.image, synthesis.confidence)
        record.fallback = fallback.kind
        rgb = None
        if any(frame.dtype != np.uint8 for frame in frames):  # the fallback at the anchors' own depth
            deep = [to_unit_float(frame) for frame in frames]
            held = deep[fallback.held] if fallback.kind == "hold" else anchor_blend(deep, times, record.time)
            rgb = held.astype(np.float32)
        if fallback.kind == "hold":
            record.held_time = times[fallback.held]
        return Replacement(fallback.image, synthesis.confidence, record.time, rgb)


@dataclass(frozen=True)
class Fallback:
    """The frame that replaces a doubtful synthesized one.

    kind: "hold" (the nearest real frame) or "blend" (the two anchors around the target, linear in
    time); image: uint8 ``[H, W, 3]``; held: index (into the anchors given) of the frame the
    "hold" candidate holds (set whichever kind won); distances: the confidence-weighted mean absolute
    difference (0-255 levels) of each candidate to the synthesized frame, ``{"hold": ..., "blend": ...}``.
    """

    kind: FallbackKind
    image: np.ndarray
    held: int
    distances: dict[str, float]


def bracketing_pair(times: list[float], target_time: float) -> tuple[int, int, float]:
    """Indices of the anchors just before and after ``target_time`` and the blend weight in [0, 1].

    Outside the anchors the two nearest ones are used and the weight is clamped (a hold).
    """
    order = sorted(range(len(times)), key=lambda i: times[i])
    after = sum(1 for i in order if times[i] <= target_time)
    after = min(max(after, 1), len(order) - 1)
    early, late = order[after - 1], order[after]
    weight = (target_time - times[early]) / (times[late] - times[early])
    return early, late, float(min(max(weight, 0.0), 1.0))


def anchor_blend(frames: Sequence[np.ndarray], times: Sequence[float], time: float) -> np.ndarray:
    """The blend of the two anchors around ``time``, linear in time (the one blend TEMPO makes:
    the safety net's, its deep variant's and ``tempo eval --baseline blend``'s).

    Args:
        frames: ``[H, W, 3]`` each (at least 2, any order; any dtype, all alike); times: theirs.

    Returns:
        float64 ``[H, W, 3]`` in the frames' own units (0-255 for uint8, [0, 1] for floats).
    """
    early, late, weight = bracketing_pair(list(times), time)
    return (1.0 - weight) * frames[early].astype(np.float64) + weight * frames[late].astype(np.float64)


def rounded(image: np.ndarray) -> np.ndarray:
    """float 0-255 ``[H, W, 3]`` -> uint8, rounded half to even and clipped."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def prefers_hold(distances: dict[str, float], margin: float = HOLD_MARGIN) -> bool:
    """Hold only when the held frame is closer by the margin: ``hold < margin * blend`` (distances >= 0).

    On ordinary motion the blend is the better fallback almost always (its errors are half-way
    errors); the case the hold is for is a scene the network could not follow (a missed cut), where
    the synthesis resembles one side and the blend cross-fades, so the hold has to win by a margin.
    """
    return distances["hold"] < margin * distances["blend"]


def choose_fallback(
    anchors: list[np.ndarray],
    times: list[float],
    target_time: float,
    synthesized: np.ndarray,
    confidence: np.ndarray,
) -> Fallback:
    """Hold the nearest real frame or blend the two around the target, whichever agrees better
    with the synthesized frame where it is confident.

    Args:
        anchors: the real frames, uint8 ``[H, W, 3]`` each (at least 2, any order).
        times: their times (distinct).
        target_time: the time of the synthesized frame.
        synthesized: uint8 ``[H, W, 3]``.
        confidence: ``[H, W]`` in [0, 1], the synthesized frame's map.

    The held frame is the anchor nearest in time; on a tie (the middle of a pair) the one of the
    two closer to the synthesized frame. Each candidate's distance is the mean absolute difference
    to ``synthesized`` over the pixels with confidence ``>= SCORE_THRESHOLD`` (all pixels if none
    is). The blend wins unless :func:`prefers_hold`.
    """
    if len(anchors) < 2 or len(anchors) != len(times):
        raise InputError("The safety net needs at least 2 real frames, each with its time.")
    if synthesized.shape != anchors[0].shape or confidence.shape != synthesized.shape[:2]:
        raise InputError("The synthesized frame, its confidence map and the real frames differ in size.")
    trusted = np.asarray(confidence) >= SCORE_THRESHOLD
    mask = trusted if trusted.any() else np.ones_like(trusted)
    reference = synthesized.astype(np.float64)[mask]

    def distance(image: np.ndarray) -> float:
        return float(np.abs(image.astype(np.float64)[mask] - reference).mean())

    blend = rounded(anchor_blend(anchors, times, target_time))
    gaps = [abs(t - target_time) for t in times]
    nearest = [i for i, gap in enumerate(gaps) if np.isclose(gap, min(gaps))]
    held = min(nearest, key=lambda i: distance(anchors[i]))
    distances = {"hold": distance(anchors[held]), "blend": distance(blend)}
    if prefers_hold(distances):
        return Fallback("hold", anchors[held].copy(), held, distances)
    return Fallback("blend", blend, held, distances)
