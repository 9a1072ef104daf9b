"""``tempo interpolate``: slow motion and frame-rate conversion of a video file.

Examples::

    tempo interpolate clip.mp4 -o clip_60fps.mp4 --fps 60
    tempo interpolate clip.mp4 -o clip_x2.mp4 --factor 2
    tempo interpolate clip.mp4 -o clip_slow.mov --slowmo 4 --codec prores --start 1.5 --end 3
    tempo interpolate a.mp4 b.mov shots/ -o out/ --factor 2     (a batch: see batch.py)

Colour tags, bit depth (HEVC, ProRes, FFV1) and the copied real frames are kept; repeated frames
(animation on twos, stalls) are made from the true motion unless ``--keep-duplicates``.

A progress line shows frames done, speed and time left. Ctrl-C (SIGINT) and SIGTERM cancel
cleanly: nothing is left behind, exit code 130 or 143 (128 + the signal number). A run killed
outright leaves a hidden ``.tempo-<pid>-<hex>.partial`` folder (marked as TEMPO's) that the
next run writing in that folder removes. No file is written over an input of the run (the
source, a batch's other clips), and none that exists without ``--overwrite`` (the report's
too). The exit code is 0 only when the output was written.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from tempo_core.commands.batch import BatchItem, batch_outputs, expand_inputs, is_batch, summary_line
from tempo_core.errors import Cancelled, TempoError
from tempo_core.inference.settings import PRECISION_NAMES, SCALE_CHOICES
from tempo_core.video.engine import CancelToken, ExportResult, ExportSettings, Progress, run_export, validate
from tempo_core.video.reader import check_video_header
from tempo_core.video.report import check_report_targets, summary_lines
from tempo_core.video.safety_net import check_min_confidence
from tempo_core.video.scenecut import DEFAULT_THRESHOLD
from tempo_core.video.writer import CODECS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="+", metavar="input", help="source video(s) or folder(s) of videos (never modified)"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (.mp4/.mov/.mkv), a folder for --codec png, or OUTDIR/ for several inputs",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--factor", type=float, help="K x the frame rate, same duration")
    mode.add_argument("--fps", type=float, help="any output frame rate, same duration (24 -> 60)")
    mode.add_argument("--slowmo", type=float, help="K x the duration at the source frame rate")
    parser.add_argument("--start", type=float, default=None, help="start of the range (seconds)")
    parser.add_argument("--end", type=float, default=None, help="end of the range (seconds)")
    parser.add_argument(
        "--anchors",
        type=int,
        choices=(2, 4),
        default=2,
        help="real frames used per synthesized frame (default 2)",
    )
    parser.add_argument(
        "--codec",
        choices=tuple(CODECS),
        default="h264",
        help="h264 (default), hevc, prores, ffv1 (lossless) or png (folder)",
    )
    parser.add_argument(
        "--crf",
        type=int,
        default=18,
        help="quality for h264/hevc, lower is better (default 18): each frame keeps the quality of a re-encode "
        "of the source at this crf, so a higher frame rate makes a larger file",
    )
    parser.add_argument("--checkpoint", default=None, help="model .safetensors file (default: the bundled model)")
    parser.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: the best available)")
    parser.add_argument(
        "--precision",
        choices=PRECISION_NAMES,
        default=None,
        help="default bf16 on CUDA, else fp32",
    )
    parser.add_argument(
        "--scene-threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="scene-cut sensitivity (lower finds more cuts; 1 turns it off)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="target times per batch")
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="synthesize in tiles of this many pixels (for very large frames)",
    )
    parser.add_argument(
        "--scale",
        choices=SCALE_CHOICES,
        default="auto",
        help="processing scale: 0.5 runs the learned network on the frames halved, the motion search and the "
        "pixels staying at full size (about 2x faster at 720p); auto (default): on a CPU for frames over "
        "0.6 megapixels (720p and larger); 1: the whole network at full size",
    )
    parser.add_argument(
        "--keep-duplicates",
        action="store_true",
        help="keep repeated frames as they are (default: make them from the true motion)",
    )
    parser.add_argument(
        "--report",
        choices=("json", "none"),
        default="json",
        help="json (default): a frame-by-frame report (OUTPUT.report.json) and a score plot (OUTPUT.report.png) "
        "beside the output; none: no report",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        metavar="X",
        help="replace a synthesized frame whose score (0-1) is below X by the better of holding the nearest real "
        "frame or a plain blend (listed in the report)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def settings_from_args(
    args: argparse.Namespace, source: str | Path, output: str | Path, inputs: tuple[Path, ...] = ()
) -> ExportSettings:
    """The export settings for one ``source`` -> ``output`` pair; ``inputs``: the batch's other
    clips (never written)."""
    mode, value = _mode(args)
    return ExportSettings(
        input_path=source,
        output_path=output,
        mode=mode,
        value=value,
        codec=args.codec,
        quality=args.crf,
        start=args.start,
        end=args.end,
        anchors=args.anchors,
        overwrite=args.overwrite,
        scene_threshold=args.scene_threshold,
        batch_size=args.batch_size,
        tile=args.tile,
        keep_duplicates=args.keep_duplicates,
        inputs=tuple(inputs),
    )


def load_interpolator(args: argparse.Namespace):
    from tempo_core.inference import Interpolator, resolve_device

    device = resolve_device(args.device)
    precision = args.precision or ("bf16" if device.type == "cuda" else "fp32")
    return Interpolator.from_checkpoint(args.checkpoint, device=device, precision=precision, scale=args.scale)


class ProgressLine:
    """One self-overwriting status line on stderr: frames, speed, time left."""

    def __init__(self, stream=None, enabled: bool = True) -> None:
        self._stream = stream  # None: whatever sys.stderr is when a line is written
        self.enabled = enabled
        self._last = 0.0

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stderr

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and progress.done < progress.total):
            return
        self._last = now
        width = 24
        filled = int(width * progress.done / max(1, progress.total))
        eta = "--:--" if progress.eta_s is None else _clock(progress.eta_s)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r[{bar}] {progress.done}/{progress.total} frames  {progress.fps:5.1f} fps  ETA {eta}")
        self.stream.flush()

    def end(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{hours}:{minutes}" if hours else minutes


class StopSignals:
    """While active, SIGINT and SIGTERM cancel ``token`` instead of killing the process (the
    engine then stops at the next frame and removes its temporary output). ``received`` is
    the signal that did, for the exit code."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, token: CancelToken) -> None:
        self.token = token
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _on_signal(self, signum: int, frame: object) -> None:
        self.received = self.received or signum
        self.token.cancel()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    @property
    def exit_code(self) -> int:
        """128 + the signal number (130 for Ctrl-C, 143 for SIGTERM); 130 when cancelled otherwise."""
        return 128 + (self.received or signal.SIGINT)


