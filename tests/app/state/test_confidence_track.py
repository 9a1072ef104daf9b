"""The confidence track: its state, its painting under the thumbnails, the doubtful-frame keys,
scores from scrubbing and from an export run in the app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from tempo_app_helpers import CLIP_FPS, open_clip, write_clip

from tempo_app.main import main
from tempo_app.state.confidence_track import ConfidenceTrack, TrackPoint
from tempo_app.state.view_state import DEFAULT_THRESHOLD
from tempo_app.widgets.confidence_track import TRACK_HEIGHT, score_colour, track_bars
from tempo_app.widgets.timeline import TRACK_TOP
from tempo_core.checkpoint import save_weights
from tempo_core.frame_score import DOUBTFUL_SCORE, SCORE_THRESHOLD
from tempo_core.video.engine import ExportSettings
from tempo_core.video.report import ExportReport, FrameEntry

STEP = 1.0 / CLIP_FPS


def report_of(clip, scores: list[float], min_confidence: float | None = None) -> ExportReport:
    """An export report of ``clip`` with one synthesized frame half-way between each pair."""
    frames = []
    for k, score in enumerate(scores):
        time = (k + 0.5) * STEP
        fallback = "blend" if min_confidence is not None and score < min_confidence else None
        frames.append(
            FrameEntry(
                2 * k + 1, time, time, "synthesized", None, (k, k + 1), (k * STEP, (k + 1) * STEP), score, fallback
            )
        )
    return ExportReport(str(clip), str(clip) + ".x2.mp4", 2 * CLIP_FPS, min_confidence, frames)


def test_the_track_keeps_export_scores_over_scrubbed_ones_and_finds_doubtful_frames(clip):
    track = ConfidenceTrack()
    # the frame score's line (docs/decisions/023-confidence-disagreement-frame-score.md)
    assert track.doubtful_below == DOUBTFUL_SCORE == 0.9
    assert track.add_scrubbed(0.05, 0.9) and not track.add_scrubbed(0.05, 0.9)
    assert track.add_scrubbed(0.42, 0.1)
    assert track.load_report(report_of(clip, [0.2, 0.95, 0.85])) == 3
    assert not track.add_scrubbed(0.05, 0.99)  # the export's score of that frame stays
    assert [p.origin for p in track.points] == ["export", "export", "export", "scrub"]
    assert [p.time for p in track.doubtful] == pytest.approx([0.05, 0.25, 0.42])
    assert track.next_doubtful(0.05).time == pytest.approx(0.25)
    assert track.previous_doubtful(0.25).time == pytest.approx(0.05)
    assert track.next_doubtful(0.42) is None and track.previous_doubtful(0.05) is None
    track.load_report(report_of(clip, [0.7, 0.95], min_confidence=0.8))
    assert track.doubtful_below == 0.8 and len(track) == 3  # the previous export's scores gone
    assert [(p.time, p.fallback) for p in track.doubtful] == [(0.05, "blend"), (0.42, None)]
    track.clear()
    assert len(track) == 0 and track.doubtful_below == DOUBTFUL_SCORE


def test_the_track_reads_the_doubtful_line_without_loading_torch_at_start_up():
    code = "import sys, tempo_app.state.confidence_track as m; m.ConfidenceTrack(); assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_colours_run_from_red_to_green_and_bars_share_the_space():
    low, high = score_colour(0.0), score_colour(1.0)
    assert low.red() > 200 and low.green() < 60 and high.green() > 180 and high.red() < 100
    assert score_colour(0.8, line=0.8) == score_colour(0.5) != score_colour(0.8)  # amber at the line
    assert score_colour(0.55, line=0.8) == low and score_colour(0.6, line=0.3) == high
    # a line near 1 (the default 0.9): green at 1, red as far below the line
    assert score_colour(1.0, line=0.9) == high and score_colour(0.8, line=0.9) == low
    assert score_colour(0.9, line=0.9) == score_colour(0.5)
    points = [TrackPoint(t, 0.5, "export") for t in (0.0, 1.0, 3.0)]
    bars = track_bars(points, lambda t: 10 + 10 * t, 0, 100)
    assert [(x0, x1) for x0, x1, _ in bars] == [(5, 15), (15, 30), (30, 50)]


def lane_colour(timeline, time: float):
    image = timeline.grab().toImage()
    return image.pixelColor(round(timeline.time_to_x(time)), TRACK_TOP + TRACK_HEIGHT - 2)


def test_the_timeline_shows_an_export_report_and_d_jumps_to_doubtful_frames(qtbot, window, clip, tmp_path):
    open_clip(qtbot, window, clip)
    controller, timeline = window.controller, window.timeline
    sidecar = tmp_path / "clip.x2.mp4.report.json"
    sidecar.write_text(json.dumps(report_of(clip, [1.0, 0.1, 0.95, 0.85, 1.0]).to_dict()))
    assert controller.load_report_file(str(sidecar))
    window.activateWindow()
    qtbot.waitExposed(window)
    red, green = lane_colour(timeline, 1.5 * STEP), lane_colour(timeline, 0.5 * STEP)
    assert red.red() > 180 and red.green() < 90, red.name()
    assert green.green() > 150 and green.red() < 120, green.name()
    assert not controller.view.overlay_enabled
    controller.session.set_playhead(0.0)
    qtbot.keyClick(window, Qt.Key.Key_D)
    assert controller.session.playhead == pytest.approx(1.5 * STEP) and controller.view.overlay_enabled
    # raised to the score's threshold if that is higher than the overlay's default
    assert controller.view.overlay_threshold == pytest.approx(max(DEFAULT_THRESHOLD, SCORE_THRESHOLD))
    qtbot.keyClick(window, Qt.Key.Key_D)
    assert controller.session.playhead == pytest.approx(3.5 * STEP)
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    assert controller.session.playhead == pytest.approx(1.5 * STEP)
    with qtbot.waitSignal(controller.status_message, timeout=2000) as said:
        controller.jump_to_doubtful(-1)
    assert "No doubtful frame before" in said.args[0]


def test_a_report_of_another_clip_is_refused(qtbot, window, clip, tmp_path, dialogs):
    open_clip(qtbot, window, clip)
    assert not window.controller.show_report(report_of(tmp_path / "other.mp4", [0.5]))
    assert len(window.controller.confidence) == 0 and "not of the open clip" in dialogs[-1]
    dialogs.clear()


def test_frames_synthesized_while_scrubbing_are_scored(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    controller = window.controller
    with qtbot.waitSignal(controller.confidence_changed, timeout=30000):
        controller.session.set_playhead(2.5 * STEP)
    (point,) = controller.confidence.points
    assert point.origin == "scrub" and point.time == pytest.approx(2.5 * STEP) and 0.0 <= point.score <= 1.0


def test_an_export_in_the_app_fills_the_track_and_writes_the_report(qtbot, window, clip, tmp_path, dialogs):
    open_clip(qtbot, window, clip)
    controller = window.controller
    output = tmp_path / "x2.mkv"
    job = controller.new_export(ExportSettings(clip, output, "factor", 2.0, codec="ffv1", scene_threshold=1.0))
    with qtbot.waitSignal(job.result, timeout=60000):
        job.start()
    exported = [p for p in controller.confidence.points if p.origin == "export"]
    assert exported and len(exported) == job_result_synthesized(output)
    assert (tmp_path / "x2.mkv.report.json").exists() and (tmp_path / "x2.mkv.report.png").exists()
    other = write_clip(tmp_path / "other.mp4")  # an export of another file (the queue): no dialog
    job = controller.new_export(ExportSettings(other, tmp_path / "o.mkv", "factor", 2.0, codec="ffv1"))
    with qtbot.waitSignal(job.result, timeout=60000):
        job.start()
    assert [p for p in controller.confidence.points if p.origin == "export"] == exported
    assert (tmp_path / "o.mkv.report.json").exists() and not dialogs


def job_result_synthesized(output) -> int:
    data = json.loads(output.with_name(output.name + ".report.json").read_text())
    return sum(f["kind"] == "synthesized" for f in data["frames"])


def test_the_scripted_screenshot_shows_a_report_at_its_first_doubtful_frame(qtbot, clip, tmp_path, tiny_model, capsys):
    checkpoint = save_weights(tiny_model, tmp_path / "tiny.safetensors")
    sidecar = tmp_path / "clip.report.json"
    sidecar.write_text(json.dumps(report_of(clip, [0.95, 0.95, 0.2]).to_dict()))
    shot = tmp_path / "shot.png"
    args = [str(clip), "--report", str(sidecar), "--at", "0", "--next-doubtful", "--size", "800x600"]
    assert main([*args, "--checkpoint", str(checkpoint), "--screenshot", str(shot)]) == 0
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (800, 600)
    sidecar.write_text(json.dumps(report_of(clip, [0.95]).to_dict()))
    assert main([*args, "--checkpoint", str(checkpoint), "--screenshot", str(shot)]) == 1
    assert "no doubtful frame after 0 s" in capsys.readouterr().err


# ------------------------------------------------------------- issue 28: hostile report files
def _bad_report(clip, path, field: str, value) -> str:
    data = report_of(clip, [0.4, 0.95]).to_dict()
    data["frames"][1][field] = value
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("field", "value", "words"), [("score", "abc", 'score is "abc"'), ("time", "x", 'time is "x"')]
)
def test_a_report_with_wrong_typed_fields_keeps_the_previous_track(
    qtbot, window, clip, tmp_path, dialogs, field, value, words
):
    """File > Show export report of ``score: "abc"`` or ``time: "x"`` wiped the track's scores
    (and crashed at start-up): now one sentence, and the track the previous report drew stays."""
    open_clip(qtbot, window, clip)
    controller = window.controller
    good = tmp_path / "good.report.json"
    good.write_text(json.dumps(report_of(clip, [0.2, 0.95, 0.85]).to_dict()))
    assert controller.load_report_file(str(good))
    before = controller.confidence.points
    assert len(before) == 3
    assert not controller.load_report_file(_bad_report(clip, tmp_path / "bad.report.json", field, value))
    assert controller.confidence.points == before
    assert dialogs[-1].startswith("This TEMPO export report is damaged or from another version (frame 1's ")
    assert words in dialogs[-1] and "Traceback" not in dialogs[-1]
    dialogs.clear()


def test_a_wrong_typed_report_at_start_up_is_a_sentence(clip, tmp_path, tiny_model, capsys):
    checkpoint = save_weights(tiny_model, tmp_path / "tiny.safetensors")
    bad = _bad_report(clip, tmp_path / "bad.report.json", "score", "abc")
    args = [str(clip), "--report", bad, "--checkpoint", str(checkpoint), "--screenshot", str(tmp_path / "s.png")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert 'damaged or from another version (frame 1\'s score is "abc", not a number)' in err
    assert "Traceback" not in err and not (tmp_path / "s.png").exists()


def test_a_pipe_as_report_or_model_is_refused_without_opening_it(qtbot, window, clip, tmp_path, dialogs, capsys):
    """``tempo-app --report fifo.json`` (and a FIFO as model file) froze the window for good."""
    from fifo_guard import guarded_fifo

    open_clip(qtbot, window, clip)
    with guarded_fifo(tmp_path / "fifo.json") as fifo:
        assert not window.controller.load_report_file(str(fifo))
        assert dialogs[-1] == f"The export report {fifo} is a named pipe (FIFO), not a file."
    dialogs.clear()
    with guarded_fifo(tmp_path / "model.safetensors") as fifo:
        args = [str(clip), "--checkpoint", str(fifo), "--screenshot", str(tmp_path / "s.png")]
        assert main(args) == 1
        assert "model.safetensors is a named pipe (FIFO), not a model file." in capsys.readouterr().err


def test_a_nan_score_is_doubtful():
    # issue 28, item 13: NaN < threshold is False, so a NaN score was never doubtful
    track = ConfidenceTrack(doubtful_below=0.9)
    track.add(TrackPoint(0.5, float("nan"), "export"))
    track.add(TrackPoint(1.0, 0.95, "export"))
    assert [p.time for p in track.doubtful] == [0.5] and track.next_doubtful(0.0).time == 0.5
