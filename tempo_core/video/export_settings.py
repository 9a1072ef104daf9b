"""What an export is asked to do (:class:`ExportSettings`) and what it did (:class:`ExportResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tempo_core.video.report_records import ExportReport
from tempo_core.video.scenecut import DEFAULT_THRESHOLD
from tempo_core.video.timeline import Plan


@dataclass(frozen=True)
class ExportSettings:
    """One export. ``mode``: "factor" (K x frame rate), "fps" (target rate), "slowmo" (duration
    x K) or "times" (explicit source ``times`` written at ``value`` fps). ``start``/``end`` in
    source seconds. ``quality`` is CRF-like (lower is better). ``scene_threshold`` >= 1 turns
    scene-cut detection off. ``tile`` forces tiled synthesis of that many pixels a side.
    ``keep_duplicates`` treats repeated frames as real frames (no duplicate detection).
    ``inputs``: the run's other inputs (a batch's other clips), never written or replaced."""

    input_path: str | Path
    output_path: str | Path
    mode: str
    value: float
    codec: str = "h264"
    quality: int = 18
    start: float | None = None
    end: float | None = None
    anchors: int = 2
    overwrite: bool = False
    scene_threshold: float = DEFAULT_THRESHOLD
    batch_size: int = 8
    tile: int | None = None
    times: tuple[float, ...] | None = None
    keep_duplicates: bool = False
    inputs: tuple[str | Path, ...] = ()


@dataclass
class ExportResult:
    """What an export wrote (``run_export``'s result); ``notes`` are sentences for the user."""

    output_path: Path
    frames_written: int
    synthesized: int
    held_at_cuts: int
    audio: str  # "copied", "dropped" or "none"
    seconds: float
    notes: list[str] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # source frames that start a new scene
    duplicates_replaced: int = 0  # repeated source frames made from the motion instead
    colour: str = ""  # the source's colour as kept, e.g. "BT.709 limited 10-bit"
    plan: Plan | None = None  # every output frame: its source time and where it comes from
    report: ExportReport | None = None  # every output frame's record, scores and fallbacks
    report_files: tuple[Path, ...] = ()  # the report's sidecar and plot, when they were written
