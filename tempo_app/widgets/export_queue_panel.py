"""The export queue's view: add clips or in-out ranges, reorder, remove, run one after another.

A dock beside the viewer. Jobs use the mode, value and codec chosen at the top of the panel and
are written beside their clip as ``NAME_tempo_<how>[_range].ext`` (never over a file that exists
or another queued output). Each row shows the job, its status and its progress; the state and
the running live in :mod:`tempo_app.workers.export_queue`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tempo_app.widgets.export_dialog import default_output, export_codecs
from tempo_app.workers.export_queue import ExportQueue, QueuedExport, QueueRunner

if TYPE_CHECKING:
    from tempo_app.state.session import SessionState

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.avi *.m4v *.mpg *.mts);;All files (*)"
MODES = (("factor", "x frame rate"), ("fps", "frames per second"), ("slowmo", "x slower"))


class ExportQueuePanel(QDockWidget):
    """The queue dock over ``new_export`` (the controller's export-job factory)."""

    def __init__(self, session: SessionState, new_export: Callable[[Any], Any], parent: QWidget | None = None) -> None:
        super().__init__("Export queue", parent)
        self.setObjectName("export_queue")
        self.session = session
        self.queue = ExportQueue()
        self.runner = QueueRunner(self.queue, new_export, self)
        self.runner.changed.connect(self._refresh)
        self.runner.idle.connect(self._refresh)
        session.clip_changed.connect(self._update_buttons)
        session.range_changed.connect(self._update_buttons)
        self._build()
        self._refresh()

    # --------------------------------------------------------------- layout
    def _build(self) -> None:
        body = QWidget(self)
        self.mode_box = QComboBox(body)
        for mode, label in MODES:
            self.mode_box.addItem(label, mode)
        self.value_box = QDoubleSpinBox(body)
        self.value_box.setRange(1.0, 480.0)
        self.value_box.setValue(2.0)
        self.codec_box = QComboBox(body)
        for codec, label, _ in export_codecs():
            self.codec_box.addItem(label, codec)
        self.table = QTableWidget(0, 3, body)
        self.table.setHorizontalHeaderLabels(["Export", "Status", "Progress"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.buttons = {name: QPushButton(text, body) for name, text in _BUTTONS}
        for name, slot in self._slots().items():
            self.buttons[name].clicked.connect(slot)
        settings_row, add_row, run_row = QHBoxLayout(), QHBoxLayout(), QHBoxLayout()
        for widget in (self.mode_box, self.value_box, self.codec_box):
            settings_row.addWidget(widget)
        for name in ("add_clip", "add_range", "add_files"):
            add_row.addWidget(self.buttons[name])
        for name in ("up", "down", "remove", "start", "cancel"):
            run_row.addWidget(self.buttons[name])
        layout = QVBoxLayout(body)
        layout.addLayout(settings_row)
        layout.addLayout(add_row)
        layout.addWidget(self.table, 1)
        layout.addLayout(run_row)
        self.setWidget(body)
        self.table.itemSelectionChanged.connect(self._update_buttons)

    def _slots(self) -> dict[str, Callable[[], object]]:
        return {
            "add_clip": lambda: self.add_clip(self.session.path),
            "add_range": lambda: self.add_clip(self.session.path, self.session.in_point, self.session.out_point),
            "add_files": self._choose_files,
            "up": lambda: self._move(-1),
            "down": lambda: self._move(+1),
            "remove": self._remove,
            "start": self.runner.start,
            "cancel": self.runner.cancel_current,
        }

    # ---------------------------------------------------------------- jobs
    def add_clip(self, path: str, start: float | None = None, end: float | None = None) -> QueuedExport:
        """Queue an export of ``path`` (its ``start``-``end`` range when given)."""
        from tempo_core.video.engine import ExportSettings

        mode, value, codec = str(self.mode_box.currentData()), self.value_box.value(), str(self.codec_box.currentData())
        suffix = {"factor": f"x{value:g}", "fps": f"{value:g}fps", "slowmo": f"slowmo{value:g}"}[mode]
        if start is not None or end is not None:
            suffix += f"_{start or 0:.1f}-{'end' if end is None else f'{end:.1f}'}s"
        output = self._unique(default_output(path, codec, suffix))
        settings = ExportSettings(path, output, mode, value, codec=codec, start=start, end=end)
        job = self.queue.add(settings)
        self._refresh()
        return job

    def _unique(self, output: str) -> str:
        taken = {str(job.settings.output_path) for job in self.queue.jobs}
        stem, extension = os.path.splitext(output)
        candidate, number = output, 2
        while candidate in taken or os.path.exists(candidate):
            candidate, number = f"{stem}_{number}{extension}", number + 1
        return candidate

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add clips to the export queue", "", VIDEO_FILTER)
        for path in paths:
            self.add_clip(path)

    def selected(self) -> QueuedExport | None:
        rows = self.table.selectionModel().selectedRows()
        return self.queue.jobs[rows[0].row()] if rows and rows[0].row() < len(self.queue.jobs) else None

    def select(self, job: QueuedExport) -> None:
        self.table.selectRow(self.queue.jobs.index(job))

    def _move(self, step: int) -> None:
        job = self.selected()
        if job is not None and self.queue.move(job.id, step):
            self._refresh()
            self.select(job)

    def _remove(self) -> None:
        job = self.selected()
        if job is not None and self.queue.remove(job.id):
            self._refresh()

    def confirm_close(self) -> bool:
        """Whether the app may close: asks first while jobs are queued or running, and stops
        the running one when the answer is yes."""
        count = self.queue.unfinished
        if count == 0:
            return True
        answer = QMessageBox.question(
            self, "Quit TEMPO", f"{count} export{'s are' if count > 1 else ' is'} still queued or running. Quit anyway?"
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.runner.stop()
        return True

    # ---------------------------------------------------------------- view
    def _refresh(self, *_: object) -> None:
        jobs = self.queue.jobs
        self.table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            status = job.status + (f": {job.message}" if job.message else "")
            for column, text in enumerate((job.label, status, f"{100 * job.progress:.0f}%")):
                item = self.table.item(row, column)
                if item is None:
                    self.table.setItem(row, column, QTableWidgetItem(text))
                else:
                    item.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        job = self.selected()
        has_clip = bool(getattr(self.session, "has_clip", False))
        has_range = self.session.in_point is not None or self.session.out_point is not None
        self.buttons["add_clip"].setEnabled(has_clip)
        self.buttons["add_range"].setEnabled(has_clip and has_range)
        movable = job is not None and job.waiting
        for name in ("up", "down"):
            self.buttons[name].setEnabled(movable)
        self.buttons["remove"].setEnabled(job is not None and job.status != "running")
        self.buttons["start"].setEnabled(self.queue.next_waiting() is not None and not self.runner.active)
        self.buttons["cancel"].setEnabled(self.queue.running is not None)


_BUTTONS = (
    ("add_clip", "Add clip"),
    ("add_range", "Add in-out range"),
    ("add_files", "Add files..."),
    ("up", "Up"),
    ("down", "Down"),
    ("remove", "Remove"),
    ("start", "Start"),
    ("cancel", "Cancel current"),
)
