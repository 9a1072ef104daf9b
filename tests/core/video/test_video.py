"""Video reading and writing: timestamps, random access, rotation, pixel formats, codecs, audio."""

from fractions import Fraction

import numpy as np
import pytest
from tempo_test_clips import frame_image, frame_number, make_clip

from tempo_core.errors import OutputError
from tempo_core.video.reader import VideoReader, probe
from tempo_core.video.timestamps import repair_times
from tempo_core.video.writer import VideoWriter


@pytest.fixture(scope="module")
def ffv1_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "lossless.mkv", count=10)


def test_reader_info_and_times(ffv1_clip):
    with VideoReader(ffv1_clip) as reader:
        info = reader.info
        assert (info.width, info.height, info.frame_count) == (64, 48, 10)
        assert info.fps == pytest.approx(24.0)
        assert info.duration == pytest.approx(10 / 24, abs=2e-3)
        assert info.rotation == 0 and not info.has_audio and info.codec == "ffv1"
        assert np.all(np.diff(reader.frame_times) > 0)
        np.testing.assert_allclose(reader.frame_times, np.arange(10) / 24, atol=1e-3)
    assert probe(ffv1_clip) == info


def test_random_access_is_frame_accurate_and_exact(ffv1_clip):
    with VideoReader(ffv1_clip, cache_size=2) as reader:
        for index in [7, 2, 9, 0, 5, 5, 1, 8]:
            image = reader.read_frame(index)
            assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
            np.testing.assert_array_equal(image, frame_image(index))


def test_h264_with_bframes_random_access(tmp_path):
    path = make_clip(tmp_path / "b.mp4", count=12, codec="libx264")
    with VideoReader(path, cache_size=1) as reader:
        assert reader.info.frame_count == 12
        for index in [11, 3, 6, 0, 10, 4]:
            assert frame_number(reader.read_frame(index)) == index
        np.testing.assert_allclose(np.diff(reader.frame_times), 1 / 24, atol=1e-6)


def test_nearest_queries(ffv1_clip):
    with VideoReader(ffv1_clip) as reader:
        assert reader.frame_at(-1.0) == 0
        assert reader.frame_at(0.05) == 1
        assert reader.frame_at(100.0) == 9
        assert reader.nearest_indices(0.1, 2) == [2, 3]
        assert reader.nearest_indices(0.1, 4) == [1, 2, 3, 4]
        assert reader.nearest_indices(0.0, 3) == [0, 1, 2]


def test_variable_frame_rate_keeps_true_timestamps(tmp_path):
    times_ms = [0, 40, 80, 200, 240, 250, 400]
    path = make_clip(tmp_path / "vfr.mkv", count=7, times_ms=times_ms)
    with VideoReader(path) as reader:
        np.testing.assert_allclose(reader.frame_times, np.array(times_ms) / 1000)
        assert reader.info.fps == pytest.approx(6 / 0.4)
        assert frame_number(reader.read_frame(5)) == 5


def test_non_increasing_pts_are_repaired_in_decode_order(tmp_path):
    path = make_clip(tmp_path / "broken.mkv", count=7, times_ms=[0, 40, 80, 80, 60, 200, 240])
    with VideoReader(path) as reader:
        assert np.all(np.diff(reader.frame_times) > 0)
        assert reader.frame_times[0] == 0 and reader.frame_times[-1] == pytest.approx(0.24)
        for index in [6, 3, 0, 4]:
            np.testing.assert_array_equal(reader.read_frame(index), frame_image(index))


