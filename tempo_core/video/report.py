"""The export report: one record per output frame, a JSON sidecar and a plot beside the output.

:func:`export_with_report` runs :func:`tempo_core.video.engine.run_export` with the model wrapped
in a :class:`~tempo_core.video.safety_net.ScoringModel` (scores, and the safety net when
``min_confidence`` is set) and, once the output is in place, writes beside it:

* ``OUTPUT.report.json``: per output frame its index, source time (``time``, seconds), output
  time, kind ("real", "held" at a scene cut or past the clip's ends, or "synthesized"), the
  source frames it comes from (``source`` or ``anchors`` with ``anchor_times``), the frame
  score (:func:`tempo_core.frame_score.frame_score`, synthesized frames only) and the safety
  net's ``fallback`` ("hold", "blend" or null); the five worst times;
* ``OUTPUT.report.png``: the score along the clip, worst frames marked
  (:mod:`tempo_core.video.report_plot`).

Both are written to hidden temporary names and renamed into place only after the export
succeeded, so a cancelled or failed export leaves neither. An export without a report removes
the sidecars an earlier export left beside the same output (they describe a file now replaced).
The records themselves (:class:`FrameEntry`, :class:`ExportReport`) and reading a sidecar back
(:func:`load_report`) live in :mod:`tempo_core.video.report_records`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tempo_core.errors import OutputError, describe
from tempo_core.video.engine import CancelToken, ExportResult, ExportSettings, Progress, run_export
from tempo_core.video.output_paths import temporary_name
from tempo_core.video.report_plot import draw_score_plot
from tempo_core.video.report_records import ExportReport, FrameEntry, load_report, report_from_dict
from tempo_core.video.safety_net import ScoringModel, SynthesisRecord
from tempo_core.video.timeline import Plan

__all__ = [
    "ExportReport",
    "FrameEntry",
    "ReportedExport",
    "export_with_report",
    "load_report",
    "report_from_dict",
    "report_paths",
    "summary_lines",
    "write_report",
]

JSON_SUFFIX, PLOT_SUFFIX = ".report.json", ".report.png"


def build_report(
    settings: ExportSettings, plan: Plan, records: dict[float, SynthesisRecord], min_confidence: float | None
) -> ExportReport:
    """One :class:`FrameEntry` per planned output frame, with the scores ``records`` hold by time."""
    rate = float(plan.rate)
    entries = []
    for frame in plan.frames:
        record = records.get(frame.time) if frame.source is None else None
        entries.append(
            FrameEntry(
                index=frame.index,
                time=float(frame.time),
                output_time=frame.index / rate,
                kind="synthesized" if frame.source is None else ("held" if frame.held else "real"),
                source=frame.source,
                anchors=tuple(frame.anchors),
                anchor_times=() if record is None else record.anchor_times,
                score=None if record is None else record.score,
                fallback=None if record is None else record.fallback,
                held_time=None if record is None else record.held_time,
            )
        )
    source = str(Path(settings.input_path).absolute())
    return ExportReport(source, str(Path(settings.output_path).absolute()), rate, min_confidence, entries)


def report_paths(output: str | Path) -> tuple[Path, Path]:
    """The JSON sidecar and the plot beside ``output`` (a file, or a PNG-sequence folder)."""
    path = Path(output)
    return path.with_name(path.name + JSON_SUFFIX), path.with_name(path.name + PLOT_SUFFIX)


def write_report(report: ExportReport, output: str | Path) -> tuple[Path, Path]:
    """Write the JSON sidecar and the plot beside ``output``, each atomically; on failure
    neither is left and :class:`OutputError` says why."""
    targets = report_paths(output)
    temps = [temporary_name(target) for target in targets]
    try:
        temps[0].write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
        draw_score_plot(report).save(temps[1], format="PNG")
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    except OSError as err:
        for path in (*temps, *targets):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise OutputError(f"The export report could not be written beside {output}: {describe(err)}.") from None
    return targets


def remove_report(output: str | Path) -> None:
    """Remove the sidecars beside ``output`` (an earlier export's), if any."""
    for path in report_paths(output):
        with contextlib.suppress(OSError):
            if path.is_file():
                path.unlink()


@dataclass
class ReportedExport:
    """An export's result, its report (None with ``report=False``) and the files written for it."""

    result: ExportResult
    report: ExportReport
    files: tuple[Path, ...] = ()


def export_with_report(
    settings: ExportSettings,
    interpolator: Any,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    *,
    report: bool = True,
    min_confidence: float | None = None,
) -> ReportedExport:
    """:func:`~tempo_core.video.engine.run_export` with scores, the safety net below
    ``min_confidence`` (None: off) and, with ``report``, the sidecar and plot beside the output.

    Raises what ``run_export`` raises (nothing is written then). A report that cannot be written
    is a note in the result (the video is complete and stays), and no part of it is left."""
    model = ScoringModel(interpolator, min_confidence)
    result = run_export(settings, model, progress=progress, cancel=cancel)
    if result.plan is None:
        raise OutputError("The export gave no frame plan to report on.")
    exported = build_report(settings, result.plan, model.records, min_confidence)
    exported.output = str(result.output_path)
    if not report:
        remove_report(result.output_path)
        return ReportedExport(result, exported)
    try:
        files = write_report(exported, result.output_path)
    except OutputError as err:
        result.notes.append(str(err))
        return ReportedExport(result, exported)
    return ReportedExport(result, exported, files)


def summary_lines(exported: ReportedExport) -> list[str]:
    """The CLI's lines about the report: the five worst times, the safety net, the files."""
    report, lines = exported.report, []
    worst = report.worst()
    if worst:
        times = ", ".join(f"{f.time:.3f} s ({f.score:.2f})" for f in worst)
        lines.append(f"worst synthesized frames (source time, score): {times}")
    if report.min_confidence is not None:
        replaced = report.replaced
        holds = sum(f.fallback == "hold" for f in replaced)
        lines.append(
            f"safety net (score < {report.min_confidence:g}): {len(replaced)} of {len(report.synthesized)} "
            f"synthesized frames replaced ({holds} held, {len(replaced) - holds} blended)"
        )
    if exported.files:
        lines.append(f"report: {exported.files[0]} and {exported.files[1].name}")
    return lines
