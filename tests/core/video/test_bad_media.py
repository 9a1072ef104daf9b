"""Bad media: every row gives a correct result or one plain MediaError sentence, never a crash.

Rows (README matrix): empty file, non-video with a video extension, truncated, bit-flipped,
zero-frame stream, audio-only, one frame, odd/tiny size, gray/alpha/10-bit, rotated, variable
frame rate and non-increasing PTS through the whole engine, 8K on a small memory budget, and a
hypothesis fuzz over the reader with mutated bytes of real (tiny) clips.
"""

import errno
from fractions import Fraction

import av
import numpy as np
import pytest
from hostile_files import mkv_claiming_size, y4m_claiming_size
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tempo_test_clips import frame_image, frame_number, make_clip, write_8k_gray_clip

from tempo_core.errors import InputError, MediaError, describe, error_words
from tempo_core.video.engine import AUTO_TILE, ExportSettings, run_export, tile_for
from tempo_core.video.reader import VideoReader, probe


@pytest.fixture(scope="module")
def h264_bytes(tmp_path_factory):
    path = make_clip(tmp_path_factory.mktemp("h264") / "c.mp4", count=8, codec="libx264")
    return path.read_bytes()


def assert_plain(err: MediaError) -> None:
    text = str(err)
    assert text.endswith(".") and "\n" not in text and "Traceback" not in text
    assert len(text) < 200


def read_all_or_plain_error(path) -> int | None:
    """Open and decode every frame; return the frame count, or None after a plain MediaError."""
    try:
        with VideoReader(path, cache_size=2) as reader:
            for index in range(len(reader)):
                image = reader.read_frame(index)
                assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            assert np.all(np.diff(reader.frame_times) > 0)
            return len(reader)
    except MediaError as err:
        assert_plain(err)
        return None


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(MediaError, match="does not exist") as err:
        VideoReader(tmp_path / "nothing.mp4")
    assert_plain(err.value)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match="is empty"):
        VideoReader(tmp_path / "empty.mp4")
    with pytest.raises(MediaError, match="folder"):
        VideoReader(tmp_path)


def test_a_pipe_named_like_a_video_is_refused_without_opening_it(tmp_path, capsys):
    """A FIFO as input blocked the run for good: refused from ``stat``, in the reader, the
    header check and the CLI (issue 28 item 4)."""
    from fifo_guard import guarded_fifo

    from tempo_core.commands.cli import main
    from tempo_core.video.reader import check_video_header

    with guarded_fifo(tmp_path / "live.mp4") as fifo:
        for opener in (VideoReader, check_video_header, probe):
            with pytest.raises(MediaError, match=r"live\.mp4 is a named pipe \(FIFO\), not a video file\.") as err:
                opener(fifo)
            assert_plain(err.value)
        assert main(["interpolate", str(fifo), "-o", str(tmp_path / "o.mkv"), "--factor", "2", "--quiet"]) == 1
        assert "is a named pipe (FIFO), not a video file." in capsys.readouterr().err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]


