"""TEMPO against ffmpeg's minterpolate on a real clip, same run: wall time and quality of x2.

**Rebuild mode** (the default). The first ``--seconds`` of CLIP (an odd number of frames, so the
range ends on a kept frame) are cut to every other frame: a half-rate source, written losslessly
in a temporary folder before anything is timed (FFV1 in AVI, the clip's own pixel format, so a
kept frame is bit-exact; AVI's time base is the frame rate, so every timestamp is exact, where
Matroska's milliseconds put frames up to 0.5 ms off and minterpolate then blends even the kept
ones; AVI carries no colour tags, so every file of the rebuild is read with the same guess, the
tags' own values for a BT.709 limited-range 720p clip). Both methods turn it back into the
clip's rate:

* TEMPO through :func:`tempo_core.video.engine.run_export` as ``tempo interpolate --factor 2``
  runs it (scene cuts, repeated frames, precision as the CLI; no report file): the bundled
  default model, unless ``--checkpoint FILE`` or ``--preset NAME`` (random weights);
* ``minterpolate=fps=RATE:mi_mode=mci:mc_mode=aobmc:me_mode=bidir`` in-process through PyAV's
  bundled libavfilter (no ffmpeg binary needed), at the clip's rate.

Each is timed from opening the source to closing its output (decode + interpolate + encode; wall
time, and the process's CPU time, steadier on a busy machine), both writing FFV1 (lossless: no
encoding loss in the scores) through :class:`tempo_core.video.writer.VideoWriter` with the
source's colour. Each output is then decoded with :class:`~tempo_core.video.reader.VideoReader`,
its frames matched to clip frames by time (TEMPO: the export plan's source time of each output
frame; minterpolate: the filter's output timestamps) and scored against the clip's frames, read
back from a lossless copy of the range (so every image goes through the same decoder and RGB
conversion): PSNR (and matlab3d SSIM with ``--ssim``, about 5 s a 720p frame) of the in-between
frames against the real frames that were dropped, mean over the in-between frames both methods
made (minterpolate drops its last two or three frames at the end of the stream), and PSNR of the kept frames, a
sanity line: near 99 dB (the cap) means the output's frame k is the clip's frame k.

**Plain mode** (``--plain``, the old benchmark): the first ``--seconds`` of CLIP itself to
``--fps`` (default 60) with both methods, ``--codec`` (default H.264) at ``--crf`` (default 18,
the crf of a re-encode at the source rate for both), time only.

    nice -n 10 env PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_vs_minterpolate.py \
        ../shared/data/train/videos/dog.mp4 --seconds 2 --threads 1
    PYTHONPATH=. python benchmarks/bench_vs_minterpolate.py CLIP --plain --fps 60 --seconds 2 \
        [--checkpoint FILE | --preset s] [--device cpu|cuda] [--precision fp32|bf16] [--threads N]

CLIP defaults to ../shared/data/train/videos/dog.mp4 (1280x720, 29.97 fps; a training clip).
One torch thread compares like with like (minterpolate runs on one core) and stays steady on a
shared machine: two torch threads on two busy cores (load 3.5-4, at c2497c1) spent 384 CPU s
and 652 s wall on TEMPO's 29 frames, where one thread (at c840d86) spends 80-83 s.
Prints one table: method, output frames, wall s and CPU s with their ratios to minterpolate's
and, in rebuild mode, the in-between and kept frames' mean PSNR. Needs a constant-rate clip.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from tempo_core.evaluation.metrics import psnr, ssim
from tempo_core.inference import Interpolator, resolve_device
from tempo_core.network import build_tempo
from tempo_core.network.config import preset_config
from tempo_core.video.colour import describe as describe_colour
from tempo_core.video.engine import ExportSettings, run_export
from tempo_core.video.reader import VideoReader
from tempo_core.video.writer import VideoWriter

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "videos" / "dog.mp4"
MINTERPOLATE = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir"
MATCH_TOLERANCE = 0.1  # an output frame more than this many clip frames off a clip frame is not scored


@dataclass
class Run:
    """One method's output: frames written, wall and CPU seconds, and ``times`` (s, on the
    source's timeline) of each frame written, in order."""

    name: str
    output: Path
    frames: int
    seconds: float
    cpu_seconds: float  # process CPU time, all threads: steadier than wall time on a busy machine
    times: list[float]


@dataclass
class HalfRate:
    """The half-rate source: ``path`` holds clip frames 0, 2, ..., ``len(truth) - 1``; ``truth``
    are all clip frames of the range (uint8 ``H x W x 3``); ``rate`` is the clip's frame rate;
    ``start`` the source's first frame time (s)."""

    path: Path
    truth: list[np.ndarray]
    rate: Fraction
    start: float


@dataclass
class Scores:
    """Per clip frame index: PSNR (dB) of in-between and kept frames, SSIM of in-between ones."""

    between: dict[int, float] = field(default_factory=dict)
    kept: dict[int, float] = field(default_factory=dict)
    between_ssim: dict[int, float] = field(default_factory=dict)


