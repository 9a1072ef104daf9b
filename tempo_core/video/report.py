"""The export report: one record per output frame, a JSON sidecar and a plot beside the output.

:func:`tempo_core.video.engine.run_export` scores every synthesized frame (and applies the
safety net when ``min_confidence`` is set, :class:`~tempo_core.video.safety_net.SafetyNet`) and,
with ``report``, once the output is in place, writes beside it (:func:`finish_report`):

* ``OUTPUT.report.json``: per output frame its index, source time (``time``, seconds), output
  time, kind ("real", "held" at a scene cut or past the clip's ends, or "synthesized"), the
  source frames it comes from (``source`` or ``anchors`` with ``anchor_times``), the frame
  score (:func:`tempo_core.frame_score.frame_score`, synthesized frames only) and the safety
  net's ``fallback`` ("hold", "blend" or null); the five worst times;
* ``OUTPUT.report.png``: the score along the clip, worst frames marked
  (:mod:`tempo_core.video.report_plot`).

Both go through the safe-output path (:mod:`tempo_core.output_paths`), as the video does:
checked before the export starts (:func:`check_report_targets`: never the source or another
input, never a file already there without ``overwrite``), written to hidden temporary names and
moved into place only after the export succeeded, so a cancelled or failed export leaves
neither, and a report that cannot be written leaves what was at those names as it was. An export
without a report touches no sidecar: one an earlier export left is kept, with a note. A name too
long for its sidecar (over 255 bytes with ``.report.json``) gets no report, with a note.
The records themselves (:class:`FrameEntry`, :class:`ExportReport`) and reading a sidecar back
(:func:`load_report`) live in :mod:`tempo_core.video.report_records`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tempo_core import output_paths
from tempo_core.errors import OutputError, describe
from tempo_core.video.export_settings import ExportResult, ExportSettings
from tempo_core.video.report_plot import draw_score_plot
from tempo_core.video.report_records import ExportReport, FrameEntry, load_report, report_from_dict
from tempo_core.video.safety_net import SynthesisRecord
from tempo_core.video.timeline import Plan

__all__ = [
    "ExportReport",
    "FrameEntry",
    "check_report_targets",
    "finish_report",
    "load_report",
    "report_from_dict",
    "report_paths",
    "report_state",
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


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def reportable(output: str | Path) -> bool:
    """False when a sidecar's name would be longer than the folder allows (a 250-byte output name)."""
    path = Path(output)
    limit = _name_max(path.absolute().parent if path.absolute().parent.is_dir() else Path("."))
    return all(len(os.fsencode(target.name)) <= limit for target in report_paths(path))


def check_report_targets(settings: ExportSettings, report: bool = True) -> None:
    """Refuse, before the export starts, report names that are the source or another input of
    the run, a folder, a link leading nowhere, or an existing file without ``--overwrite``."""
    if not report or not reportable(settings.output_path):
        return
    for target in report_paths(settings.output_path):
        output_paths.check_file_target(
            target,
            overwrite=settings.overwrite,
            inputs=settings.inputs,
            source=settings.input_path,
            what="export report",
            hint="pass --overwrite to replace it, or --report none",
        )


def write_report(
    report: ExportReport,
    output: str | Path,
    *,
    overwrite: bool = False,
    expected: tuple[output_paths.Identity | None, ...] | None = None,
) -> tuple[Path, Path]:
    """Write the JSON sidecar and the plot beside ``output``, each to a temporary name then moved
    into place (:func:`~tempo_core.output_paths.place`): what is at those names is
    replaced only with ``overwrite`` and only when it is what was there at the start
    (``expected``; default: now). On failure the temporaries go, whatever was at the names
    stays, and :class:`OutputError` says why."""
    targets = report_paths(output)
    expected = expected or tuple(output_paths.identity(target) for target in targets)
    temps: list[Path] = []
    try:
        temps = [output_paths.create_staged_file(target) for target in targets]
        temps[0].write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
        draw_score_plot(report).save(temps[1], format="PNG")
        for temp, target, was in zip(temps, targets, expected, strict=True):
            output_paths.place(temp, target, overwrite=overwrite, expected=was)
    except OSError as err:
        raise OutputError(f"The export report could not be written beside {output}: {describe(err)}.") from None
    finally:
        for temp in temps:
            output_paths.discard(temp)
    return targets


def report_state(settings: ExportSettings, report: bool) -> tuple[output_paths.Identity | None, ...]:
    """Before an export: refuse report names it must not write (:func:`check_report_targets`)
    and note what is at them now (the report replaces only that, with ``overwrite``)."""
    check_report_targets(settings, report)
    return tuple(output_paths.identity(target) for target in report_paths(settings.output_path))


def finish_report(
    settings: ExportSettings,
    result: ExportResult,
    records: dict[float, SynthesisRecord],
    min_confidence: float | None,
    *,
    report: bool,
    expected: tuple[output_paths.Identity | None, ...],
) -> None:
    """After an export: ``result.report`` built from the plan and the safety net's ``records``
    and, with ``report``, written beside the output (``result.report_files``). A report that
    cannot be written is a note in the result (the video is complete and stays), and what was
    at its names stays as it was; without ``report`` an earlier export's report is kept, with a
    note."""
    if result.plan is None:
        raise OutputError("The export gave no frame plan to report on.")
    result.report = build_report(settings, result.plan, records, min_confidence)
    result.report.output = str(result.output_path)
    targets = report_paths(settings.output_path)
    if not report:
        if any(os.path.lexists(target) for target in targets):
            result.notes.append(
                f"{targets[0].name} beside the output is an earlier export's report and was left as it was."
            )
        return
    if not reportable(result.output_path):
        result.notes.append(
            f"No export report was written: {targets[0].name[:40]}... would be a name longer than the folder allows."
        )
        return
    try:
        result.report_files = write_report(
            result.report, result.output_path, overwrite=settings.overwrite, expected=expected
        )
    except OutputError as err:
        result.notes.append(str(err))


def summary_lines(result: ExportResult) -> list[str]:
    """The CLI's lines about the report: the five worst times, the safety net, the files."""
    report, lines = result.report, []
    if report is None:
        return lines
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
    if result.report_files:
        lines.append(f"report: {result.report_files[0]} and {result.report_files[1].name}")
    return lines