def test_non_video_with_video_extension(tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("This is a shopping list, not a video.\n" * 50)
    with pytest.raises(MediaError, match="not a video file") as err:
        VideoReader(fake)
    assert_plain(err.value)


def test_truncated_files(tmp_path, h264_bytes):
    mp4 = tmp_path / "cut.mp4"  # the index (moov) is at the end: nothing is readable
    mp4.write_bytes(h264_bytes[: len(h264_bytes) // 2])
    with pytest.raises(MediaError):
        VideoReader(mp4)
    full = make_clip(tmp_path / "full.mkv", count=10)
    data = full.read_bytes()
    mkv = tmp_path / "cut.mkv"  # streamable: the frames before the cut survive
    mkv.write_bytes(data[: int(len(data) * 0.6)])
    count = read_all_or_plain_error(mkv)
    assert count is not None and 1 <= count < 10
    with VideoReader(mkv) as reader:
        np.testing.assert_array_equal(reader.read_frame(count - 1), frame_image(count - 1))


def test_bit_flipped_file(tmp_path, h264_bytes):
    data = bytearray(h264_bytes)
    rng = np.random.default_rng(1)
    for position in rng.integers(len(data) // 4, len(data) - 8, 40):
        data[position] ^= 0xFF
    path = tmp_path / "flipped.mp4"
    path.write_bytes(bytes(data))
    read_all_or_plain_error(path)


def test_zero_frame_stream(tmp_path):
    path = tmp_path / "zero.mkv"
    container = av.open(str(path), "w")
    stream = container.add_stream("ffv1", rate=24)
    stream.width, stream.height, stream.pix_fmt = 32, 24, "bgr0"
    container.start_encoding()
    container.close()
    with pytest.raises(MediaError, match="no frames|not a video|no video") as err:
        VideoReader(path)
    assert_plain(err.value)


def test_audio_only_file(tmp_path):
    path = tmp_path / "song.m4a"
    container = av.open(str(path), "w", format="mp4")
    stream = container.add_stream("aac", rate=48000, layout="mono")
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate, frame.pts = 48000, 0
    for packet in [*stream.encode(frame), *stream.encode()]:
        container.mux(packet)
    container.close()
    with pytest.raises(MediaError, match="only audio"):
        VideoReader(path)


def test_one_frame_video_exports_held_frames(tmp_path, interpolator):
    source = make_clip(tmp_path / "one.mkv", count=1, width=32, height=24)
    assert probe(source).frame_count == 1
    out = tmp_path / "one_x3.mkv"
    result = run_export(ExportSettings(source, out, "factor", 3, codec="ffv1"), interpolator)
    assert result.frames_written == 3 and result.synthesized == 0
    with VideoReader(out) as reader:
        for index in range(3):
            np.testing.assert_array_equal(reader.read_frame(index), frame_image(0, 32, 24))


@pytest.mark.parametrize(("codec", "name"), [("ffv1", "tiny.mkv"), ("h264", "tiny.mp4")])
def test_odd_tiny_size_17x9(tmp_path, interpolator, codec, name):
    source = make_clip(tmp_path / "odd.mkv", count=2, width=17, height=9)
    with VideoReader(source) as reader:
        assert (reader.info.width, reader.info.height) == (17, 9)
    result = run_export(ExportSettings(source, tmp_path / name, "factor", 2, codec=codec), interpolator)
    info = probe(result.output_path)
    assert info.frame_count == 4
    if codec == "ffv1":
        assert (info.width, info.height) == (17, 9)
    else:  # 4:2:0 needs even sizes: padded by one edge pixel, and said so
        assert (info.width, info.height) == (18, 10) and result.notes


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "name"),
    [
        ("ffv1", "gray", "g.mkv"),
        ("ffv1", "yuva420p", "a.mkv"),
        ("ffv1", "yuv420p10le", "ten.mkv"),
        ("libx265", "yuv420p10le", "ten_hevc.mkv"),
    ],
)
def test_gray_alpha_and_10_bit_sources_export(tmp_path, interpolator, codec, pix_fmt, name):
    source = make_clip(tmp_path / name, count=2, width=32, height=24, codec=codec, pix_fmt=pix_fmt)
    assert probe(source).bit_depth == (10 if "10" in pix_fmt else 8)
    out = tmp_path / f"out_{name}.mkv"
    result = run_export(ExportSettings(source, out, "factor", 2, codec="ffv1"), interpolator)
    assert result.frames_written == 4
    with VideoReader(out) as reader:
        assert frame_number(reader.read_frame(2)) == 1


def test_rotated_source_exports_upright(tmp_path, interpolator):
    source = make_clip(tmp_path / "rot.mkv", count=2, width=32, height=24, rotation=90)
    out = tmp_path / "rot_out.mkv"
    run_export(ExportSettings(source, out, "factor", 2, codec="ffv1"), interpolator)
    with VideoReader(out) as reader:
        assert reader.info.rotation == 0 and (reader.info.width, reader.info.height) == (24, 32)
        np.testing.assert_array_equal(reader.read_frame(2), np.rot90(frame_image(1, 32, 24)))


def test_non_increasing_pts_export(tmp_path, interpolator):
    source = make_clip(tmp_path / "pts.mkv", count=5, width=32, height=24, times_ms=[0, 40, 40, 20, 160])
    out = tmp_path / "pts_out.mkv"
    result = run_export(ExportSettings(source, out, "factor", 1, codec="ffv1", scene_threshold=1), interpolator)
    assert result.frames_written >= 4
    with VideoReader(out) as reader:
        np.testing.assert_array_equal(reader.read_frame(0), frame_image(0, 32, 24))


def test_8k_frames_on_a_small_memory_budget(tmp_path):
    source = write_8k_gray_clip(tmp_path / "8k.mkv")
    budget = 150 * 2**20  # room for one 8K RGB frame (100 MB), not two
    with VideoReader(source, cache_size=64, max_cache_bytes=budget) as reader:
        assert (reader.info.width, reader.info.height) == (7680, 4320)
        assert reader.read_frame(1)[0, 0, 0] == 50 and reader.read_frame(0)[0, 0, 0] == 0
        assert len(reader._cache) == 1

    class Tiles:
        tile = None

    notes = []
    assert tile_for(ExportSettings(source, "x.mp4", "fps", 30), Tiles, 7680 * 4320, notes) == AUTO_TILE
    assert notes and Tiles.tile is None
    assert tile_for(ExportSettings(source, "x.mp4", "fps", 30, tile=512), Tiles, 7680 * 4320, []) == 512


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=24))
def test_fuzz_reader_with_mutated_bytes(tmp_path, h264_bytes, edits):
    data = bytearray(h264_bytes)
    for where, value in edits:
        data[min(len(data) - 1, int(where * len(data)))] = value
    path = tmp_path / "fuzz.mp4"
    path.write_bytes(bytes(data))
    read_all_or_plain_error(path)


