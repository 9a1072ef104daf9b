"""10-bit kept (issue 20, point 2): no 8-bit step from the decoded source to the encoder.

A 10-bit gradient clip (FFV1 or HEVC Main10, made with PyAV) is exported x2; the output is 10-bit
for HEVC, ProRes and FFV1 and shows more than 256 distinct levels per channel, in its real frames
and in its synthesized ones (the model's float RGB is written through 16-bit RGB); real frames
reach FFV1 unchanged (the same YUV samples); H.264 stays 8-bit with a note; PQ and HLG transfer
tags (with BT.2020 primaries and matrix) are carried through.
"""

import av
import numpy as np
import pytest
from tempo_colour_clips import Blend, colour_of, gradient, make_tagged_clip

from tempo_core.video.engine import ExportSettings, run_export
from tempo_core.video.reader import VideoReader

W, H = 128, 96


def ten_bit_source(tmp_path, encoder="ffv1", **tags):
    ext = ".mkv"
    return make_tagged_clip(
        tmp_path / f"src10_{encoder}{ext}",
        encoder=encoder,
        pix_fmt="yuv420p10le",
        size=(W, H),
        count=3,
        content=gradient,
        **tags,
    )


def levels(path, index):
    """Distinct levels per channel of frame ``index`` read as 16-bit RGB."""
    with VideoReader(path, deep=True) as reader:
        image = reader.read_frame(index)
        return [len(np.unique(image[..., c])) for c in range(3)]


def yuv_samples(path, index):
    """Pixel format and samples (``to_ndarray``) of frame ``index`` in decode order."""
    with av.open(str(path)) as container:
        for position, frame in enumerate(container.decode(video=0)):
            if position == index:
                return frame.format.name, frame.to_ndarray()
    raise AssertionError(index)


@pytest.mark.parametrize(
    ("codec", "name", "pix_fmt"),
    [("ffv1", "o.mkv", "yuv420p10le"), ("hevc", "o.mkv", "yuv420p10le"), ("prores", "o.mov", "yuv422p10le")],
)
def test_ten_bit_source_stays_ten_bit(tmp_path, codec, name, pix_fmt):
    source = ten_bit_source(tmp_path)
    out = tmp_path / name
    result = run_export(ExportSettings(source, out, "factor", 2, codec=codec, quality=12, scene_threshold=1), Blend())
    assert result.synthesized == 2 and "10-bit" in result.colour
    with VideoReader(out) as reader:
        assert reader.info.pix_fmt == pix_fmt and reader.info.bit_depth == 10
    assert min(levels(out, 2)) > 256, "a real frame lost its depth"
    assert min(levels(out, 1)) > 256, "a synthesized frame went through 8 bits"


def test_real_frames_reach_ffv1_unchanged(tmp_path):
    source = ten_bit_source(tmp_path)
    out = tmp_path / "o.mkv"
    run_export(ExportSettings(source, out, "factor", 2, codec="ffv1", scene_threshold=1), Blend())
    for index in range(3):
        fmt, samples = yuv_samples(out, 2 * index)
        assert fmt == "yuv420p10le"
        np.testing.assert_array_equal(samples, yuv_samples(source, index)[1])


def test_h264_is_eight_bit_with_a_note(tmp_path):
    source = ten_bit_source(tmp_path)
    out = tmp_path / "o.mp4"
    result = run_export(ExportSettings(source, out, "factor", 2, codec="h264", scene_threshold=1), Blend())
    assert any("H.264 is written 8-bit" in note and "10-bit" in note for note in result.notes)
    with VideoReader(out) as reader:
        assert reader.info.bit_depth == 8


@pytest.mark.parametrize(("transfer", "name"), [(16, "PQ"), (18, "HLG")])
def test_hdr_transfer_tags_are_carried(tmp_path, transfer, name):
    source = ten_bit_source(tmp_path, encoder="libx265", matrix=9, primaries=9, transfer=transfer, colour_range=1)
    assert colour_of(source).transfer == transfer
    for codec, filename in [("hevc", "o.mkv"), ("ffv1", "o_ffv1.mkv")]:
        out = tmp_path / filename
        result = run_export(ExportSettings(source, out, "factor", 2, codec=codec, scene_threshold=1), Blend())
        got = colour_of(out)
        assert (got.matrix, got.primaries, got.transfer, got.bit_depth) == (9, 9, transfer, 10), codec
        assert result.colour.endswith(name)


def test_gradient_has_thousands_of_levels():
    assert min(len(np.unique(gradient(W, H, 0)[..., c])) for c in range(3)) > 1000


def test_interpolator_gives_float_rgb_beside_the_rounded_image(interpolator):
    frames = [gradient(32, 32, 0), gradient(32, 32, 2)]
    synthesis = interpolator.synthesize(interpolator.encode(frames, [0.0, 1.0]), [0.5])[0]
    assert synthesis.rgb.dtype == np.float32 and synthesis.rgb.shape == (32, 32, 3)
    np.testing.assert_array_equal(synthesis.image, (synthesis.rgb * 255.0).round().astype(np.uint8))
    assert np.abs(synthesis.rgb * 255.0 - np.round(synthesis.rgb * 255.0)).max() > 0.1  # not on the 8-bit grid
