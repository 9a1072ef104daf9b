"""Colour and quality of the real frames an export copies, against a plain re-encode (issue 20).

Source: ``--frames`` consecutive 1920x1080 frames of ``../shared/data/train/frames/street_fair``
scaled to 1280x720, encoded H.264 crf 12 (as ``ffmpeg -i ... -crf 12`` would make it; ``--source
lossless``: x264 lossless), tagged BT.709 limited range. Each output codec is written from it by
``tempo interpolate --factor 2 --crf 12`` (the bundled model, CPU) and by a plain re-encode at the
same settings (the decoded YUV frames straight to the encoder, tags copied: ``ffmpeg -c:v
ENCODER``), once at the source rate (issue 20's reference) and once at the output rate with every
frame shown twice (``ffmpeg -r 48``). It prints the mean PSNR over the real frames of each
against the source frames (YUV samples, as ffmpeg's psnr filter compares them), the size of the
three files (TEMPO's holds the synthesized frames too), the mean red shift of TEMPO's real frames
in levels of 255 (16-bit RGB decode), and the four colour tags (matrix, primaries, transfer,
range) of each file. ``--no-compensation`` gives x264 / x265 the ``--crf`` unchanged, as before
the crf followed the output rate (:func:`~tempo_core.video.writer.encoder_crf`).

    .venv/bin/python benchmarks/colour_export.py --frames 4 [--source lossless] [--no-compensation]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "core"))

from tempo_colour_clips import (  # noqa: E402
    ENCODER_OPTIONS,
    LOSSLESS_H264,
    colour_of,
    encode_into,
    plain_reencode,
    psnr8,
    yuv_frames,
)

from tempo_core.commands.cli import main  # noqa: E402
from tempo_core.video import writer  # noqa: E402
from tempo_core.video.reader import VideoReader  # noqa: E402

FRAMES = ROOT.parent / "shared" / "data" / "train" / "frames" / "street_fair"
OUTPUTS = [("h264", "libx264", "yuv420p", ".mp4"), ("hevc", "libx265", "yuv420p", ".mkv")]
OUTPUTS += [("prores", "prores_ks", "yuv422p10le", ".mov"), ("ffv1", "ffv1", "yuv420p", ".mkv")]


def make_source(path: Path, count: int, options: dict[str, str] = ENCODER_OPTIONS["libx264"]) -> Path:
    """H.264 (crf 12, or ``options``), BT.709 limited, tagged, from ``count`` street_fair frames at 1280x720."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
    context = stream.codec_context
    context.colorspace = context.color_primaries = context.color_trc = 1
    context.color_range = 1
    stream.options = dict(options)

    def frames() -> Iterator[av.VideoFrame]:
        for index, name in enumerate(sorted(FRAMES.glob("*.jpg"))[:count]):
            image = np.asarray(Image.open(name).convert("RGB").resize((1280, 720), Image.Resampling.LANCZOS))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv420p", src_colorspace=1, dst_colorspace=1, src_color_range=2, dst_color_range=1
            )
            frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc = 1, 1, 1, 1
            frame.pts = index
            yield frame

    encode_into(container, stream, frames())
    return path


def frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    with VideoReader(path, deep=True) as reader:
        return [reader.read_frame(i).copy() for i in indices]


def mean_psnr(frames_: list[np.ndarray], originals: list[np.ndarray]) -> float:
    return float(np.mean([psnr8(a, b) for a, b in zip(frames_, originals, strict=True)]))


def kib(path: Path) -> float:
    return path.stat().st_size / 1024


def tags(path: Path) -> tuple[int, int, int, int]:
    colour = colour_of(path)
    return colour.matrix, colour.primaries, colour.transfer, colour.range


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--source", choices=("crf12", "lossless"), default="crf12")
    parser.add_argument(
        "--no-compensation", action="store_true", help="give x264 / x265 the --crf as it is (before issue 20's fix)"
    )
    args = parser.parse_args()
    if args.no_compensation:
        writer.encoder_crf = lambda crf, source_rate, rate: float(crf)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        options = LOSSLESS_H264 if args.source == "lossless" else ENCODER_OPTIONS["libx264"]
        source = make_source(work / "source.mp4", args.frames, options)
        real = list(range(args.frames))
        original, original_rgb = yuv_frames(source, real), frames(source, real)
        print(f"source: {args.frames} frames 1280x720 H.264 {args.source}, tags {tags(source)}")
        for codec, encoder, pix_fmt, ext in OUTPUTS:
            out = work / f"tempo_{codec}{ext}"
            argv = ["interpolate", str(source), "-o", str(out), "--factor", "2", "--crf", "12", "--codec", codec]
            assert main([*argv, "--device", "cpu", "--quiet"]) == 0
            plain = plain_reencode(source, work / f"plain_{codec}{ext}", encoder, pix_fmt)
            twice = plain_reencode(source, work / f"plain2_{codec}{ext}", encoder, pix_fmt, repeat=2)
            ours_db = mean_psnr(yuv_frames(out, [2 * i for i in real]), original)
            plain_db = mean_psnr(yuv_frames(plain, real), original)
            twice_db = mean_psnr(yuv_frames(twice, [2 * i for i in real]), original)
            ours_rgb = frames(out, [2 * i for i in real])
            shift = np.mean(
                [
                    (a[..., 0] - b[..., 0].astype(float)).mean() / 257
                    for a, b in zip(ours_rgb, original_rgb, strict=True)
                ]
            )
            sizes = f"{kib(out):7.0f} / {kib(plain):7.0f} / {kib(twice):7.0f} KiB"
            print(
                f"{codec:6s} tempo {ours_db:6.2f} dB  plain {plain_db:6.2f} dB  plain at 48 fps {twice_db:6.2f} dB  "
                f"({sizes})  red shift {shift:+.2f} levels  tags {tags(out)} plain {tags(plain)}"
            )


if __name__ == "__main__":
    main_()
