"""The export report (JSON sidecar + plot) and the safety net, end to end on tiny clips.

Clips are 32x24 FFV1 (lossless), so the frames the safety net writes can be compared with the
held real frame or the plain blend. The "scene the network cannot follow" is random noise
(every frame unrelated to the next), scored by the bundled model.
"""

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from tempo_test_clips import frame_image, make_clip

from tempo_core.commands.cli import main
from tempo_core.errors import Cancelled, InputError, ModelError, OutputError
from tempo_core.frame_score import frame_score
from tempo_core.inference import Interpolator
from tempo_core.video.engine import CancelToken, ExportSettings, run_export
from tempo_core.video.report import (
    ExportReport,
    FrameEntry,
    load_report,
    report_paths,
    summary_lines,
)
from tempo_core.video.report_plot import SIZE, _Axes, axis_floor
from tempo_core.video.safety_net import SafetyNet, SynthesisRecord, anchor_blend, check_min_confidence, rounded

W, H = 32, 24


def write_frames(path: Path, frames: list[np.ndarray]) -> Path:
    """A lossless 12 fps clip of ``frames`` (uint8 ``[H, W, 3]``)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=12)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def settings(source: Path, output: Path, **kw) -> ExportSettings:
    kw.setdefault("scene_threshold", 1.0)  # noise would be one cut after another
    return ExportSettings(source, output, "factor", 2.0, codec="ffv1", **kw)


def test_every_export_writes_a_sidecar_and_a_plot(tmp_path, interpolator):
    source = make_clip(tmp_path / "src.mkv", count=5, width=W, height=H)
    output = tmp_path / "out.mkv"
    exported = run_export(settings(source, output), interpolator, report=True)
    json_path, plot_path = report_paths(output)
    assert exported.report_files == (json_path, plot_path)
    data = json.loads(json_path.read_text())
    frames = data["frames"]
    assert len(frames) == exported.frames_written == len(decoded(output))
    synthesized = [f for f in frames if f["kind"] == "synthesized"]
    assert len(synthesized) == exported.synthesized > 0
    assert all(0.0 <= f["score"] <= 1.0 and len(f["anchor_times"]) == 2 for f in synthesized)
    assert all(f["score"] is None and f["source"] is not None for f in frames if f["kind"] != "synthesized")
    assert [f["time"] for f in frames] == sorted(f["time"] for f in frames)
    worst = [w["score"] for w in data["worst"]]
    assert len(worst) == min(5, len(synthesized)) and worst == sorted(worst)
    assert worst[0] == min(f["score"] for f in synthesized)
    assert Image.open(plot_path).size == SIZE
    assert load_report(json_path).worst()[0].time == data["worst"][0]["time"]
    assert any("worst synthesized frames" in line for line in summary_lines(exported))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_report_none_writes_nothing_and_keeps_an_earlier_report(tmp_path, interpolator):
    source = make_clip(tmp_path / "src.mkv", count=4, width=W, height=H)
    output = tmp_path / "out.mkv"
    run_export(settings(source, output), interpolator, report=True)
    before = [p.read_bytes() for p in report_paths(output)]
    exported = run_export(settings(source, output, overwrite=True), interpolator, report=False)
    assert exported.report_files == () and exported.report.synthesized
    assert [p.read_bytes() for p in report_paths(output)] == before  # issue 28: never deleted
    assert any("earlier export's report and was left as it was" in note for note in exported.notes)


def test_a_report_that_cannot_be_written_is_a_note_and_keeps_what_was_there(tmp_path, interpolator, monkeypatch):
    source = make_clip(tmp_path / "src.mkv", count=4, width=W, height=H)
    output = tmp_path / "out.mkv"
    for path in report_paths(output):
        path.write_bytes(b"the user's own " + path.name.encode())
    names = sorted(p.name for p in tmp_path.iterdir())

    def disk_full(*args, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempo_core.video.report.draw_score_plot", disk_full)
    exported = run_export(settings(source, output, overwrite=True), interpolator, report=True)
    assert exported.report_files == () and output.exists()
    assert any("export report could not be written" in note for note in exported.notes)
    assert [p.read_bytes() for p in report_paths(output)] == [
        b"the user's own out.mkv.report.json",
        b"the user's own out.mkv.report.png",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*names, "out.mkv"})


def test_a_folder_at_a_report_name_is_refused_before_the_export(tmp_path, interpolator):
    source = make_clip(tmp_path / "src.mkv", count=4, width=W, height=H)
    output = tmp_path / "out.mkv"
    report_paths(output)[0].mkdir()  # a folder where the sidecar should go
    with pytest.raises(OutputError, match="is a folder"):
        run_export(settings(source, output), interpolator, report=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv.report.json", "src.mkv"]


class Failing:
    """Delegates to the interpolator; cancels or fails at the second synthesis."""

    def __init__(self, inner, token: CancelToken | None = None):
        self.inner, self.token, self.calls = inner, token, 0
        self.tile = None

    def encode(self, frames, timestamps, tile=None):
        return self.inner.encode(frames, timestamps, tile=tile)

    def synthesize(self, encoded, target_times, should_cancel=None):
        self.calls += 1
        if self.calls == 2:
            if self.token is None:
                raise ModelError("The model failed (test).")
            self.token.cancel()
        return self.inner.synthesize(encoded, target_times)


@pytest.mark.parametrize("how", ["cancel", "fail"])
def test_a_cancelled_or_failed_export_leaves_no_report(tmp_path, interpolator, how):
    source = make_clip(tmp_path / "src.mkv", count=6, width=W, height=H)
    output = tmp_path / "out.mkv"
    token = CancelToken()
    model = Failing(interpolator, token if how == "cancel" else None)
    with pytest.raises(Cancelled if how == "cancel" else ModelError):
        run_export(settings(source, output, batch_size=1), model, report=True, cancel=token)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.mkv"]


@pytest.fixture(scope="module")
def trained():
    """The bundled model on the CPU: its confidence means something (the tiny one's does not)."""
    return Interpolator.from_checkpoint(None, device="cpu")


def test_the_safety_net_replaces_the_frames_of_a_scene_the_network_cannot_follow(tmp_path, trained):
    """Four frames of a square moving over a gradient, then three of unrelated random noise."""
    rng = np.random.default_rng(3)
    real = [frame_image(i, 64, 48) for i in range(4)] + [rng.integers(0, 256, (48, 64, 3), np.uint8) for _ in range(3)]
    source, output = write_frames(tmp_path / "jump.mkv", real), tmp_path / "out.mkv"
    exported = run_export(settings(source, output), trained, report=True, min_confidence=0.5)
    report, written = exported.report, decoded(output)
    assert len(written) == len(report.frames) and len(report.synthesized) == 6
    followed = [f for f in report.synthesized if f.anchors[1] <= 3]
    lost = [f for f in report.synthesized if f.anchors[0] >= 3]
    assert followed and all(f.score >= 0.5 and f.fallback is None for f in followed)
    assert lost and all(f.score < 0.5 and f.fallback in ("hold", "blend") for f in lost)
    assert report.replaced == lost
    for entry in lost:
        early, late = entry.anchors
        if entry.fallback == "hold":
            expected = real[early] if entry.held_time == entry.anchor_times[0] else real[late]
        else:
            weight = (entry.time - entry.anchor_times[0]) / (entry.anchor_times[1] - entry.anchor_times[0])
            expected = rounded(anchor_blend([real[early], real[late]], [0.0, 1.0], weight))
        assert np.abs(written[entry.index].astype(int) - expected.astype(int)).max() <= 2  # colour rounding
    sidecar = json.loads(report_paths(output)[0].read_text())
    assert sum(sidecar["replaced"].values()) == len(lost) and sidecar["min_confidence"] == 0.5
    assert any(f"{len(lost)} of 6 synthesized frames replaced" in line for line in summary_lines(exported))


class Scripted:
    """A model whose synthesis is anchor 0 wherever the map is confident, noise elsewhere."""

    tile = None

    def __init__(self, confident_share: float, like: str):
        self.share, self.like = confident_share, like

    def encode(self, frames, timestamps, tile=None):
        return [np.asarray(f) for f in frames], list(timestamps)

    def synthesize(self, encoded, target_times, should_cancel=None):
        frames, times = encoded
        out = []
        for time in target_times:
            confidence = np.zeros((H, W), np.float32)
            confidence[:, : round(W * self.share)] = 1.0
            image = frames[0].copy() if self.like == "hold" else rounded(anchor_blend(frames, [0.0, 1.0], 0.5))
            noise = np.random.default_rng(0).integers(0, 256, image.shape, dtype=np.uint8)
            image[confidence < 0.5] = noise[confidence < 0.5]
            out.append(type("S", (), {"image": image, "confidence": confidence, "time": time, "rgb": None})())
        return out


@pytest.mark.parametrize("like", ["hold", "blend"])
def test_the_fallback_is_the_candidate_the_confident_pixels_agree_with(like):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(2)]
    net, model = SafetyNet(min_confidence=0.6), Scripted(0.5, like)
    (written,) = net.review(frames, [0.0, 1.0], model.synthesize(model.encode(frames, [0.0, 1.0]), [0.5]))
    record = net.records[0.5]
    assert record.score == pytest.approx(0.5) and record.fallback == like
    expected = frames[0] if like == "hold" else rounded(anchor_blend(frames, [0.0, 1.0], 0.5))
    assert np.array_equal(written.image, expected)
    assert (record.held_time == 0.0) == (like == "hold")


