"""The export engine end to end with the real Interpolator (tiny untrained model, CPU).

Clips are 32x24, a handful of frames, lossless FFV1 unless a test needs H.264 or audio, so
pass-through frames can be compared bit for bit. ``Recording`` is a test double that *delegates*
to the real Interpolator and records the anchor and target times it was asked for.
"""

import errno
import hashlib
import threading

import numpy as np
import pytest
from tempo_test_clips import frame_image, frame_number, make_clip

from tempo_core.errors import Cancelled, ModelError, OutputError
from tempo_core.inference import Synthesis
from tempo_core.output_paths import MARKER
from tempo_core.video.engine import CancelToken, ExportSettings, make_jobs, run_export
from tempo_core.video.reader import VideoReader, probe
from tempo_core.video.timeline import plan_output
from tempo_core.video.writer import VideoWriter

W, H = 32, 24


class Recording:
    """Delegates to a real Interpolator; records (anchor_times, target_times) per call."""

    def __init__(self, inner, fail_after: int | None = None):
        self.inner = inner
        self.calls: list[tuple[list[float], list[float]]] = []
        self.tiles: list = []
        self.threads: list[set[str]] = []
        self.fail_after = fail_after
        self._anchor_times: list[float] = []

    @property
    def tile(self):
        return self.inner.tile

    def encode(self, frames, timestamps, tile=None):
        self._anchor_times = list(timestamps)
        self._tile = tile
        return self.inner.encode(frames, timestamps, tile=tile)

    def synthesize(self, encoded, target_times, should_cancel=None):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise ModelError("The model failed (test).")
        self.calls.append((self._anchor_times, list(target_times)))
        self.tiles.append(self._tile)
        self.threads.append({t.name for t in threading.enumerate()})
        return self.inner.synthesize(encoded, target_times)


def clip(tmp_path, name="src.mkv", **kw):
    kw.setdefault("count", 6)
    return make_clip(tmp_path / name, width=W, height=H, **kw)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_factor_two_passes_real_frames_bit_exact(tmp_path, interpolator):
    source = clip(tmp_path)
    before = digest(source)
    out = tmp_path / "x2.mkv"
    seen = []
    result = run_export(ExportSettings(source, out, "factor", 2, codec="ffv1"), interpolator, progress=seen.append)
    assert result.output_path == out and result.frames_written == 12
    assert result.synthesized == 5 and result.audio == "none" and result.held_at_cuts == 0
    with VideoReader(out) as reader:
        assert reader.info.frame_count == 12 and reader.info.fps == pytest.approx(48)
        for index in range(6):
            np.testing.assert_array_equal(reader.read_frame(2 * index), frame_image(index, W, H))
    assert digest(source) == before
    assert seen[-1].done == seen[-1].total == 12
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert not leftovers(tmp_path)


def test_fps_24_to_60_with_audio_copied(tmp_path, interpolator):
    source = make_clip(tmp_path / "a.mkv", count=4, width=W, height=H, audio=True)
    out = tmp_path / "60.mp4"
    recorder = Recording(interpolator)
    result = run_export(ExportSettings(source, out, "fps", 60, scene_threshold=1), recorder)
    assert result.frames_written == 10 and result.audio == "copied"
    info = probe(out)
    assert info.fps == pytest.approx(60) and info.frame_count == 10 and info.has_audio
    assert info.duration == pytest.approx(4 / 24, abs=0.01)
    targets = [t for _, times in recorder.calls for t in times]
    np.testing.assert_allclose(targets, [k / 60 for k in range(1, 8) if k % 5], atol=1e-3)
    with VideoReader(out) as reader:
        assert [frame_number(reader.read_frame(k)) for k in (0, 5)] == [0, 2]


def test_slowmo_drops_audio_with_a_note(tmp_path, interpolator):
    source = make_clip(tmp_path / "a.mkv", count=3, width=W, height=H, audio=True)
    out = tmp_path / "slow.mkv"
    result = run_export(ExportSettings(source, out, "slowmo", 3, codec="ffv1"), interpolator)
    assert result.frames_written == 9 and result.audio == "dropped"
    assert any("slow motion" in note for note in result.notes)
    info = probe(out)
    assert info.fps == pytest.approx(24) and not info.has_audio
    assert info.duration == pytest.approx(9 / 24, abs=0.01)


