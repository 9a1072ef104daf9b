"""Export dialog (completes, cancels cleanly) and the scripted ``--screenshot`` path."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox
from tempo_app_helpers import CLIP_FRAMES, open_clip

from tempo_app.main import main
from tempo_app.widgets.export_dialog import ExportDialog
from tempo_core.checkpoint import save_weights

REPO = Path(__file__).resolve().parents[2]


def _dialog(qtbot, window, output: Path) -> ExportDialog:
    def new_export(settings):
        job = window.controller.new_export(settings)
        job.progress.connect(dialog.progress_seen.append)
        return job

    dialog = ExportDialog(window.controller.session, new_export, window)
    dialog.progress_seen = []
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(output))
    dialog.output_edit.setModified(True)
    return dialog


def test_export_runs_to_completion(qtbot, window, clip, tmp_path):
    open_clip(qtbot, window, clip)
    output = tmp_path / "slow.mp4"
    dialog = _dialog(qtbot, window, output)
    assert dialog.mode == "factor" and dialog.factor_box.currentData() == 2
    dialog.factor_box.setCurrentIndex(0)  # x2
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=60000)
    assert dialog.outcome == "done", dialog.status_label.text()
    assert output.exists() and dialog.result.frames_written >= 2 * CLIP_FRAMES - 1
    assert dialog.open_folder_button.isEnabled() and dialog.progress_bar.value() == 100
    assert "Wrote" in dialog.status_label.text()
    assert dialog.result.synthesized >= CLIP_FRAMES - 1 and dialog.progress_seen
    with av.open(str(output)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == dialog.result.frames_written


def test_an_earlier_report_alone_is_asked_about_then_replaced(qtbot, window, clip, tmp_path, monkeypatch):
    """A report left beside a deleted video: the dialog asks before replacing it (as for the
    video), and a Yes exports with the report replaced; a No writes nothing."""
    open_clip(qtbot, window, clip)
    output = tmp_path / "again.mp4"
    report = tmp_path / "again.mp4.report.json"
    report.write_text('{"old": true}')
    asked: list[str] = []
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda p, t, text, *a: asked.append(text) or answers.pop(0))
    )
    dialog = _dialog(qtbot, window, output)
    dialog.factor_box.setCurrentIndex(0)
    dialog.export_button.click()
    assert asked == ["again.mp4.report.json exists already. Replace?"] and dialog.job is None
    assert not output.exists() and report.read_text() == '{"old": true}'
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=60000)
    assert dialog.outcome == "done", dialog.status_label.text()
    assert output.exists() and '"old"' not in report.read_text()


def test_cancelled_export_leaves_no_file(qtbot, window, clip, tmp_path):
    open_clip(qtbot, window, clip)
    output = tmp_path / "out" / "cancelled.mkv"
    output.parent.mkdir()
    dialog = _dialog(qtbot, window, output)
    dialog.factor_box.setCurrentIndex(2)  # x8: plenty of frames to cancel in
    dialog.codec_box.setCurrentIndex(3)  # FFV1
    dialog.output_edit.setText(str(output))
    dialog.export_button.click()
    dialog.job.progress.connect(lambda _: dialog.cancel_button.click())
    dialog.cancel_button.click()  # at once, and again on the first progress if it got that far
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=60000)
    assert dialog.outcome == "cancelled"
    assert list(output.parent.iterdir()) == []
    assert dialog.export_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_export_range_fps_png_and_open_folder(qtbot, window, clip, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    opened: list = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(opened.append))
    open_clip(qtbot, window, clip)
    session = window.controller.session
    session.set_playhead(session.frame_times[2])
    session.set_in_point(session.playhead)
    session.set_playhead(session.frame_times[5])
    session.set_out_point(session.playhead)
    output = tmp_path / "frames"
    dialog = _dialog(qtbot, window, output)
    assert dialog.range_box.currentData() == "range"
    dialog.mode_box.setCurrentIndex(2)  # target frame rate
    dialog.fps_box.setValue(2 * 10)
    dialog.codec_box.setCurrentIndex(4)  # PNG sequence
    dialog.output_edit.setText(str(output))
    settings = dialog.export_settings()
    assert (settings.mode, settings.value, settings.codec) == ("fps", 20.0, "png")
    assert (settings.start, settings.end) == (session.in_point, session.out_point)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=60000)
    assert dialog.outcome == "done", dialog.status_label.text()
    pngs = sorted(output.glob("*.png"))
    assert len(pngs) == dialog.result.frames_written and 5 <= len(pngs) <= 7
    dialog.open_folder_button.click()
    assert opened and Path(opened[0].toLocalFile()) == output


def test_export_to_unwritable_place_fails_with_one_sentence(qtbot, window, clip, dialogs):
    open_clip(qtbot, window, clip)
    output = clip / "inside_a_file.mp4"  # a file is not a folder
    dialog = _dialog(qtbot, window, output)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=60000)
    assert dialog.outcome == "failed" and len(dialogs) == 1 and "\n" not in dialogs[0]
    assert dialog.export_button.isEnabled() and not output.exists()


@pytest.fixture
def checkpoint(tmp_path, tiny_model) -> Path:
    return save_weights(tiny_model, tmp_path / "tiny.safetensors")


def test_screenshot_in_process(qtbot, clip, tmp_path, checkpoint):
    shot = tmp_path / "shot.png"
    args = [str(clip), "--at", "0.35", "--anchors", "4", "--overlay", "--compare", "split"]
    args += ["--checkpoint", str(checkpoint), "--screenshot", str(shot), "--size", "800x600"]
    assert main(args) == 0
    image = QImage(str(shot))
    assert not image.isNull() and (image.width(), image.height()) == (800, 600)


def test_screenshot_failure_exits_non_zero(qtbot, clip, tmp_path, checkpoint, capsys):
    bad = tmp_path / "notavideo.mp4"
    bad.write_text("hello")
    shot = tmp_path / "never.png"
    code = main([str(bad), "--at", "0.1", "--checkpoint", str(checkpoint), "--screenshot", str(shot)])
    assert code != 0 and not shot.exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith("tempo-app: ") and "notavideo.mp4" in err and "\n" not in err
    args = ["--checkpoint", str(checkpoint), "--screenshot", str(shot)]
    code = main([str(clip), "--at", "99", *args])
    assert code == 1 and not shot.exists()
    assert "outside the clip" in capsys.readouterr().err


def test_screenshot_subprocess(clip, tmp_path, checkpoint):
    shot = tmp_path / "sub.png"
    command = [sys.executable, "-m", "tempo_app.main", str(clip), "--at", "0.25"]
    command += ["--checkpoint", str(checkpoint), "--screenshot", str(shot), "--size", "640x480"]
    env = {"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert QImage(str(shot)).width() == 640


def test_main_opens_clip_from_command_line(qtbot, clip, checkpoint, settings):
    """The interactive path: ``tempo-app CLIP --at T`` shows the synthesized frame."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from tempo_app.main_window import MainWindow

    seen: dict = {}
    deadline = time.monotonic() + 120

    def poll() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        frame = windows[0].viewer.frame if windows else None
        if frame is not None and frame.kind == "synthesized":
            seen["frame"] = frame
            seen["title"] = windows[0].windowTitle()
        if windows and (seen or time.monotonic() > deadline):
            windows[0].close()  # never leave the event loop running
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    args = [str(clip), "--at", "0.25", "--anchors", "4", "--checkpoint", str(checkpoint)]
    assert main(args) == 0
    assert seen["frame"].anchors == (1, 2, 3, 4) and seen["frame"].time == pytest.approx(0.25)
    assert "clip.mp4" in seen["title"]


