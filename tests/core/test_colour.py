"""Colour kept through ``tempo interpolate`` (issue 20, point 1).

Sources are H.264 at crf 12 made with PyAV (:mod:`tempo_colour_clips`): SD BT.601, HD BT.709
limited, BT.709 full range, untagged SD and untagged 1280x720. Each goes through
``tempo interpolate --factor 2 --crf 12`` to H.264, HEVC and ProRes; the real frames it copies
must decode (YUV samples, as ffmpeg's psnr filter compares them) within 1 dB of a plain re-encode
of the same source at the same settings (YUV in, tags copied, what ``ffmpeg -c:v ENCODER``
does), and the four colour tags must match. x264 spends its bits per second, not per frame: at
twice the frame rate every frame of any clip gets fewer (measured in benchmarks/colour_export.py),
so the H.264 reference is the plain re-encode at the output rate (``ffmpeg -r 48``, frames shown
twice), and even against that one x264 gives the copied frames of these tiny synthetic clips
up to 3.3 dB less (0.7 to 1.9 dB at 320x192 and 640x360), so H.264 is held to 3.5 dB, which still
fails a wrong matrix or range (about 30 dB) or an 8-bit RGB round trip (38 to 44 dB); HEVC
and ProRes are held to 1 dB of the plain re-encode at the source rate. Limited and unspecified
range are the same thing for YUV (x265 writes "limited" for an untagged source).
"""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from tempo_colour_clips import colour_of, make_tagged_clip, picture, plain_reencode, psnr8, psnr16, yuv_frames

from tempo_core.commands import interpolate
from tempo_core.commands.cli import main
from tempo_core.video.colour import Colour, from_rgb, output_format, to_rgb
from tempo_core.video.reader import VideoReader

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

    def synthesize(self, encoded, target_times):
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
    source = make_tagged_clip(tmp_path / "src.mp4", **SOURCES[source_kind])
    count = SOURCES[source_kind].get("count", 3)
    original = yuv_frames(source, list(range(count)))
    wanted = colour_of(source)
    for codec, encoder, pix_fmt, ext in OUTPUTS:
        out = tmp_path / f"x2_{codec}{ext}"
        argv = ["interpolate", str(source), "-o", str(out), "--factor", "2", "--crf", "12", "--codec", codec]
        code = main([*argv, "--quiet"])
        assert code == 0, capsys.readouterr().err
        repeat = 2 if codec == "h264" else 1
        plain = plain_reencode(source, tmp_path / f"plain_{codec}{ext}", encoder, pix_fmt, repeat)
        if codec == "prores" and wanted.full_range:  # ours is scaled to limited range: compare RGB
            ours, theirs = rgb_psnr(out, source, 2, count), rgb_psnr(plain, source, 1, count)
        else:
            ours = mean_psnr(yuv_frames(out, [2 * i for i in range(count)]), original)
            theirs = mean_psnr(yuv_frames(plain, [repeat * i for i in range(count)]), original)
        margin = 3.5 if codec == "h264" else 1.0
        assert ours >= theirs - margin, f"{codec}: {ours:.2f} dB against a plain re-encode's {theirs:.2f} dB"
        got = colour_of(out)
        assert (got.matrix, got.primaries, got.transfer) == (wanted.matrix, wanted.primaries, wanted.transfer)
        assert got.full_range == (wanted.full_range and codec != "prores"), codec
    assert "source colour" in capsys.readouterr().out


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
