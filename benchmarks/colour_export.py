"""Colour and quality of the real frames an export copies, against a plain re-encode (issue 20).

Source: ``--frames`` consecutive frames (1920x1080 JPEGs) of ``--frames_dir`` (default
``../shared/data/train/frames/street_fair``) scaled to ``--size`` (default 1280x720), encoded
H.264 crf 12 (as ``ffmpeg -i ... -crf 12`` would make it; ``--source lossless``: x264 lossless),
tagged BT.709 limited range. Each output codec (``--codecs``) is written from it by ``tempo
interpolate --factor 2 --crf 12`` (the bundled model, CPU) and by a plain re-encode at the same
settings (the decoded YUV frames straight to the encoder, tags copied: ``ffmpeg -c:v ENCODER``),
once at the source rate (issue 20's reference) and once at the output rate with every frame shown
twice (``ffmpeg -r 48``). It prints the mean PSNR over the real frames of each against the source
frames (YUV samples, as ffmpeg's psnr filter compares them), the size of the three files (TEMPO's
holds the synthesized frames too), the mean red shift of TEMPO's real frames in levels of 255
(16-bit RGB decode), and the four colour tags (matrix, primaries, transfer, range) of each file.

    .venv/bin/python benchmarks/colour_export.py --frames 4 [--source lossless] [--codecs h264 ffv1]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image

from tempo_core.commands.cli import main as tempo
from tempo_core.video.colour import describe
from tempo_core.video.reader import VideoReader

FRAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "frames" / "street_fair"
OUTPUTS = {
    "h264": ("libx264", "yuv420p", ".mp4"),
    "hevc": ("libx265", "yuv420p", ".mkv"),
    "prores": ("prores_ks", "yuv422p10le", ".mov"),
    "ffv1": ("ffv1", "yuv420p", ".mkv"),
}
ENCODER_OPTIONS = {  # the plain re-encode's: the settings of tempo interpolate --crf 12
    "libx264": {"crf": "12", "preset": "medium"},
    "libx265": {"crf": "12", "preset": "medium", "x265-params": "log-level=error"},
    "prores_ks": {"profile": "3"},
    "ffv1": {},
}
LOSSLESS_H264 = {"qp": "0", "preset": "medium"}  # x264 lossless: High 4:4:4 Predictive, 4:2:0 kept


def encode_into(
    container: av.container.OutputContainer, stream: av.VideoStream, frames: Iterable[av.VideoFrame]
) -> None:
    """Encode ``frames`` (their ``pts`` set) with ``stream``, flush the encoder and close ``container``."""
    for frame in frames:
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def make_source(folder: Path, path: Path, count: int, size: tuple[int, int], options: dict[str, str]) -> Path:
    """H.264 with ``options``, BT.709 limited, tagged: the first ``count`` JPEGs of ``folder`` at ``size`` (W, H)."""
    names = sorted(folder.glob("*.jpg"))[:count]
    if not names:
        raise SystemExit(f"No JPEG frames in {folder}.")
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
    context = stream.codec_context
    context.colorspace = context.color_primaries = context.color_trc = 1
    context.color_range = 1
    stream.options = dict(options)

    def frames() -> Iterator[av.VideoFrame]:
        for index, name in enumerate(names):
            image = np.asarray(Image.open(name).convert("RGB").resize(size, Image.Resampling.LANCZOS))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv420p", src_colorspace=1, dst_colorspace=1, src_color_range=2, dst_color_range=1
            )
            frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc = 1, 1, 1, 1
            frame.pts = index
            yield frame

    encode_into(container, stream, frames())
    return path


def plain_reencode(source: Path, out: Path, encoder: str, pix_fmt: str, repeat: int = 1) -> Path:
    """What ``ffmpeg -i SOURCE -c:v ENCODER`` does: the decoded YUV frames to the encoder at the
    source's rate, tags copied; ``repeat`` > 1 shows every frame that many times at that many times
    the rate (``ffmpeg -r`` with frame duplication)."""
    with av.open(str(source)) as src:
        stream_in = src.streams.video[0]
        container = av.open(str(out), "w")
        rate = Fraction(stream_in.average_rate or 24) * repeat
        stream = container.add_stream(encoder, rate=rate)
        stream.width, stream.height, stream.pix_fmt = stream_in.width, stream_in.height, pix_fmt
        ctx_in, context = stream_in.codec_context, stream.codec_context
        context.time_base = 1 / rate
        for name in ("colorspace", "color_primaries", "color_trc", "color_range"):
            setattr(context, name, getattr(ctx_in, name))
        stream.options = dict(ENCODER_OPTIONS[encoder])

        def frames() -> Iterator[av.VideoFrame]:
            for index, frame in enumerate(src.decode(stream_in)):
                if frame.format.name != pix_fmt:
                    frame = frame.reformat(format=pix_fmt)
                for copy in range(repeat):
                    frame.pts, frame.time_base, frame.pict_type = index * repeat + copy, 1 / rate, 0
                    yield frame

        encode_into(container, stream, frames())
    return out


def yuv_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    """Frames ``indices`` (decode order) as 8-bit 4:2:0 YUV samples, ``(H * 3/2) x W``: what
    ffmpeg's psnr filter compares, free of any YUV -> RGB choice (matrix, chroma siting)."""
    wanted, found = set(indices), {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found[index] = frame.reformat(format="yuv420p", interpolation=Interpolation.POINT).to_ndarray()
    return [found[i] for i in indices]


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two ``uint8`` arrays (peak 255; 99 when identical)."""
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if error == 0 else float(10 * np.log10(255.0**2 / error))


def frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    with VideoReader(path, deep=True) as reader:
        return [reader.read_frame(i).copy() for i in indices]


def mean_psnr(frames_: list[np.ndarray], originals: list[np.ndarray]) -> float:
    return float(np.mean([psnr8(a, b) for a, b in zip(frames_, originals, strict=True)]))


def kib(path: Path) -> float:
    return path.stat().st_size / 1024


def tags(path: Path) -> tuple[int, int, int, int]:
    """(matrix, primaries, transfer, range) a file's first frame and stream declare."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        colour = describe(next(container.decode(stream)), stream.codec_context)
    return colour.matrix, colour.primaries, colour.transfer, colour.range


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Print one row per codec; return, per codec, the mean PSNRs (dB) of ``tempo``, ``plain`` and
    ``plain_twice`` and the ``red_shift`` (levels of 255)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--frames_dir", type=Path, default=FRAMES, help="folder of JPEG frames")
    parser.add_argument("--size", default="1280x720", help="WxH of the source")
    parser.add_argument("--source", choices=("crf12", "lossless"), default="crf12")
    parser.add_argument("--codecs", nargs="+", choices=list(OUTPUTS), default=list(OUTPUTS))
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        options = LOSSLESS_H264 if args.source == "lossless" else ENCODER_OPTIONS["libx264"]
        source = make_source(args.frames_dir, work / "source.mp4", args.frames, (width, height), options)
        real = list(range(min(args.frames, len(list(args.frames_dir.glob("*.jpg"))))))
        original, original_rgb = yuv_frames(source, real), frames(source, real)
        print(f"source: {len(real)} frames {width}x{height} H.264 {args.source}, tags {tags(source)}")
        for codec in args.codecs:
            encoder, pix_fmt, ext = OUTPUTS[codec]
            out = work / f"tempo_{codec}{ext}"
            argv_ = ["interpolate", str(source), "-o", str(out), "--factor", "2", "--crf", "12", "--codec", codec]
            if tempo([*argv_, "--device", "cpu", "--quiet"]) != 0:
                raise SystemExit(f"tempo interpolate failed for {codec}")
            plain = plain_reencode(source, work / f"plain_{codec}{ext}", encoder, pix_fmt)
            twice = plain_reencode(source, work / f"plain2_{codec}{ext}", encoder, pix_fmt, repeat=2)
            ours_rgb = frames(out, [2 * i for i in real])
            shift = np.mean(
                [
                    (a[..., 0] - b[..., 0].astype(float)).mean() / 257
                    for a, b in zip(ours_rgb, original_rgb, strict=True)
                ]
            )
            row = rows[codec] = {
                "tempo": mean_psnr(yuv_frames(out, [2 * i for i in real]), original),
                "plain": mean_psnr(yuv_frames(plain, real), original),
                "plain_twice": mean_psnr(yuv_frames(twice, [2 * i for i in real]), original),
                "red_shift": float(shift),
            }
            sizes = f"{kib(out):7.0f} / {kib(plain):7.0f} / {kib(twice):7.0f} KiB"
            print(
                f"{codec:6s} tempo {row['tempo']:6.2f} dB  plain {row['plain']:6.2f} dB  "
                f"plain at 48 fps {row['plain_twice']:6.2f} dB  ({sizes})  red shift {shift:+.2f} levels  "
                f"tags {tags(out)} plain {tags(plain)}"
            )
    return rows


if __name__ == "__main__":
    main()
