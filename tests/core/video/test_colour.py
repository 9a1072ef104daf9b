"""Colour kept through ``tempo interpolate`` (issue 20, point 1).

Sources are lossless H.264 made with PyAV (:mod:`tempo_colour_clips`): SD BT.601, HD BT.709
limited, BT.709 full range, untagged SD and untagged 1280x720. Each goes through
``tempo interpolate --factor 2 --crf 12`` to H.264, HEVC and ProRes; the real frames it copies
must decode (YUV samples, as ffmpeg's psnr filter compares them) within 1 dB of a plain re-encode
of the same source at the same settings and the source's rate (YUV in, tags copied, what
``ffmpeg -c:v ENCODER -crf 12`` does), and the four colour tags must match. The plain re-encode
gives 49 to 51 dB here; the YUV -> RGB -> YUV conversions alone (measured once with PyAV) give
about 28 dB with a wrong matrix, 31 dB with a wrong range and 40 dB through 8-bit RGB. x264 and
x265 spend bits per second, so the export gives them the crf that keeps each frame's quality at
the output rate (:func:`~tempo_core.video.writer.encoder_crf`, 9.6 for crf 12 at twice the rate;
tested on its own below; it adds 1.7 dB to the real frames of an H.264 x2 export of street_fair:
benchmarks/colour_export.py). The sources are lossless: x264 re-encoding its own crf 12 output
at the same settings and frame types nearly reproduces it (street_fair: 51.34 dB, against 47.11
for x265), which no export with other frames in between can do and which has nothing to do with
colour. Limited and unspecified range are the same thing for YUV (x265 writes "limited" for an
untagged source).
"""

from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
import pytest
from PIL import Image
from tempo_colour_clips import (
    LOSSLESS_H264,
    colour_of,
    make_tagged_clip,
    picture,
    plain_reencode,
    psnr8,
    psnr16,
    yuv_frames,
)

from tempo_core.commands import interpolate
from tempo_core.commands.cli import main
from tempo_core.video.colour import Colour, from_rgb, output_format, to_rgb
from tempo_core.video.reader import VideoReader
from tempo_core.video.writer import encoder_crf

SOURCES = {
    "sd_bt601": {"matrix": 6, "primaries": 6, "transfer": 6, "colour_range": 1},
    "hd_bt709_limited": {"matrix": 1, "primaries": 1, "transfer": 1, "colour_range": 1},
    "bt709_full_range": {"matrix": 1, "primaries": 1, "transfer": 1, "colour_range": 2},
    "untagged_sd": {},
    "untagged_hd": {"size": (1280, 720), "count": 2},
}
OUTPUTS = [("h264", "libx264", "yuv420p", ".mp4"), ("hevc", "libx265", "yuv420p", ".mkv")]
OUTPUTS += [("prores", "prores_ks", "yuv422p10le", ".mov")]


class TrueMotion:
    """Stands in for a good model: the in-between frame is the picture at that time (the source's
    content moves one pixel a frame), given as float RGB like ``Interpolator.synthesize``. The
    quality of the real frames around it then depends on the export, not on an untrained model."""

    tile = None
    device_name = "CPU (a test double)"

    def encode(self, frames, timestamps, tile=None):
        return frames[0].shape[:2], timestamps

    def synthesize(self, encoded, target_times, should_cancel=None):
        (height, width), _ = encoded
        results = []
        for time in target_times:
            rgb = picture(width, height, time * 24).astype(np.float32) / 65535.0
            image, confidence = (rgb * 255).round().astype(np.uint8), np.ones((height, width), np.float32)
            results.append(SimpleNamespace(rgb=rgb, image=image, confidence=confidence, time=time))
        return results


@pytest.fixture
def true_motion(monkeypatch):
    monkeypatch.setattr(interpolate, "load_interpolator", lambda args: TrueMotion())


def mean_psnr(frames, originals):
    return float(np.mean([psnr8(a, b) for a, b in zip(frames, originals, strict=True)]))


def rgb_psnr(path, source, step, count):
    """Mean PSNR of frames ``0, step, 2 step ...`` of ``path`` against the source, in 16-bit RGB
    read with each file's own matrix and range."""
    with VideoReader(path, deep=True) as out, VideoReader(source, deep=True) as src:
        return float(np.mean([psnr16(out.read_frame(step * i), src.read_frame(i)) for i in range(count)]))


@pytest.mark.parametrize("source_kind", list(SOURCES))
def test_copied_frame_matches_a_plain_reencode_and_tags_match(tmp_path, true_motion, capsys, source_kind):
    source = make_tagged_clip(tmp_path / "src.mp4", **SOURCES[source_kind], options=LOSSLESS_H264)
    count = SOURCES[source_kind].get("count", 3)
    original = yuv_frames(source, list(range(count)))
    wanted = colour_of(source)
    for codec, encoder, pix_fmt, ext in OUTPUTS:
        out = tmp_path / f"x2_{codec}{ext}"
        argv = ["interpolate", str(source), "-o", str(out), "--factor", "2", "--crf", "12", "--codec", codec]
        code = main([*argv, "--quiet"])
        assert code == 0, capsys.readouterr().err
        plain = plain_reencode(source, tmp_path / f"plain_{codec}{ext}", encoder, pix_fmt)
        if codec == "prores" and wanted.full_range:  # ours is scaled to limited range: compare RGB
            ours, theirs = rgb_psnr(out, source, 2, count), rgb_psnr(plain, source, 1, count)
        else:
            ours = mean_psnr(yuv_frames(out, [2 * i for i in range(count)]), original)
            theirs = mean_psnr(yuv_frames(plain, list(range(count))), original)
        assert ours >= theirs - 1.0, f"{codec}: {ours:.2f} dB against a plain re-encode's {theirs:.2f} dB"
        got = colour_of(out)
        assert (got.matrix, got.primaries, got.transfer) == (wanted.matrix, wanted.primaries, wanted.transfer)
        assert got.full_range == (wanted.full_range and codec != "prores"), codec
    assert "source colour" in capsys.readouterr().out