def test_scene_cut_gets_no_blended_frames(tmp_path, interpolator):
    source = clip(tmp_path, count=4, scenes=[0, 0, 1, 1])
    out = tmp_path / "cut.mkv"
    recorder = Recording(interpolator)
    result = run_export(ExportSettings(source, out, "factor", 3, codec="ffv1"), recorder)
    assert result.cuts == [2] and result.held_at_cuts == 2 and result.synthesized == 4
    cut_time = 2 / 24
    for anchor_times, _ in recorder.calls:
        sides = {t > cut_time - 1e-3 for t in anchor_times}
        assert len(sides) == 1
    with VideoReader(out) as reader:
        between = [reader.read_frame(k) for k in range(3, 7)]  # 1/24 .. 2/24
    expected = [(1, 0), (1, 0), (2, 1), (2, 1)]  # hold the nearest real frame on each side
    for image, (index, scene) in zip(between, expected, strict=True):
        np.testing.assert_array_equal(image, frame_image(index, W, H, scene))


def test_variable_frame_rate_uses_real_timestamps(tmp_path, interpolator):
    source = clip(tmp_path, count=5, times_ms=[0, 40, 80, 200, 240])
    recorder = Recording(interpolator)
    out = tmp_path / "vfr.mkv"
    run_export(ExportSettings(source, out, "fps", 20, codec="ffv1", scene_threshold=1), recorder)
    calls = {round(t, 4): anchors for anchors, times in recorder.calls for t in times}
    assert calls[0.1] == pytest.approx([0.08, 0.2]) and calls[0.15] == pytest.approx([0.08, 0.2])
    with VideoReader(out) as reader:
        assert reader.info.frame_count == 6  # 0.28 s at 20 fps
        np.testing.assert_array_equal(reader.read_frame(4), frame_image(3, W, H))  # t=0.2


def test_four_anchors_and_range(tmp_path, interpolator):
    source = clip(tmp_path, count=8)
    recorder = Recording(interpolator)
    out = tmp_path / "n4.mkv"
    settings = ExportSettings(source, out, "factor", 2, codec="ffv1", anchors=4, start=2 / 24, end=5 / 24)
    result = run_export(settings, recorder)
    assert result.frames_written == 6
    assert all(len(anchors) == 4 for anchors, _ in recorder.calls)
    with VideoReader(out) as reader:
        np.testing.assert_array_equal(reader.read_frame(0), frame_image(2, W, H))


@pytest.mark.parametrize("moment", ["before", "scene_scan", "first_batch", "after_last_frame"])
def test_cancel_at_any_moment_leaves_no_output(tmp_path, interpolator, monkeypatch, moment):
    source = clip(tmp_path, count=3)
    before = digest(source)
    out = tmp_path / "cancelled.mkv"
    token = CancelToken()
    if moment == "before":
        token.cancel()
    if moment == "scene_scan":
        import tempo_core.video.engine as engine

        real = engine.cut_scores

        def cancel_while_scanning(thumbs):
            token.cancel()
            return real(thumbs)

        monkeypatch.setattr(engine, "cut_scores", cancel_while_scanning)

    def on_progress(progress):
        if moment == "first_batch" or (moment == "after_last_frame" and progress.done == 6):
            token.cancel()

    settings = ExportSettings(source, out, "factor", 2, codec="ffv1")
    with pytest.raises(Cancelled):
        run_export(settings, interpolator, progress=on_progress, cancel=token)
    assert not out.exists() and not leftovers(tmp_path) and digest(source) == before


def test_model_failure_mid_export_leaves_no_output(tmp_path, interpolator):
    source = clip(tmp_path)
    out = tmp_path / "failed.mp4"
    with pytest.raises(ModelError):
        run_export(ExportSettings(source, out, "factor", 2), Recording(interpolator, fail_after=2))
    assert not out.exists() and not leftovers(tmp_path)


def test_disk_full_is_one_sentence_and_no_half_file(tmp_path, interpolator, monkeypatch):
    source = clip(tmp_path)
    out = tmp_path / "full.mkv"
    calls = {"n": 0}
    real_mux = VideoWriter._mux

    def mux_until_full(self, packet):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_mux(self, packet)

    monkeypatch.setattr(VideoWriter, "_mux", mux_until_full)
    with pytest.raises(OutputError, match="disk is full"):
        run_export(ExportSettings(source, out, "factor", 2, codec="ffv1"), interpolator)
    assert not out.exists() and not leftovers(tmp_path)