def resizing_clip(path, sizes):
    """A NUT file of PNG packets (each self-contained, so sizes may differ); header 32 x 24."""
    container = av.open(str(path), "w")
    stream = container.add_stream("png", rate=24)
    stream.width, stream.height, stream.pix_fmt = 32, 24, "rgb24"
    for index, (width, height) in enumerate(sizes):
        encoder = av.CodecContext.create("png", "w")
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "rgb24"
        encoder.time_base = Fraction(1, 24)
        frame = av.VideoFrame.from_ndarray(frame_image(index, width, height), format="rgb24")
        frame.pts = index
        for packet in encoder.encode(frame):
            packet.stream = stream
            packet.time_base = Fraction(1, 24)
            packet.pts = packet.dts = index
            container.mux(packet)
    container.close()
    return path


def test_size_change_mid_stream_keeps_the_first_size(tmp_path):
    path = resizing_clip(tmp_path / "resize.nut", [(32, 24), (32, 24), (64, 48)])
    with VideoReader(path) as reader:
        assert len(reader) == 3
        assert {reader.read_frame(i).shape for i in range(3)} == {(24, 32, 3)}


def test_a_huge_frame_mid_stream_is_refused_when_decoded(tmp_path):
    """The header says 32 x 24; a later frame is 20000 pixels wide: a sentence, never converted."""
    path = resizing_clip(tmp_path / "grows.nut", [(32, 24), (20000, 8), (32, 24), (32, 24)])
    with pytest.raises(MediaError, match="20000 x 8 pixels; TEMPO reads frames up to 16384 pixels on a side"):
        with VideoReader(path) as reader:  # refused while indexing (this file), or when reached
            for index in range(len(reader)):
                reader.read_frame(index)