def run(args: argparse.Namespace) -> int:
    check_min_confidence(args.min_confidence)
    if is_batch(args.inputs, args.output, args.codec):
        return _run_batch(args)
    settings = settings_from_args(args, args.inputs[0], args.output)
    validate(settings)  # cheap refusals (existing output, bad folder) before loading the model
    check_report_targets(settings, args.report == "json")  # the report's names, checked as the video's
    check_video_header(settings.input_path)  # and a source that cannot be read, from its header
    token = CancelToken()
    with StopSignals(token) as signals:
        return _export(args, settings, token, signals)


def result_lines(result: ExportResult) -> list[str]:
    """What one export did: the written file, then the source colour and the duplicates."""
    lines = [
        f"wrote {result.output_path}: {result.frames_written} frames "
        f"({result.synthesized} synthesized, {result.held_at_cuts} held at scene cuts), "
        f"audio {result.audio}, {result.seconds:.1f} s"
    ]
    if result.colour:
        lines.append(f"source colour {result.colour}: matrix, range, primaries and transfer kept")
    if result.duplicates_replaced:
        lines.append(
            f"{result.duplicates_replaced} duplicate frames replaced (made from the motion between distinct frames)"
        )
    return lines


def _run_batch(args: argparse.Namespace) -> int:
    """Export every clip of a batch with one model; go on after a failure (see batch.py)."""
    sources = expand_inputs(args.inputs)
    items = batch_outputs(sources, Path(args.output), *_mode(args), args.codec)
    for item in items:  # every output checked against every input before anything is written
        _check_batch_item(args, item, tuple(sources))
    token = CancelToken()
    with StopSignals(token) as signals:
        interpolator = load_interpolator(args) if any(item.status == "pending" for item in items) else None
        for number, item in enumerate(items, 1):
            if item.status != "pending":
                continue
            if token.cancelled:
                item.status = "not started"
                continue
            if not args.quiet:
                print(f"tempo interpolate [{number}/{len(items)}]: {item.source}", file=sys.stderr)
            _batch_item(args, item, interpolator, token)
    for item in items:
        print(summary_line(item))
    if token.cancelled:
        return signals.exit_code
    return 1 if any(item.status != "ok" for item in items) else 0