def test_output_folder_not_writable(tmp_path, interpolator, monkeypatch):
    source = clip(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr("tempo_core.video.writer.os.access", lambda *a, **k: False)
    with pytest.raises(OutputError, match="not writable"):
        run_export(ExportSettings(source, locked / "o.mp4", "factor", 2), interpolator)
    assert list(locked.iterdir()) == []


def test_existing_output_needs_overwrite(tmp_path, interpolator):
    source = clip(tmp_path, count=2)
    out = tmp_path / "exists.mkv"
    out.write_bytes(b"precious")
    settings = ExportSettings(source, out, "factor", 2, codec="ffv1")
    with pytest.raises(OutputError, match="already exists"):
        run_export(settings, interpolator)
    assert out.read_bytes() == b"precious"
    with pytest.raises(OutputError, match="source"):
        run_export(ExportSettings(source, source, "factor", 2, codec="ffv1", overwrite=True), interpolator)
    result = run_export(ExportSettings(source, out, "factor", 2, codec="ffv1", overwrite=True), interpolator)
    assert result.frames_written == 4 and probe(out).frame_count == 4


def test_tile_is_passed_per_call_and_the_interpolator_is_untouched(tmp_path, interpolator):
    source = clip(tmp_path, count=2)
    recorder = Recording(interpolator)
    out = tmp_path / "tiled.mkv"
    run_export(ExportSettings(source, out, "factor", 2, codec="ffv1", tile=32), recorder)
    assert recorder.tiles == [32] and interpolator.tile is None
    run_export(ExportSettings(source, tmp_path / "whole.mkv", "factor", 2, codec="ffv1"), recorder)
    assert recorder.tiles == [32, None]


def test_jobs_encode_once_per_anchor_set():
    times = np.arange(4) / 24
    from fractions import Fraction

    plan = plan_output(times, "slowmo", 8, source_rate=Fraction(24))
    jobs = make_jobs(plan, batch_size=4)
    synth = [j for j in jobs if j.times]
    assert [j.sources for j in synth] == [(0, 1), (0, 1), (1, 2), (1, 2), (2, 3), (2, 3)]
    assert sum(j.count for j in jobs) == len(plan.frames) == 32


def test_png_sequence_passes_real_frames_bit_exact(tmp_path, interpolator):
    from PIL import Image

    source = make_clip(tmp_path / "a.mkv", count=2, width=W, height=H, audio=True)
    out = tmp_path / "frames"
    result = run_export(ExportSettings(source, out, "factor", 2, codec="png"), interpolator)
    names = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert names == [f"frame_{k:06d}.png" for k in range(4)] and result.audio == "dropped"
    assert (out / MARKER).is_file()
    np.testing.assert_array_equal(np.asarray(Image.open(out / names[2])), frame_image(1, W, H))
    assert not leftovers(tmp_path)


def test_decode_and_write_run_beside_the_model(tmp_path, interpolator):
    source = clip(tmp_path, count=3)
    recorder = Recording(interpolator)
    run_export(ExportSettings(source, tmp_path / "o.mkv", "factor", 2, codec="ffv1"), recorder)
    assert all({"tempo-decode", "tempo-write"} <= names for names in recorder.threads[:1])
    assert not any(t.name.startswith("tempo-") for t in threading.enumerate())


class StagedModel:
    """A model whose synthesis has three stages and asks ``should_cancel`` after each; the
    token is cancelled (by the test) when stage ``cancel_at_stage`` (1-based) has run."""

    def __init__(self, token: CancelToken, cancel_at_stage: int) -> None:
        self.token, self.cancel_at_stage = token, cancel_at_stage
        self.stages = 0
        self.frames_made = 0

    def encode(self, frames, timestamps, tile=None):
        return list(frames)

    def synthesize(self, encoded, target_times, should_cancel=None):
        assert should_cancel is not None, "the pipeline hands its cancel to the model"
        made = []
        for time in target_times:
            for _ in range(3):
                self.stages += 1
                if self.stages == self.cancel_at_stage:
                    self.token.cancel()
                if should_cancel():
                    raise Cancelled()
            self.frames_made += 1
            made.append(Synthesis(encoded[0], np.ones(encoded[0].shape[:2], np.float32), time))
        return made


def test_the_pipeline_hands_its_cancel_into_one_synthesis(tmp_path):
    """One cancellation contract: a cancel during a job of several targets stops the synthesis
    between two stages of its first target (not after the job), and nothing is left."""
    source = clip(tmp_path, count=3)
    out = tmp_path / "x8.mkv"
    token = CancelToken()
    model = StagedModel(token, cancel_at_stage=2)
    with pytest.raises(Cancelled):
        run_export(ExportSettings(source, out, "factor", 8, codec="ffv1", batch_size=8), model, cancel=token)
    assert model.stages == 2 and model.frames_made == 0
    assert not out.exists() and not leftovers(tmp_path)


def test_a_cancel_stops_the_real_interpolator_between_stages(interpolator):
    """The interpolator asks ``should_cancel`` between the stages of one synthesis: a cancel
    that comes after the synthesis began stops it before a frame is made."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(2)]
    anchors = interpolator.encode(frames, [0.0, 1.0])
    asked: list[int] = []

    def should_cancel() -> bool:
        asked.append(1)
        return len(asked) > 2  # two checks pass (before the batch, after the prior)

    with pytest.raises(Cancelled):
        interpolator.synthesize(anchors, [0.25, 0.5, 0.75], should_cancel=should_cancel)
    assert len(asked) == 3
