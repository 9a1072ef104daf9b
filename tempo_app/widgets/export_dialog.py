"""The export dialog: mode, range, codec, quality, output path; progress with ETA; cancel.

The dialog only gathers :class:`tempo_core.video.engine.ExportSettings` and shows an
:class:`~tempo_app.workers.export_job.ExportJob`'s signals; the export itself runs on the model thread.
Before the export starts it shows how many frames it writes and synthesizes and how long that
should take at the speed measured on this machine (measured on opening when still unknown).
The modes and codecs offered are tempo_core's own. Defaults suit a first try: twice the frame
rate, over the in/out range when one is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tempo_app.state.export_estimate import ExportEstimate, estimate_export
from tempo_app.state.session import ANCHOR_COUNTS, SessionState
from tempo_app.workers.export_job import ExportJob

if TYPE_CHECKING:
    from tempo_app.state.model_state import ModelState
    from tempo_core.video.engine import ExportResult, ExportSettings, Progress

# Labels of the export modes the dialog offers, in the order shown; tempo_core's MODES decides
# which exist ("times", a list of explicit times, is for scripts).
MODE_LABELS = {
    "slowmo": "Slow motion (longer, same frame rate)",
    "factor": "More frames (same duration, higher frame rate)",
    "fps": "Target frame rate",
}
DEFAULT_MODE, DEFAULT_FACTOR = "factor", 2
FACTORS = (2, 4, 8)


def export_modes() -> list[tuple[str, str]]:
    """(mode, label) for the modes of :data:`tempo_core.video.timeline.MODES` the dialog offers."""
    from tempo_core.video.timeline import MODES

    return [(mode, label) for mode, label in MODE_LABELS.items() if mode in MODES]


def export_codecs() -> list[tuple[str, str, str]]:
    """(codec, label, extension) of every codec of :data:`tempo_core.video.writer.CODECS`;
    the extension is empty for an image sequence (a folder)."""
    from tempo_core.video.writer import CODECS

    codecs = []
    for codec, spec in CODECS.items():
        extension = spec.containers[0] if spec.containers else ""
        codecs.append((codec, f"{spec.label} ({extension or 'folder'})", extension))
    return codecs


def default_output(input_path: str, codec: str, suffix: str) -> str:
    source = Path(input_path)
    extension = {c: e for c, _, e in export_codecs()}[codec]
    return str(source.with_name(f"{source.stem}_tempo_{suffix}{extension}"))


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "--:--"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{rest:02d}"
    return f"{minutes}:{rest:02d}"


class ExportDialog(QDialog):
    """Gathers settings, gets a job from ``new_export(settings)``, starts and follows it."""

    def __init__(
        self,
        session: SessionState,
        new_export: Callable[[ExportSettings], ExportJob],
        parent: QWidget | None = None,
        model: ModelState | None = None,
        measure_speed: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setObjectName("export_dialog")
        self.session = session
        self.model = model
        self._new_export = new_export
        self.job: ExportJob | None = None
        self.result: ExportResult | None = None
        self.outcome: str | None = None  # "done", "cancelled" or "failed"
        self.estimate: ExportEstimate | None = None
        self._measure_speed = measure_speed
        self._build()
        self._update_output()
        if model is not None:
            model.changed.connect(self._update_estimate)  # a model loaded later: measured then

    # --------------------------------------------------------------- layout
    def _build(self) -> None:
        self.mode_box = QComboBox(self)
        for mode, label in export_modes():
            self.mode_box.addItem(label, mode)
        self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(DEFAULT_MODE)))
        self.factor_box = QComboBox(self)
        for factor in FACTORS:
            self.factor_box.addItem(f"x{factor}", factor)
        self.factor_box.setCurrentIndex(FACTORS.index(DEFAULT_FACTOR))
        self.fps_box = QDoubleSpinBox(self)
        self.fps_box.setRange(1.0, 480.0)
        self.fps_box.setValue(60.0)
        self.fps_box.setSuffix(" fps")
        self.codec_box = QComboBox(self)
        for codec, label, _ in export_codecs():
            self.codec_box.addItem(label, codec)
        self.quality_box = QSpinBox(self)
        self.quality_box.setRange(0, 51)
        self.quality_box.setValue(18)
        self.quality_box.setToolTip(
            "CRF-like quality: lower is better and larger (18 is very good). Each frame keeps the quality "
            "of a re-encode of the source at this value, so a higher frame rate makes a larger file."
        )
        self.range_box = QComboBox(self)
        self.range_box.addItem("Whole clip", "all")
        self.range_box.addItem("In to out points", "range")
        has_range = self.session.in_point is not None or self.session.out_point is not None
        self.range_box.setCurrentIndex(1 if has_range else 0)
        self.range_box.model().item(1).setEnabled(has_range)
        self.anchor_box = QComboBox(self)
        for count in ANCHOR_COUNTS:
            self.anchor_box.addItem(f"{count} nearest frames", count)
        self.anchor_box.setCurrentIndex(ANCHOR_COUNTS.index(self.session.anchor_count))
        self.output_edit = QLineEdit(self)
        browse = QPushButton("Browse...", self)
        browse.clicked.connect(self._browse)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit, 1)
        output_row.addWidget(browse)

        form = QFormLayout()
        form.addRow("Mode", self.mode_box)
        form.addRow("Factor", self.factor_box)
        form.addRow("Frame rate", self.fps_box)
        form.addRow("Codec", self.codec_box)
        form.addRow("Quality", self.quality_box)
        form.addRow("Range", self.range_box)
        form.addRow("Anchors", self.anchor_box)
        form.addRow("Output", output_row)
        self.estimate_label = QLabel("", self)
        self.estimate_label.setObjectName("estimate_label")
        self.estimate_label.setWordWrap(True)
        form.addRow("Work", self.estimate_label)

        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.status_label = QLabel("", self)
        self.status_label.setWordWrap(True)
        self.export_button = QPushButton("Export", self)
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.open_folder_button = QPushButton("Open folder", self)
        self.open_folder_button.setEnabled(False)
        self.close_button = QPushButton("Close", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder_button)
        buttons.addStretch(1)
        for button in (self.export_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        self.cancel_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)

        self.mode_box.currentIndexChanged.connect(self._update_output)
        self.factor_box.currentIndexChanged.connect(self._update_output)
        self.fps_box.valueChanged.connect(self._update_output)
        self.codec_box.currentIndexChanged.connect(self._update_output)
        self.range_box.currentIndexChanged.connect(self._update_estimate)
        self.anchor_box.currentIndexChanged.connect(self._update_estimate)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.open_folder_button.clicked.connect(self.open_folder)

    # ------------------------------------------------------------- settings
    @property
    def mode(self) -> str:
        return str(self.mode_box.currentData())

    def _suffix(self) -> str:
        if self.mode == "fps":
            return f"{self.fps_box.value():g}fps"
        return f"x{self.factor_box.currentData()}"

    def _update_output(self, *_: object) -> None:
        self.factor_box.setEnabled(self.mode != "fps")
        self.fps_box.setEnabled(self.mode == "fps")
        self.quality_box.setEnabled(self.codec_box.currentData() in ("h264", "hevc", "prores"))
        if not self.output_edit.isModified() and self.session.path:
            codec = str(self.codec_box.currentData())
            self.output_edit.setText(default_output(self.session.path, codec, self._suffix()))
        self._update_estimate()

    def _range(self) -> tuple[float | None, float | None]:
        if self.range_box.currentData() == "range":
            return self.session.in_point, self.session.out_point
        return None, None

    def _value(self) -> float:
        return self.fps_box.value() if self.mode == "fps" else float(self.factor_box.currentData())

    def _update_estimate(self, *_: object) -> None:
        """Frames to write and synthesize, and the expected time, for the settings shown."""
        from tempo_core.errors import TempoError

        if not self.session.has_clip:
            self.estimate_label.setText("")
            return
        ms = self.model.ms_per_frame if self.model is not None else None
        if ms is None and self._measure_speed is not None and self.job is None:
            self._measure_speed()  # queued once on the model thread; the model's change updates us
        start, end = self._range()
        anchors = int(self.anchor_box.currentData())
        try:
            estimate = estimate_export(self.session, self.mode, self._value(), start, end, anchors, ms)
        except TempoError as problem:
            self.estimate_label.setText(str(problem))
            return
        self.estimate = estimate
        self.estimate_label.setText(estimate.describe())

    def _browse(self) -> None:
        current = self.output_edit.text()
        if self.codec_box.currentData() == "png":
            path = QFileDialog.getExistingDirectory(self, "Export frames to", os.path.dirname(current))
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", current)
        if path:
            self.output_edit.setText(path)
            self.output_edit.setModified(True)

    def export_settings(self) -> ExportSettings:
        from tempo_core.video.engine import ExportSettings

        value = self._value()
        start, end = self._range()
        return ExportSettings(
            input_path=self.session.path,
            output_path=self.output_edit.text().strip(),
            mode=self.mode,
            value=value,
            codec=str(self.codec_box.currentData()),
            quality=self.quality_box.value(),
            start=start,
            end=end,
            anchors=int(self.anchor_box.currentData()),
            overwrite=bool(existing_outputs(self.output_edit.text().strip())),
        )

    # ----------------------------------------------------------------- run
    def start(self) -> None:
        output = self.output_edit.text().strip()
        if not output:
            self.status_label.setText("Choose where to write the export.")
            return
        existing = existing_outputs(output)
        if existing and not self._confirm_replace(existing):
            return
        self.outcome = None
        self.job = self._new_export(self.export_settings())
        self.job.progress.connect(self._on_progress)
        self.job.result.connect(self._on_done)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self._set_running(True)
        self.job.start()  # after connecting: a quick failure must not be missed
        self.status_label.setText("Starting: reading the clip and finding its scene cuts...")

    def _confirm_replace(self, existing: list[str]) -> bool:
        names = " and ".join(os.path.basename(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        answer = QMessageBox.question(self, "Export", f"{names} {verb} already. Replace?")
        return answer == QMessageBox.StandardButton.Yes

    def cancel(self) -> None:
        if self.job is not None and not self.job.finished:
            self.job.cancel()
            self.status_label.setText("Cancelling...")
            self.cancel_button.setEnabled(False)

    def _set_running(self, running: bool) -> None:
        self.export_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.open_folder_button.setEnabled(False)

    def _on_progress(self, progress: Progress) -> None:
        total = max(1, int(progress.total))
        self.progress_bar.setValue(int(100 * progress.done / total))
        eta = progress.eta_s
        if eta is None and self.estimate is not None and self.estimate.seconds is not None:
            eta = self.estimate.seconds * (1.0 - progress.done / total)  # until the export has a speed
        speed = f"{progress.fps:.2f} frames/s" if progress.fps > 0 else "first frames"
        self.status_label.setText(f"{progress.done} / {progress.total} frames   {speed}   ETA {format_eta(eta)}")

    def _on_done(self, result: ExportResult) -> None:
        self.result = result
        self.outcome = "done"
        self._set_running(False)
        self.progress_bar.setValue(100)
        self.open_folder_button.setEnabled(True)
        self.status_label.setText(
            f"Wrote {result.frames_written} frames ({result.synthesized} synthesized) to "
            f"{result.output_path} in {result.seconds:.1f} s. Its report is beside it; the scores are on "
            "the timeline's confidence track (D: next doubtful frame)."
        )

    def _on_failed(self, message: str) -> None:
        self.outcome = "failed"
        self._set_running(False)
        self.status_label.setText(message)
        QMessageBox.critical(self, "Export", message)

    def _on_cancelled(self, message: str) -> None:
        self.outcome = "cancelled"
        self._set_running(False)
        self.progress_bar.setValue(0)
        job = self.job
        if job is not None and job.cancel_requested_at is not None and job.finished_at is not None:
            message = f"{message} (stopped {job.finished_at - job.cancel_requested_at:.1f} s after Cancel)"
        self.status_label.setText(message)

    def open_folder(self) -> None:
        if self.result is None:
            return
        output = Path(self.result.output_path)
        folder = output if output.is_dir() else output.parent
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.cancel()
        super().closeEvent(event)


def existing_outputs(output: str) -> list[str]:
    """The files an export to ``output`` would replace: the video (or frame folder) and its
    export report's files, those that exist."""
    if not output:
        return []
    from tempo_core.video.report import report_paths

    return [str(path) for path in (Path(output), *report_paths(output)) if os.path.lexists(path)]
