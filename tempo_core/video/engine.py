"""The export engine: a clip in, a smoother or slower clip out. Qt-free; the CLI and app call it.

:func:`run_export` checks the settings and the output location, opens the clip (refusing frames
too large for the memory at hand, :mod:`tempo_core.video.limits`), detects scene cuts
(:mod:`tempo_core.video.scenecut`), plans the output timeline (:mod:`tempo_core.video.timeline`),
and hands the jobs to an :class:`~tempo_core.video.pipeline.ExportPipeline`: a decoder thread, the
model on the calling thread, and a writer thread (:class:`tempo_core.video.writer.VideoWriter`).

Frames that fall on a real frame are that frame, unchanged: the decoded source frame goes to
the encoder as it is, so it is encoded exactly as a plain re-encode would encode it. Colour is
kept (:mod:`tempo_core.video.colour`): the source's matrix, range, primaries and transfer, and
its bit depth where the codec carries it; the network sees 16-bit RGB and gives float RGB.
Repeated frames (animation on twos, stalls) are found during the scene-cut scan and made from
the motion between distinct frames (:mod:`tempo_core.video.duplicates`) unless
``keep_duplicates``. Cancel or failure removes the temporary output: nothing half-written is
ever left, and the source is never touched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import av
import numpy as np

from tempo_core.errors import Cancelled, InputError, OutputError
from tempo_core.frame_sizes import EXPORT_TILING_PIXELS
from tempo_core.output_paths import check_not_an_input
from tempo_core.video.colour import Colour
from tempo_core.video.duplicates import THUMB_SIZE, RepeatFinder, plan_without_repeats, repeats_replaced
from tempo_core.video.export_settings import ExportResult, ExportSettings
from tempo_core.video.limits import check_frame_size, check_output_frames, export_bytes_per_pixel
from tempo_core.video.pipeline import CancelToken, ExportPipeline, FrameModel, Job, Progress, Synthesized, make_jobs
from tempo_core.video.reader import VideoInfo, VideoReader
from tempo_core.video.report import finish_report, report_state
from tempo_core.video.safety_net import SafetyNet
from tempo_core.video.scenecut import cut_scores, detect_cuts
from tempo_core.video.timeline import MODES, Plan, plan_output, snap_tolerance
from tempo_core.video.writer import CODECS, VideoWriter, check_output_path

__all__ = [
    "CancelToken",
    "ExportResult",
    "ExportSettings",
    "Job",
    "Progress",
    "detect_scene_cuts",
    "make_jobs",
    "run_export",
    "tile_for",
    "validate",
]

LARGE_FRAME_PIXELS = EXPORT_TILING_PIXELS  # above this, synthesize in tiles unless a tile size is given
AUTO_TILE = 1024
_QUEUE_DEPTH = 3


def validate(settings: ExportSettings) -> None:
    """Refuse impossible settings before any file is opened."""
    if settings.mode not in MODES:
        raise InputError(f"Unknown mode {settings.mode!r}; use one of {', '.join(MODES)}.")
    if settings.anchors not in (2, 4):
        raise InputError(f"The number of anchors must be 2 or 4, not {settings.anchors}.")
    if settings.codec not in CODECS:
        raise InputError(f"Unknown codec {settings.codec!r}; use one of {', '.join(CODECS)}.")
    if settings.batch_size < 1:
        raise InputError("The batch size must be at least 1.")
    if settings.tile is not None and settings.tile < 1:
        raise InputError(f"The tile size must be a positive number of pixels, not {settings.tile}.")
    check_output_path(Path(settings.output_path), settings.codec, settings.overwrite, Path(settings.input_path))
    check_not_an_input(settings.output_path, settings.inputs)


def detect_scene_cuts(
    reader: VideoReader, start: int, stop: int, threshold: float, cancel: CancelToken | None
) -> list[int]:
    """Source frame indices in ``[start, stop)`` that begin a new scene."""
    return scan_source(reader, start, stop, threshold, False, cancel)[0]


def scan_source(
    reader: VideoReader, start: int, stop: int, threshold: float, repeats: bool, cancel: CancelToken | None
) -> tuple[list[int], list[int]]:
    """One decode of ``[start, stop)``: the frames that begin a new scene (none when
    ``threshold`` >= 1) and, when ``repeats``, the frames that repeat the one before them."""
    cuts_wanted = threshold < 1.0
    if stop - start < 2 or not (cuts_wanted or repeats):
        return [], []
    finder = RepeatFinder()
    sizes = (32, THUMB_SIZE) if repeats else (32,)

    def thumbs() -> Iterator[np.ndarray]:
        for index, small in reader.iter_thumbnails(start, stop, sizes):
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            if repeats:
                finder.add(index, small[1])
            yield small[0].astype(np.float32) / 255.0

    scores = cut_scores(thumbs())
    cuts = [start + i for i in detect_cuts(scores, threshold)] if cuts_wanted else []
    return cuts, finder.finish() if repeats else []


def tile_for(settings: ExportSettings, model: object, pixels: int, notes: list[str]) -> int | None:
    """The tile size for this export's ``model.encode`` calls: the one asked for, else
    :data:`AUTO_TILE` for frames above 4K when the model does not tile already (with a note),
    else None (the model's own setting)."""
    if settings.tile is not None:
        return int(settings.tile)
    if getattr(model, "tile", None) is None and pixels > LARGE_FRAME_PIXELS:
        notes.append(f"Frames larger than 4K are synthesized in {AUTO_TILE}-pixel tiles.")
        return AUTO_TILE
    return None


def expected_output_frames(settings: ExportSettings, reader: VideoReader) -> float:
    """About how many frames the settings ask for (before planning them)."""
    first = float(reader.frame_times[0])
    start = first if settings.start is None else float(settings.start)
    end = first + reader.info.duration if settings.end is None else float(settings.end)
    span = max(0.0, end - start) if math.isfinite(end - start) else math.inf
    value, rate = float(settings.value), float(reader.rate)
    if settings.mode == "times":
        return float(len(settings.times or ()))
    if not (math.isfinite(value) and value > 0):
        return 0.0  # plan_output refuses it with its own sentence
    return span * {"factor": rate * value, "fps": value, "slowmo": rate * value}[settings.mode]


def _plan(settings: ExportSettings, reader: VideoReader, cuts: list[int], repeats: list[int]) -> Plan:
    times = reader.frame_times
    tolerance = snap_tolerance(reader.time_base, times, reader.rate)

    def plan(frame_times: np.ndarray, frame_cuts: list[int], last_duration: float) -> Plan:
        return plan_output(
            frame_times,
            settings.mode,
            settings.value,
            source_rate=reader.rate,
            last_duration=last_duration,
            start=settings.start,
            end=settings.end,
            anchors=settings.anchors,
            cuts=frame_cuts,
            tolerance=tolerance,
            times=settings.times,
        )

    last_duration = reader.info.duration - float(times[-1] - times[0])
    if not repeats:
        return plan(times, cuts, last_duration)
    return plan_without_repeats(times, repeats, cuts, last_duration, plan)


def _scan_range(settings: ExportSettings, times: np.ndarray) -> tuple[int, int]:
    """Source frames to scan for cuts: the range asked for, three frames wider on each side."""
    lo = max(0, int(np.searchsorted(times, settings.start or times[0])) - 3)
    hi = len(times) if settings.end is None else int(np.searchsorted(times, settings.end)) + 3
    return lo, min(hi, len(times))


def _audio_plan(settings: ExportSettings, info: VideoInfo, plan: Plan, notes: list[str]) -> bool:
    """Whether the audio is copied; a note says why when it is dropped."""
    same_timing = settings.mode in ("factor", "fps") or not plan.duration_changed
    same_timing = same_timing and settings.mode != "times"
    copy_audio = info.has_audio and same_timing and settings.codec != "png"
    if info.has_audio and not copy_audio:
        if settings.codec == "png":
            why = "a PNG sequence holds no audio"
        elif settings.mode == "slowmo":
            why = "slow motion changes the duration"
        else:
            why = "explicit times change the timing"
        notes.append(f"The audio was dropped: {why}.")
    return copy_audio


def _open_writer(
    settings: ExportSettings, info: VideoInfo, plan: Plan, copy_audio: bool, colour: Colour
) -> VideoWriter:
    return VideoWriter(
        settings.output_path,
        rate=plan.rate,
        width=info.width,
        height=info.height,
        codec=settings.codec,
        quality=settings.quality,
        overwrite=settings.overwrite,
        audio_source=settings.input_path if copy_audio else None,
        audio_start=plan.start,
        audio_end=plan.end,
        source=settings.input_path,
        colour=colour,
        source_rate=info.fps,
    )


HEVC_MIN_SIDE = 16  # x265 refuses smaller frames ("invalid argument"; 14 fails, 16 works)
CRF_RANGE = (0, 51)  # x264's and x265's crf


def check_encodable(codec: str, width: int, height: int, colour: Colour) -> None:
    """Refuse, before anything is written, a frame size the chosen encoder cannot take:
    HEVC below :data:`HEVC_MIN_SIDE` pixels a side, FFV1 of a chroma-subsampled source whose
    chroma would be under 2 pixels wide (a 2- or 3-pixel-wide 4:2:0 clip)."""
    size = f"{width} x {height}"
    if codec == "hevc" and min(width, height) < HEVC_MIN_SIDE:
        raise OutputError(
            f"HEVC needs frames at least {HEVC_MIN_SIDE} pixels on a side and this clip's are {size}; "
            "use --codec h264, ffv1 or png."
        )
    if codec == "ffv1" and not colour.is_rgb:
        try:
            chroma = av.VideoFormat(colour.pix_fmt, width, height).chroma_width()
        except (ValueError, av.FFmpegError):
            return
        if chroma < 2 and len(av.VideoFormat(colour.pix_fmt).components) >= 3:
            raise OutputError(
                f"FFV1 cannot store this clip's {colour.pix_fmt} colour at {size} pixels; use --codec png or h264."
            )


def quality_notes(settings: ExportSettings) -> list[str]:
    """A note when ``--crf`` lies outside the encoders' range and is clamped (H.264, HEVC)."""
    low, high = CRF_RANGE
    if settings.codec not in ("h264", "hevc") or low <= settings.quality <= high:
        return []
    used = min(max(settings.quality, low), high)
    return [f"--crf {settings.quality} lies outside {low}-{high}, the encoder's range; crf {used} was used."]


def run_export(
    settings: ExportSettings,
    interpolator: FrameModel,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    on_job: Callable[[Job, Sequence[Synthesized] | None], None] | None = None,
    *,
    report: bool = False,
    min_confidence: float | None = None,
) -> ExportResult:
    """Run one export (see the module docstring): the one entry of the CLI, the app and scripts.

    Every synthesized frame is scored and, below ``min_confidence`` (None: off), replaced by the
    safety net's fallback (:class:`~tempo_core.video.safety_net.SafetyNet`); ``result.report``
    holds every output frame's record, and with ``report`` the sidecar and plot are written
    beside the output (:func:`~tempo_core.video.report.finish_report`; their names are checked
    before the export starts). Raises Cancelled, MediaError, OutputError, InputError or
    ModelError, each with one plain sentence, and leaves no output behind then. ``on_job`` sees
    every job and the frames written for it (:class:`~tempo_core.video.pipeline.ExportPipeline`)."""
    began = time.monotonic()
    cancel = cancel or CancelToken()
    validate(settings)
    safety_net = SafetyNet(min_confidence)
    report_was = report_state(settings, report)
    notes: list[str] = []
    # real frames go to the writer as decoded; a PNG then converts them as the viewer does
    with VideoReader(settings.input_path, cache_size=16, deep=True, keep_source=True) as reader:
        info = reader.info
        pixels = info.width * info.height
        check_frame_size(Path(info.path).name, info.width, info.height, export_bytes_per_pixel(settings.anchors))
        check_output_frames(expected_output_frames(settings, reader))
        find_repeats = not settings.keep_duplicates and settings.mode != "times"
        lo, hi = _scan_range(settings, reader.frame_times)
        cuts, repeats = scan_source(reader, lo, hi, settings.scene_threshold, find_repeats, cancel)
        plan = _plan(settings, reader, cuts, repeats)
        copy_audio = _audio_plan(settings, info, plan, notes)
        check_encodable(settings.codec, info.width, info.height, reader.colour)
        notes.extend(quality_notes(settings))
        if cancel.cancelled:
            raise Cancelled()
        large = pixels > LARGE_FRAME_PIXELS
        with _open_writer(settings, info, plan, copy_audio, reader.colour) as writer:
            pipeline = ExportPipeline(
                reader=reader,
                writer=writer,
                model=interpolator,
                jobs=make_jobs(plan, 1 if large else settings.batch_size),
                total=len(plan.frames),
                cancel=cancel,
                progress=progress,
                tile=tile_for(settings, interpolator, pixels, notes),
                depth=1 if large else _QUEUE_DEPTH,
                on_job=on_job,
                review=safety_net.review,
            )
            pipeline.run()
            if cancel.cancelled:
                raise Cancelled()
            path = writer.finish()
    notes.extend(writer.notes)
    audio = writer.audio if writer.audio == "copied" else ("dropped" if info.has_audio else "none")
    result = ExportResult(
        output_path=path,
        frames_written=writer.frames_written,
        synthesized=plan.synthesized,
        held_at_cuts=plan.held_at_cuts,
        audio=audio,
        seconds=time.monotonic() - began,
        notes=notes,
        cuts=cuts,
        duplicates_replaced=repeats_replaced(plan, reader.frame_times, repeats),
        colour=reader.colour.describe(),
        plan=plan,
    )
    finish_report(settings, result, safety_net.records, min_confidence, report=report, expected=report_was)
    return result