def test_repair_times_rules():
    np.testing.assert_allclose(repair_times([0, 1, 2, 3], 1), [0, 1, 2, 3])
    fixed = repair_times([0.0, None, 2.0, 2.0, 1.5, 5.0], 1.0)
    assert np.all(np.diff(fixed) > 0) and fixed[0] == 0 and fixed[-1] == 5
    np.testing.assert_allclose(repair_times([None, None, None], 0.5), [0, 0.5, 1.0])
    np.testing.assert_allclose(repair_times([3.0, 3.0, 3.0], 0.5), [3.0, 3.5, 4.0])


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_applied(tmp_path, rotation):
    path = make_clip(tmp_path / f"rot{rotation}.mkv", count=3, rotation=rotation)
    with VideoReader(path) as reader:
        assert reader.info.rotation == rotation
        expected = np.rot90(frame_image(1), k=rotation // 90)
        size = (expected.shape[1], expected.shape[0])
        assert (reader.info.width, reader.info.height) == size
        np.testing.assert_array_equal(reader.read_frame(1), expected)


@pytest.mark.parametrize(("pix_fmt", "depth"), [("gray", 8), ("yuva420p", 8), ("yuv420p10le", 10), ("yuv444p", 8)])
def test_pixel_formats_decode_to_rgb(tmp_path, pix_fmt, depth):
    path = make_clip(tmp_path / f"{pix_fmt}.mkv", count=3, pix_fmt=pix_fmt)
    with VideoReader(path) as reader:
        assert reader.info.pix_fmt == pix_fmt and reader.info.bit_depth == depth
        image = reader.read_frame(2)
        assert image.shape == (48, 64, 3) and image.dtype == np.uint8
        assert frame_number(image) == 2


@pytest.mark.parametrize(
    ("codec", "name"),
    [("h264", "o.mp4"), ("hevc", "o.mkv"), ("prores", "o.mov"), ("ffv1", "o.mkv"), ("png", "seq")],
)
def test_writer_codecs_round_trip(tmp_path, codec, name):
    out = tmp_path / name
    with VideoWriter(out, rate=Fraction(30), width=64, height=48, codec=codec) as writer:
        for index in range(5):
            writer.write(frame_image(index))
        writer.finish()
    if codec == "png":
        files = sorted(out.glob("frame_*.png"))
        assert [f.name for f in files][:2] == ["frame_000000.png", "frame_000001.png"]
        from PIL import Image

        np.testing.assert_array_equal(np.asarray(Image.open(files[3])), frame_image(3))
        return
    with VideoReader(out) as reader:
        assert reader.info.frame_count == 5 and reader.info.fps == pytest.approx(30)
        image = reader.read_frame(3)
        if codec == "ffv1":
            np.testing.assert_array_equal(image, frame_image(3))
        assert frame_number(image) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_writer_odd_size_is_padded_with_a_note(tmp_path):
    with VideoWriter(tmp_path / "odd.mp4", rate=Fraction(24), width=17, height=9) as writer:
        writer.write(np.full((9, 17, 3), 128, np.uint8))
        writer.finish()
    assert any("even" in note for note in writer.notes)
    assert probe(tmp_path / "odd.mp4").width == 18


def test_writer_fractional_rate_and_audio_copy(tmp_path):
    source = make_clip(tmp_path / "a.mkv", count=6, audio=True)
    out = tmp_path / "ntsc.mp4"
    rate = Fraction(60000, 1001)
    with VideoWriter(out, rate=rate, width=64, height=48, audio_source=source) as writer:
        for index in range(6):
            writer.write(frame_image(index))
        writer.finish()
    assert writer.audio == "copied"
    info = probe(out)
    assert info.has_audio and info.fps == pytest.approx(float(rate), rel=1e-4)


def test_writer_refuses_existing_output_and_bad_container(tmp_path):
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        VideoWriter(existing, rate=Fraction(24), width=64, height=48)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(OutputError, match="cannot be written"):
        VideoWriter(tmp_path / "x.mp4", rate=Fraction(24), width=64, height=48, codec="ffv1")
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "x.mp4", rate=Fraction(24), width=64, height=48)


def test_writer_abort_leaves_nothing(tmp_path):
    out = tmp_path / "partial.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, rate=Fraction(24), width=64, height=48) as writer:
            writer.write(frame_image(0))
            raise RuntimeError("crash in the middle")
    assert list(tmp_path.iterdir()) == []


def test_writer_copies_only_the_audio_of_the_range(tmp_path):
    import av

    source = make_clip(tmp_path / "a.mkv", count=12, audio=True)  # ~0.54 s of tone
    out = tmp_path / "range.mp4"
    with VideoWriter(
        out,
        rate=Fraction(24),
        width=64,
        height=48,
        audio_source=source,
        audio_start=0.2,
        audio_end=0.3,
    ) as writer:
        for index in range(3):
            writer.write(frame_image(index))
        writer.finish()
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        times = [p.pts * audio.time_base for p in container.demux(audio) if p.pts is not None]
    assert min(times) < 0.03 and 0.05 < max(times) < 0.15  # shifted to 0, ~0.1 s long