def write_lossless(reader: VideoReader, path: Path, indices: Sequence[int], rate: Fraction) -> None:
    """Frames ``indices`` of ``reader``, the decoded samples in their own pixel format, to FFV1."""
    info = reader.info
    writer = VideoWriter(path, rate=rate, width=info.width, height=info.height, codec="ffv1", colour=reader.colour)
    with writer:
        for index in indices:
            source = reader.read_source(index)
            writer.write(source if source is not None else reader.read_frame(index))
        writer.finish()


def make_half_rate(clip: Path, seconds: float, folder: Path) -> HalfRate:
    """Every other frame of the first ``seconds`` of ``clip`` (an odd count), written losslessly.

    The truth is read back from a lossless copy of all the range's frames, not from the clip:
    FFV1 does not carry the clip's chroma siting, so the same YUV samples decoded from the
    clip's H.264 stream give RGB up to 17 levels off (about 50 dB) at colour edges."""
    with VideoReader(clip, keep_source=True) as reader:
        times = reader.frame_times
        count = int(np.searchsorted(times, times[0] + seconds - 1e-9))
        count -= 1 - count % 2  # odd: the range ends on a kept frame
        if count < 3:
            raise SystemExit(f"{clip.name}: {seconds:g} s hold fewer than 3 frames; give more --seconds.")
        rate = reader.rate
        write_lossless(reader, folder / "full_rate.avi", range(count), rate)
        write_lossless(reader, folder / "half_rate.avi", range(0, count, 2), rate / 2)
    with VideoReader(folder / "full_rate.avi") as full:
        truth = [image.copy() for _, image in full.iter_frames()]
    with VideoReader(folder / "half_rate.avi") as half:
        start = float(half.frame_times[0])
    return HalfRate(folder / "half_rate.avi", truth, rate, start)


def run_minterpolate(source: Path, out: Path, rate: Fraction, end: float | None, codec: str, crf: int) -> Run:
    """Decode ``source`` (up to ``end`` s), minterpolate to ``rate`` fps, encode ``codec``."""
    began, cpu = time.perf_counter(), time.process_time()
    times: list[float] = []
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        source_rate = stream.average_rate
        graph = av.filter.Graph()
        buffer = graph.add_buffer(template=stream)
        mci = graph.add("minterpolate", f"fps={rate}:{MINTERPOLATE}")
        sink = graph.add("buffersink")
        graph.link_nodes(buffer, mci, sink).configure()
        writer: VideoWriter | None = None

        def drain() -> None:
            nonlocal writer
            while True:
                try:
                    frame = graph.vpull()
                except (av.BlockingIOError, av.EOFError):
                    return
                if writer is None:
                    writer = VideoWriter(
                        out,
                        rate=rate,
                        width=frame.width,
                        height=frame.height,
                        codec=codec,
                        quality=crf,
                        overwrite=True,
                        colour=describe_colour(frame, stream.codec_context),
                        source_rate=source_rate,
                    )
                times.append(float(frame.time))
                writer.write(frame)

        for frame in container.decode(stream):
            if end is not None and frame.time is not None and frame.time >= end:
                break
            graph.vpush(frame)
            drain()
        graph.vpush(None)
        drain()
        if writer is None:
            raise SystemExit(f"minterpolate made no frames from {source.name}.")
        with writer:
            writer.finish()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return Run("minterpolate mci/aobmc/bidir", out, writer.frames_written, seconds, cpu, times)


def run_tempo(settings: ExportSettings, interpolator: Interpolator) -> Run:
    """One export through the engine, timed by the engine."""
    cpu = time.process_time()
    result = run_export(settings, interpolator)
    cpu = time.process_time() - cpu
    times = [frame.time for frame in result.plan.frames] if result.plan is not None else []
    name = f"TEMPO ({result.synthesized} synthesized)"
    return Run(name, result.output_path, result.frames_written, result.seconds, cpu, times)


def score(run: Run, half: HalfRate, with_ssim: bool) -> Scores:
    """Decode ``run``'s output; score each frame that falls on a clip frame against it."""
    scores = Scores()
    with VideoReader(run.output) as reader:
        if len(reader) != len(run.times):
            raise SystemExit(f"{run.name}: {len(reader)} frames decoded, {len(run.times)} written.")
        for position, image in reader.iter_frames():
            exact = (run.times[position] - half.start) * float(half.rate)
            index = round(exact)
            if abs(exact - index) > MATCH_TOLERANCE or not 0 <= index < len(half.truth):
                continue
            target = half.truth[index]
            if index % 2 == 0:
                scores.kept[index] = psnr(image, target)
                continue
            scores.between[index] = psnr(image, target)
            if with_ssim:
                scores.between_ssim[index] = ssim(image, target)
    return scores


def mean_over(values: dict[int, float], indices: Sequence[int]) -> float:
    """Mean of ``values`` at ``indices`` (nan when there are none)."""
    return float(np.mean([values[i] for i in indices])) if indices else math.nan


