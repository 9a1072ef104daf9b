"""Wall time of ``tempo interpolate`` against ffmpeg's minterpolate on the same clip, same run.

Both sides decode the same source range, produce the same output frame rate and encode H.264
(crf 18) through :class:`tempo_core.video.writer.VideoWriter`, so only the interpolation differs.
The baseline runs ``minterpolate=fps=F:mi_mode=mci:mc_mode=aobmc:me_mode=bidir`` in-process
through PyAV's bundled libavfilter (no ffmpeg binary needed).

    PYTHONPATH=. python benchmarks/bench_vs_minterpolate.py CLIP --fps 60 --seconds 2 \
        [--checkpoint FILE | --preset s] [--device cpu|cuda] [--precision fp32|bf16] [--threads N]

Weights do not change speed, so without a checkpoint a randomly initialised preset is timed.
Prints one table row per method and the ratio TEMPO / minterpolate.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import torch

from tempo_core.inference import Interpolator
from tempo_core.network import build_tempo
from tempo_core.network.config import preset_config
from tempo_core.video.engine import ExportSettings, run_export
from tempo_core.video.reader import VideoReader
from tempo_core.video.writer import VideoWriter


def run_minterpolate(source: Path, out: Path, fps: float, end: float) -> tuple[int, float]:
    """Decode ``[0, end)`` s, minterpolate to ``fps``, encode; returns (frames, seconds)."""
    began = time.perf_counter()
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        graph = av.filter.Graph()
        buffer = graph.add_buffer(template=stream)
        mci = graph.add("minterpolate", f"fps={rate}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir")
        sink = graph.add("buffersink")
        graph.link_nodes(buffer, mci, sink).configure()
        writer = VideoWriter(out, rate=rate, width=stream.width, height=stream.height, overwrite=True)
        with writer:

            def drain() -> None:
                while True:
                    try:
                        frame = graph.vpull()
                    except (av.BlockingIOError, av.EOFError):
                        return
                    writer.write(frame.to_ndarray(format="rgb24"))

            for frame in container.decode(stream):
                if frame.time is not None and frame.time >= end:
                    break
                graph.vpush(frame)
                drain()
            graph.vpush(None)
            drain()
            writer.finish()
    return writer.frames_written, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the range timed")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--preset", default="s", help="preset timed without a checkpoint")
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default=None)
    parser.add_argument("--anchors", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.checkpoint:
        interpolator = Interpolator.from_checkpoint(args.checkpoint, device=args.device)
    else:
        torch.manual_seed(0)
        interpolator = Interpolator(build_tempo(preset_config(args.preset)), device=args.device)
    if args.precision:
        interpolator.precision = args.precision
    elif interpolator.device.type == "cuda":
        interpolator.precision = "bf16"
    with VideoReader(args.clip) as reader:
        info = reader.info
        end = float(reader.frame_times[0]) + args.seconds
    print(
        f"clip {args.clip.name}: {info.width}x{info.height} {info.fps:.2f} fps, first "
        f"{args.seconds:g} s -> {args.fps:g} fps; TEMPO on {interpolator.device_name} "
        f"({interpolator.precision}, N={args.anchors}, torch threads {torch.get_num_threads()})"
    )
    with tempfile.TemporaryDirectory() as folder:
        frames_m, seconds_m = run_minterpolate(args.clip, Path(folder) / "mi.mp4", args.fps, end)
        settings = ExportSettings(
            args.clip,
            Path(folder) / "tempo.mp4",
            "fps",
            args.fps,
            end=end,
            anchors=args.anchors,
            overwrite=True,
        )
        result = run_export(settings, interpolator)
    rows = [
        ("minterpolate mci/aobmc/bidir", frames_m, seconds_m),
        (f"TEMPO ({result.synthesized} synthesized)", result.frames_written, result.seconds),
    ]
    print(f"{'method':36s} {'frames':>7s} {'wall s':>8s} {'out fps':>8s}")
    for name, frames, seconds in rows:
        print(f"{name:36s} {frames:7d} {seconds:8.2f} {frames / seconds:8.2f}")
    print(f"ratio TEMPO / minterpolate wall time: {result.seconds / seconds_m:.2f}x")


if __name__ == "__main__":
    main()