def test_deep_anchors_give_a_deep_fallback_and_confident_frames_stay():
    frames = [np.full((H, W, 3), v, np.uint16) for v in (1000, 3000)]
    net, model = SafetyNet(min_confidence=0.5), Scripted(0.25, "blend")
    (written,) = net.review(frames, [0.0, 1.0], model.synthesize(model.encode(frames, [0.0, 1.0]), [0.5]))
    assert written.rgb is not None and written.rgb.dtype == np.float32
    assert np.allclose(written.rgb, 2000 / 65535, atol=1e-6)  # the blend at 16 bits, not 8
    kept, model = SafetyNet(min_confidence=0.5), Scripted(1.0, "hold")
    (synthesis,) = kept.review(frames, [0.0, 1.0], model.synthesize(model.encode(frames, [0.0, 1.0]), [0.5]))
    assert kept.records[0.5] == SynthesisRecord(0.5, frame_score(synthesis.confidence), (0.0, 1.0))


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_min_confidence_outside_0_1_is_refused(value):
    with pytest.raises(InputError, match="between 0 and 1"):
        check_min_confidence(value)


def test_a_file_that_is_not_a_report_is_refused(tmp_path):
    bad = tmp_path / "x.report.json"
    bad.write_text('{"frames": []}')
    with pytest.raises(InputError, match="not a TEMPO export report"):
        load_report(bad)
    bad.write_text("{")
    with pytest.raises(InputError, match="cannot be read"):
        load_report(bad)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(["interpolate", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cli_names_the_five_worst_times_and_report_none_turns_it_off(tmp_path, capsys):
    source = make_clip(tmp_path / "src.mkv", count=6, width=W, height=H)
    flags = ["--factor", "2", "--codec", "ffv1", "--device", "cpu", "--quiet", "--scene-threshold", "1"]
    code, out, err = cli(capsys, source, "-o", tmp_path / "a.mkv", *flags, "--min-confidence", "0.9")
    assert code == 0, err
    report = load_report(report_paths(tmp_path / "a.mkv")[0])
    worst = ", ".join(f"{f.time:.3f} s ({f.score:.2f})" for f in report.worst())
    assert len(report.worst()) == 5 and f"worst synthesized frames (source time, score): {worst}" in out
    assert "safety net (score < 0.9)" in out and "a.mkv.report.png" in out
    code, out, err = cli(capsys, source, "-o", tmp_path / "b.mkv", *flags, "--report", "none")
    assert code == 0 and "report:" not in out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.")) == ["b.mkv"]


def test_the_cli_refuses_min_confidence_outside_0_1_before_loading_a_model(tmp_path, capsys):
    source = make_clip(tmp_path / "src.mkv", count=3, width=W, height=H)
    code, _, err = cli(capsys, source, "-o", tmp_path / "o.mkv", "--factor", "2", "--min-confidence", "7")
    assert code != 0 and "--min-confidence must be a score between 0 and 1" in err
    assert not (tmp_path / "o.mkv").exists()


def test_the_plot_axis_zooms_in_when_every_score_is_high():
    # the shipped map's scores bunch near 1: from 0.9 up the axis keeps them apart
    assert axis_floor([0.95, 0.99, 1.0]) == 0.9
    assert axis_floor([0.95, 1.0, 0.85]) == 0.8  # the lowest score, or the safety net's threshold, decides
    assert axis_floor([0.62, 1.0]) == 0.5
    assert axis_floor([0.3, 1.0]) == 0.0 and axis_floor([]) == 0.0
    zoomed, plain = _Axes(0.0, 1.0, axis_floor([0.95, 1.0])), _Axes(0.0, 1.0)
    height = zoomed.bottom - zoomed.top
    assert zoomed.y(0.95) - zoomed.y(1.0) == pytest.approx(height / 2)
    assert plain.y(0.95) - plain.y(1.0) == pytest.approx(height * 0.05)


def test_report_names_get_the_same_checks_as_the_video(tmp_path, capsys):
    # issue 28, item 1: the exact commands that replaced a source and a user's files
    clip = make_clip(tmp_path / "clip.mp4", count=3, width=W, height=H, codec="libx264")
    holiday = tmp_path / "holiday.mp4.report.json"
    holiday.write_bytes(clip.read_bytes())
    code, _, err = cli(capsys, holiday, "-o", tmp_path / "holiday.mp4", "--factor", "2")
    assert code == 1 and "would overwrite the source video" in err and "Traceback" not in err
    assert holiday.read_bytes() == clip.read_bytes() and not (tmp_path / "holiday.mp4").exists()
    frames_source = tmp_path / "frames.report.png"
    frames_source.write_bytes(clip.read_bytes())
    code, _, err = cli(capsys, frames_source, "-o", tmp_path / "frames", "--factor", "2", "--codec", "png")
    assert code == 1 and "would overwrite the source video" in err
    assert frames_source.read_bytes() == clip.read_bytes() and not (tmp_path / "frames").exists()
    own = tmp_path / "new.mp4.report.json"
    own.write_text("the user's notes")
    code, _, err = cli(capsys, clip, "-o", tmp_path / "new.mp4", "--factor", "2")
    assert code == 1 and "new.mp4.report.json already exists; pass --overwrite" in err
    assert own.read_text() == "the user's notes" and not (tmp_path / "new.mp4").exists()


def test_a_255_byte_output_name_is_written_without_its_report(tmp_path, interpolator):
    # issue 28, item 13: the temporary name is short, so the longest name the folder allows works
    source = make_clip(tmp_path / "src.mkv", count=3, width=W, height=H)
    output = tmp_path / ("v" * 251 + ".mkv")
    exported = run_export(settings(source, output), interpolator, report=True)
    assert decoded(output) and exported.report_files == ()
    assert any("No export report was written" in note for note in exported.notes)
    shorter = tmp_path / ("w" * 239 + ".mkv")  # its report names are 255 bytes
    assert run_export(settings(source, shorter), interpolator, report=True).report_files == report_paths(shorter)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_nan_score_counts_as_the_worst():
    # issue 28, item 13: a NaN score sorted anywhere and was never doubtful
    frames = [
        FrameEntry(index=i, time=i / 10, output_time=i / 10, kind="synthesized", score=score)
        for i, score in enumerate([0.95, float("nan"), 0.5, 0.99])
    ]
    report = ExportReport("s.mkv", "o.mkv", 10.0, None, frames)
    worst = report.worst(2)
    assert np.isnan(worst[0].score) and worst[1].score == 0.5