def load_interpolator(args: argparse.Namespace) -> Interpolator:
    """The model ``tempo interpolate`` would load (bundled default), or a random ``--preset``."""
    device = resolve_device(args.device)
    precision = args.precision or ("bf16" if device.type == "cuda" else "fp32")
    if args.preset:
        torch.manual_seed(0)
        model = build_tempo(preset_config(args.preset))
        return Interpolator(model, device=device, precision=precision, scale=args.scale)
    return Interpolator.from_checkpoint(args.checkpoint, device=device, precision=precision, scale=args.scale)


def run_columns(run: Run, baseline: Run) -> str:
    ratio = run.seconds / baseline.seconds
    cpu_ratio = run.cpu_seconds / baseline.cpu_seconds
    return f"{run.name:30s} {run.frames:6d} {run.seconds:8.2f} {ratio:5.2f}x {run.cpu_seconds:8.2f} {cpu_ratio:5.2f}x"


def print_table(runs: list[Run], scores: list[Scores] | None, with_ssim: bool) -> None:
    """One row per method; the last run is the baseline of the ratios."""
    baseline = runs[-1]
    header = f"{'method':30s} {'frames':>6s} {'wall s':>8s} {'ratio':>6s} {'CPU s':>8s} {'ratio':>6s}"
    if scores is None:
        print(header)
        for run in runs:
            print(run_columns(run, baseline))
        return
    common = sorted(set.intersection(*(set(s.between) for s in scores)))
    extra = f" {'SSIM between':>12s}" if with_ssim else ""
    print(f"{header} {'PSNR between':>12s}{extra} {'PSNR kept':>9s}")
    for run, got in zip(runs, scores, strict=True):
        row = f"{run_columns(run, baseline)} {mean_over(got.between, common):12.2f}"
        if with_ssim:
            row += f" {mean_over(got.between_ssim, common):12.4f}"
        print(f"{row} {mean_over(got.kept, sorted(got.kept)):9.2f}")
    kept_counts = ", ".join(str(len(s.kept)) for s in scores)
    print(f"in-between frames scored: {len(common)} (made by both); kept frames scored: {kept_counts}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, nargs="?", default=DEFAULT_CLIP)
    parser.add_argument("--plain", action="store_true", help="time CLIP itself to --fps, no quality")
    parser.add_argument("--fps", type=float, default=60.0, help="output rate of --plain")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the clip's range used")
    parser.add_argument("--codec", default="h264", help="outputs' codec with --plain (rebuild mode: ffv1)")
    parser.add_argument("--crf", type=int, default=18, help="quality of h264/hevc outputs with --plain")
    parser.add_argument("--ssim", action="store_true", help="also SSIM of the in-between frames (slow)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--checkpoint", default=None, help="model file (default: the bundled model)")
    model.add_argument("--preset", default=None, help="a randomly initialised preset (speed only)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default=None)
    parser.add_argument("--anchors", type=int, default=2)
    parser.add_argument("--scale", default="auto", help="processing scale as tempo interpolate's (auto, 1, 0.5)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args(argv)


def describe_run(args: argparse.Namespace, interpolator: Interpolator, clip: VideoReader) -> str:
    info = clip.info
    model = args.preset and f"random {args.preset}" or args.checkpoint or "bundled model"
    target = f"{args.fps:g} fps" if args.plain else f"half rate -> x2 ({info.fps:.3f} fps)"
    return (
        f"clip {clip.path.name}: {info.width}x{info.height} {info.fps:.3f} fps, first {args.seconds:g} s, "
        f"{target}; TEMPO {model} on {interpolator.device_name} ({interpolator.precision}, "
        f"N={args.anchors}, torch threads {torch.get_num_threads()})"
    )


def main(argv: Sequence[str] | None = None) -> tuple[list[Run], list[Scores] | None]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    interpolator = load_interpolator(args)
    codec = args.codec if args.plain else "ffv1"
    suffix = ".mp4" if codec in ("h264", "hevc") else ".avi" if codec == "ffv1" else ".mkv"
    with VideoReader(args.clip) as clip:
        print(describe_run(args, interpolator, clip) + f", outputs {codec}")
        end = float(clip.frame_times[0]) + args.seconds
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.plain:
            source, rate, half = args.clip, Fraction(args.fps).limit_denominator(1001), None
            mode, value, limit = "fps", args.fps, end
        else:
            half = make_half_rate(args.clip, args.seconds, folder)
            source, rate, mode, value, limit = half.path, half.rate, "factor", 2.0, None
        settings = ExportSettings(
            source,
            folder / f"tempo{suffix}",
            mode,
            value,
            codec=codec,
            quality=args.crf,
            end=limit,
            anchors=args.anchors,
            overwrite=True,
        )
        minterpolate = run_minterpolate(source, folder / f"mi{suffix}", rate, limit, codec, args.crf)
        runs = [run_tempo(settings, interpolator), minterpolate]
        scores = None if half is None else [score(run, half, args.ssim) for run in runs]
        print_table(runs, scores, args.ssim)
    return runs, scores


if __name__ == "__main__":
    main()
