"""``tempo interpolate``: slow motion and frame-rate conversion of a video file.

Examples::

    tempo interpolate clip.mp4 -o clip_60fps.mp4 --fps 60
    tempo interpolate clip.mp4 -o clip_x2.mp4 --factor 2
    tempo interpolate clip.mp4 -o clip_slow.mov --slowmo 4 --codec prores --start 1.5 --end 3

A progress line shows frames done, speed and time left. Ctrl-C cancels cleanly (nothing is
left behind; exit code 130). The exit code is 0 only when the output was written.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from tempo_core.errors import Cancelled
from tempo_core.video.engine import CancelToken, ExportSettings, Progress, run_export, validate
from tempo_core.video.scenecut import DEFAULT_THRESHOLD
from tempo_core.video.writer import CODECS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="the source video (never modified)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (.mp4/.mov/.mkv), or a folder for --codec png",
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
    parser.add_argument("--crf", type=int, default=18, help="quality for h264/hevc, lower is better (default 18)")
    parser.add_argument("--checkpoint", default=None, help="model .safetensors file (default: the bundled model)")
    parser.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: the best available)")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
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
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def settings_from_args(args: argparse.Namespace) -> ExportSettings:
    if args.factor is not None:
        mode, value = "factor", args.factor
    elif args.fps is not None:
        mode, value = "fps", args.fps
    else:
        mode, value = "slowmo", args.slowmo
    return ExportSettings(
        input_path=args.input,
        output_path=args.output,
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
    )


def load_interpolator(args: argparse.Namespace):
    from tempo_core.inference import Interpolator, resolve_device

    device = resolve_device(args.device)
    precision = args.precision or ("bf16" if device.type == "cuda" else "fp32")
    return Interpolator.from_checkpoint(args.checkpoint, device=device, precision=precision)


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


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    validate(settings)  # cheap refusals (existing output, bad folder) before loading the model
    interpolator = load_interpolator(args)
    token = CancelToken()
    line = ProgressLine(enabled=not args.quiet)

    def on_interrupt(signum, frame) -> None:
        token.cancel()  # the engine stops at the next frame and removes its temporary output

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        if not args.quiet:
            print(
                f"tempo interpolate: {settings.input_path} on {interpolator.device_name}",
                file=sys.stderr,
            )
        result = run_export(settings, interpolator, progress=line, cancel=token)
    except Cancelled:
        line.end()
        print("tempo interpolate: cancelled; no output was written.", file=sys.stderr)
        return 130
    except BaseException:
        line.end()  # the dispatcher prints the error on a line of its own
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    line.end()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"wrote {result.output_path}: {result.frames_written} frames "
        f"({result.synthesized} synthesized, {result.held_at_cuts} held at scene cuts), "
        f"audio {result.audio}, {result.seconds:.1f} s"
    )
    return 0