def test_header_claiming_huge_frames_is_refused_before_decoding(tmp_path):
    """The 50 KB file of issue 22: a Matroska header saying 16000 x 16000, and a y4m saying 30000."""
    huge = mkv_claiming_size(tmp_path / "huge.mkv", 16000, 16000)
    assert huge.stat().st_size < 50_000
    with pytest.raises(MediaError, match="16000 x 16000 pixels; TEMPO reads frames up to 133 megapixels") as err:
        VideoReader(huge)
    assert_plain(err.value)
    y4m = y4m_claiming_size(tmp_path / "huge.y4m", 30000, 30000)
    with pytest.raises(MediaError, match="30000 x 30000 pixels; TEMPO reads frames up to 16384 pixels on a side"):
        VideoReader(y4m)
    wide = mkv_claiming_size(tmp_path / "wide.mkv", 20000, 24)
    with pytest.raises(MediaError, match="16384 pixels on a side"):
        probe(wide)


def test_frames_larger_than_the_memory_at_hand_are_refused(tmp_path, monkeypatch, interpolator):
    source = make_clip(tmp_path / "vga.mkv", count=2, width=640, height=480)
    monkeypatch.setenv("TEMPO_MEMORY_BYTES", str(5 * 2**20))
    with pytest.raises(MediaError, match=r"640 x 480 pixels, which need about 9 MB of memory; 5 MB is available"):
        VideoReader(source)
    monkeypatch.setenv("TEMPO_MEMORY_BYTES", str(20 * 2**20))
    with VideoReader(source) as reader:  # enough to show it, not to interpolate it
        assert reader.info.width == 640
    with pytest.raises(MediaError, match="need about 46 MB of memory; 20 MB is available"):
        run_export(ExportSettings(source, tmp_path / "o.mkv", "factor", 2, codec="ffv1"), interpolator)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vga.mkv"]


@pytest.mark.parametrize(("mode", "value"), [("slowmo", 1e7), ("fps", 1e9), ("factor", 1e8)])
def test_absurd_frame_counts_are_refused_before_planning(tmp_path, interpolator, mode, value):
    source = make_clip(tmp_path / "c.mkv", count=2, width=32, height=24)
    with pytest.raises(InputError, match="TEMPO writes at most 2,000,000 frames per output"):
        run_export(ExportSettings(source, tmp_path / "o.mkv", mode, value, codec="ffv1"), interpolator)


def test_error_numbers_become_words(tmp_path):
    assert error_words(1094995529) == "invalid data found when processing input"
    assert error_words(-errno.EBUSY) == "device or resource busy"
    assert error_words(123456789) is None
    damaged = av.error.InvalidDataError(1094995529, "Invalid data found when processing input", "x.mkv")
    assert describe(damaged) == "invalid data found when processing input"
    assert describe(OSError("[Errno 1094995529] Invalid data found when processing input")) == (
        "invalid data found when processing input"
    )
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)  # an EBML magic, then noise
    with pytest.raises(MediaError) as err:
        VideoReader(junk)
    assert_plain(err.value)
    assert not any(char.isdigit() for char in str(err.value).split("(")[-1])


def test_still_image_is_not_a_video(tmp_path):
    from PIL import Image

    frames = [Image.fromarray(frame_image(index)) for index in range(2)]
    for name in ("still.png", "still.jpg", "still.bmp", "still.gif"):
        frames[0].save(tmp_path / name)
        with pytest.raises(MediaError, match=f"{name} is a still image, not a video") as err:
            VideoReader(tmp_path / name)
        assert_plain(err.value)
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with VideoReader(tmp_path / "moving.gif") as reader:  # an animated GIF is a clip
        assert len(reader) == 2


def test_sources_beyond_the_frame_count_limit_are_refused_while_indexing(tmp_path, monkeypatch):
    from tempo_core.video import limits

    source = make_clip(tmp_path / "c.mkv", count=8, width=32, height=24)
    monkeypatch.setattr(limits, "MAX_SOURCE_FRAMES", 5)
    with pytest.raises(MediaError, match="c.mkv holds more than 5 frames, the most TEMPO indexes") as err:
        VideoReader(source)
    assert_plain(err.value)
