"""The export report's records: one :class:`FrameEntry` per output frame, and reading them back.

An :class:`ExportReport` is what :mod:`tempo_core.video.report` writes beside an export as JSON
(:meth:`ExportReport.to_dict`, format :data:`REPORT_FORMAT`) and what the app reads back
(:func:`load_report`) for its confidence track. Scores are
:func:`tempo_core.frame_score.frame_score` values in [0, 1], higher is better; times are source
seconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tempo_core.errors import InputError, describe
from tempo_core.frame_score import SCORE_THRESHOLD
from tempo_core.local_files import open_regular, special_file_kind

REPORT_FORMAT = "tempo-export-report/1"
WORST_COUNT = 5


def _rank(score: float | None) -> float:
    """A score for ordering: NaN (no usable score) below every real one."""
    return -math.inf if score is None or math.isnan(score) else float(score)


@dataclass(frozen=True)
class FrameEntry:
    """One output frame. ``score`` in [0, 1] (higher is better) for synthesized frames, else
    None; ``fallback`` "hold" or "blend" when the safety net replaced the synthesis."""

    index: int
    time: float  # source seconds
    output_time: float  # seconds into the output
    kind: str  # "real", "held" or "synthesized"
    source: int | None = None
    anchors: tuple[int, ...] = ()
    anchor_times: tuple[float, ...] = ()
    score: float | None = None
    fallback: str | None = None
    held_time: float | None = None


@dataclass
class ExportReport:
    """What one export wrote, frame by frame."""

    source: str
    output: str
    rate: float  # output frames per second
    min_confidence: float | None
    frames: list[FrameEntry] = field(default_factory=list)
    score_threshold: float = SCORE_THRESHOLD

    @property
    def synthesized(self) -> list[FrameEntry]:
        return [f for f in self.frames if f.score is not None]

    @property
    def replaced(self) -> list[FrameEntry]:
        return [f for f in self.frames if f.fallback is not None]

    def worst(self, count: int = WORST_COUNT) -> list[FrameEntry]:
        """The ``count`` synthesized frames with the lowest scores, lowest first (ties: earlier
        first); a score that is not a number (NaN) counts as the lowest."""
        return sorted(self.synthesized, key=lambda f: (_rank(f.score), f.time))[:count]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "source": self.source,
            "output": self.output,
            "rate": self.rate,
            "score": f"share of pixels with confidence >= {self.score_threshold:g}",
            "score_threshold": self.score_threshold,
            "min_confidence": self.min_confidence,
            "synthesized": len(self.synthesized),
            "replaced": {kind: sum(f.fallback == kind for f in self.frames) for kind in ("hold", "blend")},
            "worst": [{"time": f.time, "index": f.index, "score": f.score} for f in self.worst()],
            "frames": [asdict(f) for f in self.frames],
        }


_NUMBER = (int, float)
_FRAME_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {  # field: (types, None allowed)
    "index": ((int,), False),
    "time": (_NUMBER, False),
    "output_time": (_NUMBER, False),
    "kind": ((str,), False),
    "source": ((int,), True),
    "score": (_NUMBER, True),
    "fallback": ((str,), True),
    "held_time": (_NUMBER, True),
}
_REPORT_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "source": ((str,), False),
    "output": ((str,), False),
    "rate": (_NUMBER, False),
    "min_confidence": (_NUMBER, True),
    "score_threshold": (_NUMBER, False),
    "frames": ((list,), False),
}


def _type_problem(where: str, value: Any, types: tuple[type, ...], optional: bool) -> str | None:
    if (value is None and optional) or (isinstance(value, types) and not isinstance(value, bool)):
        return None
    return f"{where} is {json.dumps(value)[:20]}, not {'a number' if types == _NUMBER else types[0].__name__}"


def report_type_problem(data: dict[str, Any]) -> str | None:
    """What is of the wrong type in a sidecar's JSON (``score: "abc"``, ``time: "x"``, a
    string for ``anchors``), or None: checked before any value is used, so a hostile or damaged
    report is refused whole."""
    for key, (types, optional) in _REPORT_TYPES.items():
        problem = _type_problem(key, data.get(key), types, optional)
        if problem:
            return problem
    for number, frame in enumerate(data["frames"]):
        if not isinstance(frame, dict):
            return f"frame {number} is not an object"
        for key, (types, optional) in _FRAME_TYPES.items():
            problem = _type_problem(f"frame {number}'s {key}", frame.get(key), types, optional)
            if problem:
                return problem
        for key, types in (("anchors", (int,)), ("anchor_times", _NUMBER)):
            items = frame.get(key)
            if not isinstance(items, list) or any(_type_problem(key, v, types, False) for v in items):
                return f"frame {number}'s {key} is not a list of {'numbers' if types == _NUMBER else 'whole numbers'}"
    return None


def report_from_dict(data: dict[str, Any]) -> ExportReport:
    """The report a sidecar holds (the inverse of :meth:`ExportReport.to_dict`)."""
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise InputError("This file is not a TEMPO export report.")
    problem = report_type_problem(data)
    if problem:
        raise InputError(f"This TEMPO export report is damaged or from another version ({problem}).")
    try:
        frames = [
            FrameEntry(**{**f, "anchors": tuple(f["anchors"]), "anchor_times": tuple(f["anchor_times"])})
            for f in data["frames"]
        ]
        return ExportReport(
            source=str(data["source"]),
            output=str(data["output"]),
            rate=float(data["rate"]),
            min_confidence=data["min_confidence"],
            frames=frames,
            score_threshold=float(data["score_threshold"]),
        )
    except (KeyError, TypeError, ValueError):
        raise InputError("This TEMPO export report is damaged or from another version.") from None


def load_report(path: str | Path) -> ExportReport:
    """Read a sidecar; one :class:`InputError` sentence when it cannot be read."""
    kind = special_file_kind(path)
    if kind is not None:  # reading a pipe would wait for a writer, freezing the app
        raise InputError(f"The export report {path} is {kind}, not a file.")
    try:
        with open_regular(path) as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"The export report {path} cannot be read: {describe(err)}.") from None
    return report_from_dict(data)