def test_screenshot_never_empties_a_file(qtbot, clip, tmp_path, checkpoint, capsys):
    """``tempo-app v.mkv --screenshot v.mkv`` and friends: refused before anything loads."""
    before = clip.read_bytes()
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    for output, words in [(clip, "image name"), (notes, "image name"), (tmp_path / "d.png", "folder")]:
        if output.suffix == ".png":
            output.mkdir()
        assert main([str(clip), "--checkpoint", str(checkpoint), "--screenshot", str(output)]) == 2
        assert words in capsys.readouterr().err
    assert main([str(clip), "--screenshot", str(tmp_path / "big.png"), "--size", "30000x30000"]) == 2
    assert "at most 7680x4320" in capsys.readouterr().err
    assert clip.read_bytes() == before and notes.read_text() == "mine"
    assert not (tmp_path / "big.png").exists()


def test_screenshot_replaces_an_image_whole_or_not_at_all(qtbot, clip, tmp_path, checkpoint):
    from tempo_app.screenshot import save_atomically

    shot = tmp_path / "shot.png"
    shot.write_bytes(b"old picture")

    class FailingPixmap:
        def save(self, name, fmt):
            Path(name).write_bytes(b"half")  # a writer that gives up part way
            return False

    assert not save_atomically(FailingPixmap(), str(shot))
    assert shot.read_bytes() == b"old picture"
    args = [str(clip), "--at", "0.25", "--checkpoint", str(checkpoint), "--screenshot", str(shot)]
    assert main([*args, "--size", "640x480"]) == 0
    assert QImage(str(shot)).height() == 480
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "x"])
def test_a_timeout_that_is_not_a_number_of_seconds_is_a_usage_error(value, capsys):
    # issue 28, item 9: `tempo-app --timeout nan` was a ValueError traceback
    with pytest.raises(SystemExit) as done:
        main(["clip.mp4", "--screenshot", "out.png", "--timeout", value])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "--timeout: must be a number of seconds" in err and "Traceback" not in err
