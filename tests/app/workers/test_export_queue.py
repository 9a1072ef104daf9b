"""The app's export queue (issue 20, point 4): add clips and ranges, reorder and remove them,
run them one after another with per-job progress; closing with jobs queued asks first."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox
from tempo_app_helpers import open_clip

from tempo_app.workers.export_queue import CANCELLED, DONE, FAILED, QUEUED, ExportQueue, QueueRunner
from tempo_core.video.engine import ExportSettings
from tempo_core.video.reader import probe


def settings(name: str) -> ExportSettings:
    return ExportSettings(f"/clips/{name}.mp4", f"/out/{name}_x2.mp4", "factor", 2)


class FakeExport(QObject):
    """An export job that reports progress and ends as told, on the event loop."""

    progress = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)
    started: list[str] = []

    def __init__(self, settings: ExportSettings, outcome: str) -> None:
        super().__init__()
        self.settings, self.outcome = settings, outcome

    def start(self) -> None:
        FakeExport.started.append(Path(str(self.settings.input_path)).stem)
        QTimer.singleShot(0, self._run)

    def cancel(self) -> None:
        self.outcome = "cancel"

    def _run(self) -> None:
        self.progress.emit(SimpleNamespace(done=1, total=2))
        if self.outcome == "fail":
            self.failed.emit("The file is damaged.")
        elif self.outcome == "cancel":
            self.cancelled.emit("Cancelled.")
        else:
            self.result.emit(SimpleNamespace(frames_written=4, synthesized=2, duplicates_replaced=1))


def test_queue_state_reorders_and_removes_only_waiting_jobs():
    queue = ExportQueue()
    a, b, c = (queue.add(settings(name)) for name in "abc")
    assert a.label == "a.mp4 -> a_x2.mp4" and queue.unfinished == 3
    assert queue.move(c.id, -2) and [j.label[0] for j in queue.jobs] == ["c", "a", "b"]
    assert not queue.move(c.id, -1)  # already first
    a.status = "running"
    assert not queue.remove(a.id) and not queue.move(a.id, 1)
    assert queue.remove(b.id) and [j.label[0] for j in queue.jobs] == ["c", "a"]
    assert queue.next_waiting() is c and queue.running is a


def test_runner_runs_jobs_one_after_another_and_goes_on_after_a_failure(qtbot):
    FakeExport.started = []
    outcomes = {"a": "ok", "b": "fail", "c": "ok"}
    queue = ExportQueue()
    for name in "abc":
        queue.add(settings(name))
    runner = QueueRunner(queue, lambda s: FakeExport(s, outcomes[Path(str(s.input_path)).stem]))
    progress: list[float] = []
    runner.changed.connect(lambda job_id: progress.append(queue.find(job_id).progress))
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.start()
    assert FakeExport.started == ["a", "b", "c"]
    assert [job.status for job in queue.jobs] == [DONE, FAILED, DONE]
    assert queue.jobs[0].message == "4 frames (2 synthesized), 1 duplicate frames replaced"
    assert queue.jobs[1].message == "The file is damaged." and 0.5 in progress
    assert queue.unfinished == 0 and not runner.active


def test_cancel_current_moves_on_to_the_next_job(qtbot):
    queue = ExportQueue()
    for name in "ab":
        queue.add(settings(name))
    runner = QueueRunner(queue, lambda s: FakeExport(s, "ok"))
    runner.changed.connect(lambda job_id: runner.cancel_current() if queue.find(job_id).label[0] == "a" else None)
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.start()
    assert [job.status for job in queue.jobs] == [CANCELLED, DONE]


def test_panel_queues_clip_and_range_reorders_and_exports_them(qtbot, window, clip, tmp_path):
    open_clip(qtbot, window, clip)
    window.queue_action.trigger()
    panel = window.export_queue
    assert panel.isVisible() and panel.buttons["add_clip"].isEnabled()
    assert not panel.buttons["add_range"].isEnabled()  # no in / out points yet
    panel.codec_box.setCurrentIndex(panel.codec_box.findData("ffv1"))
    whole = panel.add_clip(str(clip))
    window.controller.session.set_in_point(0.2)
    window.controller.session.set_out_point(0.5)
    assert panel.buttons["add_range"].isEnabled()
    panel.buttons["add_range"].click()
    extra = panel.add_clip(str(clip))
    ranged = panel.queue.jobs[1]
    assert ranged.settings.start == 0.2 and ranged.settings.end == 0.5
    assert len({str(job.settings.output_path) for job in panel.queue.jobs}) == 3  # no name twice
    panel.select(ranged)
    panel.buttons["up"].click()
    assert panel.queue.jobs[0] is ranged and panel.table.item(0, 0).text() == ranged.label
    panel.select(extra)
    panel.buttons["remove"].click()
    assert panel.queue.jobs == [ranged, whole] and panel.table.rowCount() == 2
    with qtbot.waitSignal(panel.runner.idle, timeout=60000):
        panel.buttons["start"].click()
    assert [job.status for job in panel.queue.jobs] == [DONE, DONE]
    assert panel.table.item(0, 2).text() == "100%" and panel.table.item(1, 1).text().startswith("done")
    assert probe(whole.settings.output_path).frame_count > probe(ranged.settings.output_path).frame_count > 0


def test_closing_with_jobs_queued_asks_first(qtbot, window, clip, monkeypatch):
    open_clip(qtbot, window, clip)
    window.export_queue.add_clip(str(clip))
    asked: list[str] = []

    def answer(reply):
        def question(parent, title, text, *args, **kwargs):
            asked.append(text)
            return reply

        return staticmethod(question)

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    window.close()
    assert window.isVisible() and asked == ["1 export is still queued or running. Quit anyway?"]
    assert window.export_queue.queue.jobs[0].status == QUEUED
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    window.close()
    assert not window.isVisible() and len(asked) == 2
