"""The README's screenshots of the app waiting for a frame and of the export dialog, taken by the
real app under a real X server, and the time Cancel takes to stop an export.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python tools/app_screenshots.py CLIP [--docs docs]

Steps: open CLIP with the bundled model on the CPU; synthesize one in-between frame (it measures
the speed); move to another in-between time and grab the window while that frame is computed
(``screenshot_waiting.png``); open File > Export and grab the dialog once its estimate is shown
(``screenshot_export.png``); start the export, press Cancel while a frame is being synthesized
and print how long the job took to stop. Every wait has a deadline; a missed one exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

from tempo_app.controller import AppController
from tempo_app.main_window import MainWindow
from tempo_app.resources import icon, style_sheet
from tempo_app.state.settings import AppSettings


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"app_screenshots: gave up waiting for {what} after {seconds:.0f} s.")
        QCoreApplication.processEvents()
        time.sleep(0.02)


def settle(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--docs", default="docs")
    parser.add_argument("--at-frame", type=int, default=90, help="the waiting shot's left frame")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per wait")
    args = parser.parse_args()
    docs = Path(args.docs)
    app = QApplication([sys.argv[0]])
    app.setWindowIcon(icon("tempo"))
    app.setStyleSheet(style_sheet())
    scratch = tempfile.TemporaryDirectory()
    settings = AppSettings(QSettings(os.path.join(scratch.name, "s.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    controller = AppController(settings)
    window = MainWindow(controller)
    window.resize(1280, 800)
    window.show()
    controller.start()
    wait_until(lambda: controller.model.ready, args.timeout, "the model")
    assert controller.open_clip(args.clip)
    session, viewer = controller.session, window.viewer
    wait_until(lambda: viewer.frame is not None, args.timeout, "the first frame")
    wait_until(lambda: len(window.timeline.thumbnails) >= 40, args.timeout, "the thumbnails")
    wait_until(lambda: controller.cut_scanner is None or not controller.cut_scanner.isRunning(), 600, "scene cuts")

    times = session.frame_times
    left = min(max(args.at_frame, 20), len(times) - 2)  # a short clip: as near as it allows
    session.set_playhead(float(times[left - 20] + 0.5 * (times[left - 19] - times[left - 20])))
    wait_until(lambda: controller.model.ms_per_frame is not None, args.timeout, "a first synthesis")
    session.set_playhead(float(times[left]))
    wait_until(lambda: viewer.frame is not None and viewer.frame.kind == "real", 60, "real frame")
    session.set_playhead(float(times[left] + 0.25 * (times[left + 1] - times[left])))
    settle(2.0)
    assert viewer.pending is not None, "the frame was ready before the shot"
    window.grab().save(str(docs / "screenshot_waiting.png"))
    print("waiting shot:", " / ".join(viewer.pending_lines()))
    wait_until(lambda: viewer.pending is None, args.timeout, "the in-between frame")

    window.show_export()
    dialog = window.export_dialog
    wait_until(lambda: "about" in dialog.estimate_label.text(), args.timeout, "the estimate")
    settle(0.5)
    dialog.grab().save(str(docs / "screenshot_export.png"))  # with the default output path
    print("export estimate:", dialog.estimate_label.text())
    output = Path(scratch.name) / "export.mp4"  # the export itself never writes beside the clip
    dialog.output_edit.setText(str(output))
    dialog.output_edit.setModified(True)
    started = time.monotonic()
    dialog.export_button.click()
    wait_until(lambda: " / " in dialog.status_label.text(), args.timeout, "progress")
    print(f"first progress after {time.monotonic() - started:.1f} s: {dialog.status_label.text()}")
    settle(max(0.5, 0.4 * controller.model.ms_per_frame / 1000.0))  # inside a synthesis
    dialog.cancel_button.click()
    wait_until(lambda: dialog.outcome is not None, 600, "the cancelled export")
    job = dialog.job
    print(f"cancel: {dialog.outcome}, stopped {job.finished_at - job.cancel_requested_at:.2f} s after Cancel")
    print("left behind:", sorted(p.name for p in Path(scratch.name).iterdir() if p.name != "s.ini"))
    dialog.close()
    window.close()
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
