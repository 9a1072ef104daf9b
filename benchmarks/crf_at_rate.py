"""Per-frame quality of the same frames encoded at the source rate and tagged at 2x / 4x / 8x it.

x264 and x265 spend bits per unit of time: their rate control divides a frame's complexity by its
duration, and the qscale follows complexity^(1 - qcomp) (qcomp 0.6), so the same frames tagged
at ``r`` times the rate get a quantizer about ``6 (1 - qcomp) log2(r)`` higher at the same crf.
This script measures that and what undoes it.

Frames: ``--frames`` consecutive frames (1920x1080 JPEGs) of ``--frames_dir`` (default
``../shared/data/train/frames/street_fair``) scaled to ``--width`` (16:9), BT.709 limited-range
4:2:0. Each encoder (libx264, libx265, preset medium, through PyAV as ``tempo_core/video/writer.py``
writes) encodes them at each source rate (``--source-rates``, 24 and 60 fps) and crf ``--crf``,
then at 2, 4 and 8 times that rate (the same frames, timestamps 1 / rate apart) with:

* ``crf``: the same crf (what a naive export does);
* ``comp``: crf - 6 (1 - qcomp) log2(r) (what :func:`tempo_core.video.writer.encoder_crf` passes);
* ``told``: the same crf, the rate control told the source rate through ``x264-params`` /
  ``x265-params`` ``fps=`` (what the decoder then reports as the stream's rate is shown).

It prints, per encoder and rate, the mean PSNR of the frames (YUV samples, as ffmpeg's psnr filter
compares them), the size in bytes, and the frame rate a player sees (the container's average
rate and the rate the decoder takes from the stream).

    .venv/bin/python benchmarks/crf_at_rate.py --frames 12 --width 1280

Measured so (crf 12, 24 fps source): the same crf at 2x / 4x the rate costs 1.73 / 3.26 dB
(x264) and 1.57 / 3.03 dB (x265); 8x costs what 100 fps does (durations are clipped at 0.01 s).
With ``comp`` every rate, from 24 and from 60 fps, is within 0.01 dB of the source-rate encode
and the same size; ``fps=`` changes nothing in x264 and makes x265 declare the source rate in the
stream (a player would then show 24 fps), so it is not used.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tempo_core.video.writer import QCOMP, encoder_crf

FRAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "frames" / "street_fair"
BASE_OPTIONS = {
    "libx264": {"preset": "medium"},
    "libx265": {"preset": "medium", "x265-params": "log-level=error"},
}


def yuv_sources(folder: Path, count: int, width: int) -> list[av.VideoFrame]:
    """The first ``count`` JPEGs of ``folder`` as BT.709 limited ``yuv420p`` frames ``width`` wide (16:9)."""
    height = (width * 9 // 16) // 2 * 2
    frames = []
    for name in sorted(folder.glob("*.jpg"))[:count]:
        image = np.asarray(Image.open(name).convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
            format="yuv420p", src_colorspace=1, dst_colorspace=1, src_color_range=2, dst_color_range=1
        )
        frames.append(frame)
    return frames


def encode(path: Path, frames: list[av.VideoFrame], encoder: str, rate: Fraction, options: dict[str, str]) -> Path:
    """The frames at ``rate`` (timestamps ``1 / rate`` apart) with ``encoder`` and ``options``."""
    container = av.open(str(path), "w")
    stream = container.add_stream(encoder, rate=rate)
    stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
    stream.codec_context.time_base = 1 / rate
    stream.codec_context.colorspace, stream.codec_context.color_range = 1, 1
    stream.options = options
    timed = [source.reformat(format="yuv420p") for source in frames]
    for index, frame in enumerate(timed):
        frame.pts, frame.time_base, frame.pict_type = index, 1 / rate, 0
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():  # flush
        container.mux(packet)
    container.close()
    return path


def mean_psnr(path: Path, frames: list[av.VideoFrame]) -> float:
    """Mean PSNR (dB, peak 255) of the decoded frames against ``frames``, on Y, U, V samples."""
    values = []
    with av.open(str(path)) as container:
        for decoded, source in zip(container.decode(video=0), frames, strict=True):
            a = decoded.to_ndarray().astype(np.float64)
            b = source.to_ndarray().astype(np.float64)
            values.append(10 * math.log10(255.0**2 / max(np.mean((a - b) ** 2), 1e-12)))
    return float(np.mean(values))


def seen_rates(path: Path) -> str:
    """The container's average rate and the rate the decoder reads from the stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        framerate = stream.codec_context.framerate
        return f"container {float(stream.average_rate or 0):g} fps, stream {float(framerate or 0):g} fps"


def variants(encoder: str, crf: float, source_rate: Fraction, rate: Fraction) -> dict[str, dict[str, str]]:
    """The option sets compared at one output rate."""
    base = BASE_OPTIONS[encoder]
    params = "x264-params" if encoder == "libx264" else "x265-params"
    told = f"fps={source_rate}:{base[params]}" if params in base else f"fps={source_rate}"
    return {
        "crf": {**base, "crf": f"{crf:g}"},
        "comp": {**base, "crf": f"{encoder_crf(crf, source_rate, rate):g}"},
        "told": {**base, "crf": f"{crf:g}", params: told},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print the table; return the mean PSNR (dB) of each encode by ``encoder rate variant``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--frames_dir", type=Path, default=FRAMES, help="folder of JPEG frames")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--crf", type=float, default=12)
    parser.add_argument("--source-rates", nargs="+", type=int, default=[24, 60])
    parser.add_argument("--encoders", nargs="+", default=["libx264", "libx265"])
    args = parser.parse_args(argv)
    frames = yuv_sources(args.frames_dir, args.frames, args.width)
    if not frames:
        raise SystemExit(f"No JPEG frames in {args.frames_dir}.")
    scores = {}
    size = f"{frames[0].width}x{frames[0].height}"
    print(f"{len(frames)} frames of {args.frames_dir.name} {size}, crf {args.crf:g}, qcomp {QCOMP}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for encoder in args.encoders:
            for source_rate in map(Fraction, args.source_rates):
                options = {**BASE_OPTIONS[encoder], "crf": f"{args.crf:g}"}
                base = encode(work / f"{encoder}_{source_rate}.mkv", frames, encoder, source_rate, options)
                db = scores[f"{encoder} {source_rate} source"] = mean_psnr(base, frames)
                print(
                    f"{encoder} {int(source_rate):3d} fps (source)       : {db:6.2f} dB "
                    f"{base.stat().st_size:9d} B  {seen_rates(base)}"
                )
                for rate in (source_rate * 2, source_rate * 4, source_rate * 8):
                    for name, opts in variants(encoder, args.crf, source_rate, rate).items():
                        path = encode(work / f"{encoder}_{rate}_{name}.mkv", frames, encoder, rate, opts)
                        db = scores[f"{encoder} {rate} {name}"] = mean_psnr(path, frames)
                        print(
                            f"{encoder} {int(rate):3d} fps {name:4s} (crf {opts['crf']:>5s}): "
                            f"{db:6.2f} dB {path.stat().st_size:9d} B  {seen_rates(path)}"
                        )
    return scores


if __name__ == "__main__":
    main()