RATES = [(["--slowmo", "2"], "12.0", 24), (["--factor", "2"], "9.6", 48), (["--factor", "4"], "7.2", 96)]


@pytest.mark.parametrize(("mode", "crf", "rate"), RATES)
def test_x264_and_x265_get_the_crf_that_keeps_each_frame_at_the_output_rate(tmp_path, true_motion, mode, crf, rate):
    """crf 12 at 1x, 2x and 4x the source rate (24 fps): x264 and x265 write the crf they were
    given into the stream (their settings SEI), and the file and the stream declare the true
    output rate; the user's crf is the quality of a re-encode at the source rate."""
    source = make_tagged_clip(tmp_path / "src.mp4")
    for codec, ext in (("h264", ".mp4"), ("hevc", ".mkv")):
        out = tmp_path / f"out_{codec}{ext}"
        argv = ["interpolate", str(source), "-o", str(out), *mode, "--crf", "12", "--codec", codec]
        assert main([*argv, "--quiet"]) == 0
        assert f" crf={crf}".encode() in out.read_bytes(), codec
        with av.open(str(out)) as container:
            stream = container.streams.video[0]
            assert stream.average_rate == rate and stream.codec_context.framerate == rate, codec


def test_encoder_crf_undoes_the_rate_in_x264_rate_control():
    """6 (1 - qcomp) log2 of the ratio of the frame durations, each clipped to 0.01 .. 1 s as
    x264 and x265 clip them; within 0 .. 51; no source rate: unchanged."""
    assert encoder_crf(12, Fraction(24), Fraction(24)) == 12
    assert encoder_crf(12, Fraction(24), Fraction(48)) == pytest.approx(9.6)
    assert encoder_crf(12, Fraction(24000, 1001), Fraction(48000, 1001)) == pytest.approx(9.6)
    assert encoder_crf(12, 24, 96) == pytest.approx(7.2)
    assert encoder_crf(12, 24, 192) == pytest.approx(7.06)  # 192 fps counts as 100 fps
    assert encoder_crf(12, 60, 120) == pytest.approx(10.23)
    assert encoder_crf(12, 120, 240) == 12
    assert encoder_crf(12, 48, 24) == pytest.approx(14.4)  # fewer frames a second: each gets more bits
    assert encoder_crf(2, 24, 192) == 0
    assert encoder_crf(12, None, 48) == 12


def test_matrix_and_range_decide_the_rgb():
    """The same YUV samples read as BT.601 and as BT.709 give different RGB, and full range
    differs from limited: the reader uses the source's own matrix and range."""
    pixel = np.array([[[60000, 12000, 20000]]], np.uint16).repeat(4, 0).repeat(4, 1)
    bt709 = Colour(matrix=1, range=1, pix_fmt="yuv420p", width=4, height=4)
    out709, _ = output_format("hevc", bt709, "yuv420p", set())
    frame = from_rgb(pixel, bt709, out709)
    as_709 = to_rgb(frame, bt709, deep=True).astype(float)
    as_601 = to_rgb(frame, Colour(matrix=6, range=1, pix_fmt="yuv420p"), deep=True).astype(float)
    as_full = to_rgb(frame, Colour(matrix=1, range=2, pix_fmt="yuv420p"), deep=True).astype(float)
    assert np.abs(as_709 - pixel).max() < 800  # 8-bit limited-range quantization: about 3 levels of 255
    assert np.abs(as_601 - pixel).max() > 2000 and np.abs(as_full - pixel).max() > 2000


def test_untagged_sources_are_read_as_players_read_them():
    assert Colour(width=720, height=576).describe().startswith("untagged (read as BT.601)")
    assert Colour(width=1280, height=720).describe().startswith("untagged (read as BT.709)")
    assert Colour(matrix=9, range=2, bit_depth=10, transfer=16).describe() == "BT.2020 full 10-bit, PQ"


def test_png_export_copies_real_frames_as_the_reader_shows_them(tmp_path, true_motion, capsys):
    """A YUV source to PNG: each real frame is, to the bit, the RGB picture the reader (and so the
    app's viewer) gives for it: the decoded frame goes to the writer, converted once as the viewer does."""
    source = make_tagged_clip(tmp_path / "src.mp4", **SOURCES["hd_bt709_limited"])
    out = tmp_path / "frames"
    assert main(["interpolate", str(source), "-o", str(out), "--factor", "2", "--codec", "png", "--quiet"]) == 0
    written = sorted(out.glob("frame_*.png"))
    with VideoReader(source) as reader:
        for index in range(3):
            expected = reader.read_frame(index)
            np.testing.assert_array_equal(np.asarray(Image.open(written[2 * index]).convert("RGB")), expected)
