"""The export's per-frame scores and its safety net, as a wrapper around the model.

:class:`ScoringModel` stands between the export pipeline and the interpolator: it forwards every
``encode`` and ``synthesize`` call, scores each synthesized frame from its confidence map
(:func:`tempo_core.frame_score.frame_score`, in [0, 1], higher is better) and records the score
by target time. With ``min_confidence`` set, a synthesized frame whose score falls below it is
replaced, before the writer sees it, by the better of holding the nearest real frame or a plain
blend of the two anchors around it (:func:`tempo_core.frame_score.choose_fallback`); the record
says which. The pipeline and the engine need no change: they see a model whose syntheses are
already the ones to write.

Anchors may come as ``uint8`` or ``uint16`` RGB (a deep export); the fallback choice is made on
8-bit copies, and the replacement carries float RGB (``rgb``) from the full-depth anchors so a
10-bit output is not rounded to 8 bits on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tempo_core.errors import InputError
from tempo_core.frame_score import FallbackKind, bracketing_pair, choose_fallback, frame_score
from tempo_core.inference.images import to_uint8, to_unit_float


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


class ScoringModel:
    """Forwards to ``model`` (an Interpolator or a wrapper of one), scoring every synthesis.

    ``records`` maps each synthesized target time to its :class:`SynthesisRecord`. Attributes it
    does not define (``tile``, ``device``, ...) are the model's own.
    """

    def __init__(self, model: Any, min_confidence: float | None = None) -> None:
        check_min_confidence(min_confidence)
        self._model = model
        self.min_confidence = min_confidence
        self.records: dict[float, SynthesisRecord] = {}
        self._anchors: tuple[Any, list[np.ndarray], list[float]] | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "_model":  # not set yet (copy, pickle): never recurse
            raise AttributeError(name)
        return getattr(self._model, name)

    def encode(self, frames: Sequence[Any], timestamps: Sequence[float], tile: int | None = None) -> Any:
        """Encode as the model does; keep (references to) the frames and times for the records
        and the safety net."""
        if tile is None:
            encoded = self._model.encode(frames, timestamps)
        else:
            encoded = self._model.encode(frames, timestamps, tile=tile)
        self._anchors = (encoded, list(frames), [float(t) for t in timestamps])
        return encoded

    def synthesize(
        self, anchors: Any, target_times: Sequence[float], should_cancel: Callable[[], bool] | None = None
    ) -> list[Any]:
        """The model's syntheses, each scored; those below ``min_confidence`` replaced."""
        results = list(self._model.synthesize(anchors, target_times, should_cancel=should_cancel))
        known = self._anchors is not None and self._anchors[0] is anchors
        anchor_times = tuple(self._anchors[2]) if known else ()
        written: list[Any] = []
        for synthesis in results:
            score = float(frame_score(synthesis.confidence))
            record = SynthesisRecord(float(synthesis.time), score, anchor_times)
            if self.min_confidence is not None and record.score < self.min_confidence:
                synthesis = self._replace(anchors, synthesis, record)
            self.records[record.time] = record
            written.append(synthesis)
        return written

    def _replace(self, encoded: Any, synthesis: Any, record: SynthesisRecord) -> Replacement:
        if self._anchors is None or self._anchors[0] is not encoded:
            raise InputError("The safety net needs the real frames the synthesis was made from.")
        _, frames, times = self._anchors
        frames = [np.asarray(frame) for frame in frames]
        small = [to_uint8(frame) for frame in frames]
        fallback = choose_fallback(small, times, record.time, synthesis.image, synthesis.confidence)
        record.fallback = fallback.kind
        rgb = None
        if any(frame.dtype != np.uint8 for frame in frames):
            rgb = self._deep_rgb(fallback.kind, fallback.held, frames, times, record.time)
        if fallback.kind == "hold":
            record.held_time = times[fallback.held]
        return Replacement(fallback.image, synthesis.confidence, record.time, rgb)

    @staticmethod
    def _deep_rgb(
        kind: FallbackKind, held: int, frames: list[np.ndarray], times: list[float], time: float
    ) -> np.ndarray:
        """The fallback at the anchors' own depth, float32 ``[H, W, 3]`` in [0, 1]."""
        if kind == "hold":
            return to_unit_float(frames[held])
        early, late, weight = bracketing_pair(times, time)
        return (1.0 - weight) * to_unit_float(frames[early]) + weight * to_unit_float(frames[late])