def _check_batch_item(args: argparse.Namespace, item: BatchItem, sources: tuple[Path, ...]) -> None:
    """Refuse, before the model loads, an item whose output or report would be the source,
    another clip of the batch, or an existing file without --overwrite: it is listed FAILED."""
    item.inputs = tuple(source for source in sources if source != item.source)
    try:
        settings = settings_from_args(args, item.source, item.output, item.inputs)
        validate(settings)
        check_report_targets(settings, args.report == "json")
    except TempoError as err:
        item.status, item.message = "failed", str(err)
        print(f"tempo interpolate: {item.source.name}: {item.message}", file=sys.stderr)


def _batch_item(args: argparse.Namespace, item: BatchItem, interpolator, token: CancelToken) -> None:
    line = ProgressLine(enabled=not args.quiet)
    try:
        settings = settings_from_args(args, item.source, item.output, item.inputs)
        validate(settings)
        check_video_header(settings.input_path)
        result = run_export(  # checks the report's names first, as _check_batch_item did before the model loaded
            settings, interpolator, line, token, report=args.report == "json", min_confidence=args.min_confidence
        )
    except Cancelled:
        item.status, item.message = "cancelled", "stopped; no output was written"
    except TempoError as err:
        item.status, item.message = "failed", str(err)
    else:
        item.status = "ok"
        item.message = f"{result.frames_written} frames ({result.synthesized} synthesized)"
        if result.duplicates_replaced:
            item.message += f", {result.duplicates_replaced} duplicate frames replaced"
    finally:
        line.end()
    if item.status == "failed":
        print(f"tempo interpolate: {item.source.name}: {item.message}", file=sys.stderr)


def _mode(args: argparse.Namespace) -> tuple[str, float]:
    if args.factor is not None:
        return "factor", args.factor
    if args.fps is not None:
        return "fps", args.fps
    return "slowmo", args.slowmo


def _export(args: argparse.Namespace, settings: ExportSettings, token: CancelToken, signals: StopSignals) -> int:
    interpolator = load_interpolator(args)
    line = ProgressLine(enabled=not args.quiet)
    try:
        if not args.quiet:
            print(
                f"tempo interpolate: {settings.input_path} on {interpolator.device_name}",
                file=sys.stderr,
            )
        result = run_export(
            settings, interpolator, line, token, report=args.report == "json", min_confidence=args.min_confidence
        )
    except Cancelled:
        line.end()
        how = "stopped by SIGTERM" if signals.received == signal.SIGTERM else "cancelled"
        print(f"tempo interpolate: {how}; no output was written.", file=sys.stderr)
        return signals.exit_code
    except BaseException:
        line.end()  # the dispatcher prints the error on a line of its own
        raise
    line.end()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for text in result_lines(result):
        print(text)
    for text in summary_lines(result):
        print(text)
    return 0
