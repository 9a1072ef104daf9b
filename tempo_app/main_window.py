"""The main window: composes the widgets, builds the menus and wires signals. No logic here."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from tempo_app.controller import AppController
from tempo_app.errors import show_error
from tempo_app.resources import icon
from tempo_app.state.view_state import COMPARE_LABELS, COMPARE_MODES
from tempo_app.widgets.controls import DisplayBar, TransportBar
from tempo_app.widgets.export_dialog import ExportDialog
from tempo_app.widgets.export_queue_panel import ExportQueuePanel
from tempo_app.widgets.model_menu import ModelMenu
from tempo_app.widgets.status_bar import TempoStatusBar
from tempo_app.widgets.timeline import TimelineWidget
from tempo_app.widgets.viewer import ViewerWidget

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.avi *.m4v *.mpg *.mts);;All files (*)"
REPORT_FILTER = "TEMPO export reports (*.report.json);;All files (*)"


class MainWindow(QMainWindow):
    """Viewer, display bar, timeline and transport over one :class:`AppController`."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("TEMPO")
        self.setWindowIcon(icon("tempo"))
        self.setAcceptDrops(True)
        self.error_handler: Callable[[str], None] = lambda message: show_error(self, message)
        self.export_dialog: ExportDialog | None = None

        session, view = controller.session, controller.view
        self.viewer = ViewerWidget(view, self)
        self.display_bar = DisplayBar(session, view, self)
        self.timeline = TimelineWidget(session, self)
        self.timeline.set_confidence_track(controller.confidence)
        self.transport = TransportBar(session, controller.playback, self)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.viewer, 1)
        layout.addWidget(self.display_bar)
        layout.addWidget(self.timeline)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)
        self.setStatusBar(TempoStatusBar(controller.model, self))
        self.export_queue = ExportQueuePanel(session, controller.new_export, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.export_queue)
        self.export_queue.hide()

        self._build_menus()
        controller.display.frame_ready.connect(self.viewer.set_frame)
        controller.display.busy_changed.connect(self.viewer.set_busy)
        controller.display.pending_changed.connect(self.viewer.set_pending)
        controller.thumbnail.connect(self.timeline.add_thumbnail)
        controller.thumbnails_reset.connect(self.timeline.clear_thumbnails)
        controller.confidence_changed.connect(self.timeline.update)
        controller.error.connect(self._report_error)
        controller.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        controller.worker.gpu_note.connect(
            lambda text, lasting: self.statusBar().showMessage(text, 0 if lasting else 8000)
        )
        controller.recent_files_changed.connect(self._fill_recent)
        session.clip_changed.connect(self._on_clip_changed)
        self._fill_recent(controller.settings.recent_files())
        self._on_clip_changed()
        if not controller.settings.restore_geometry(self):
            self.resize(1200, 800)

    # ---------------------------------------------------------------- menus
    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(checkable)
        return action

    def _build_menus(self) -> None:
        controller, session, view = self.controller, self.controller.session, self.controller.view
        file_menu = self.menuBar().addMenu("&File")
        open_action = self._action(file_menu, "&Open...", self.choose_clip, QKeySequence.StandardKey.Open)
        open_action.setIcon(icon("open"))
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.close_clip_action = self._action(
            file_menu, "&Close clip", controller.close_clip, QKeySequence.StandardKey.Close
        )
        self.export_action = self._action(file_menu, "&Export...", self.show_export, "Ctrl+E")
        self.export_action.setIcon(icon("export"))
        self.report_action = self._action(file_menu, "Show export &report...", self.choose_report)
        self.queue_action = self.export_queue.toggleViewAction()
        self.queue_action.setShortcut("Ctrl+Shift+E")
        file_menu.addAction(self.queue_action)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        play_menu = self.menuBar().addMenu("&Playback")
        self._action(play_menu, "Play / pause", controller.playback.toggle, Qt.Key.Key_Space)
        self._action(play_menu, "Previous frame", lambda: session.step_frame(-1), Qt.Key.Key_Left)
        self._action(play_menu, "Next frame", lambda: session.step_frame(+1), Qt.Key.Key_Right)
        fraction = self.transport
        self._action(
            play_menu,
            "Back a fraction",
            lambda: session.step_fraction(-fraction.fraction),
            "Shift+Left",
        )
        self._action(
            play_menu,
            "Forward a fraction",
            lambda: session.step_fraction(fraction.fraction),
            "Shift+Right",
        )
        play_menu.addSeparator()
        self._action(play_menu, "Set in point", lambda: session.set_in_point(session.playhead), "I")
        self._action(play_menu, "Set out point", lambda: session.set_out_point(session.playhead), "O")
        self._action(play_menu, "Clear in/out", self._clear_range, "Shift+X")
        self._action(play_menu, "Pin / unpin nearest frame", self._toggle_nearest_pin, "P")
        self._action(play_menu, "Unpin all anchors", session.clear_pins)

        view_menu = self.menuBar().addMenu("&View")
        self.overlay_action = self._action(view_menu, "Confidence overlay", view.toggle_overlay, "C", True)
        for mode in COMPARE_MODES:
            self._action(view_menu, COMPARE_LABELS[mode], lambda _=False, m=mode: view.set_compare_mode(m))
        self._action(view_menu, "Fit to window", self.viewer.reset_zoom, "F")
        view_menu.addSeparator()
        self._action(view_menu, "Next doubtful frame", lambda: controller.jump_to_doubtful(+1), "D")
        self._action(view_menu, "Previous doubtful frame", lambda: controller.jump_to_doubtful(-1), "Shift+D")
        view.changed.connect(lambda: self.overlay_action.setChecked(view.overlay_enabled))

        self.model_menu = ModelMenu(controller.model, lambda: controller.settings.last_folder("model"), self)
        self.menuBar().addMenu(self.model_menu)
        self.model_menu.load_requested.connect(self._load_model)
        self.model_menu.device_chosen.connect(controller.set_device)
        self.model_menu.precision_chosen.connect(controller.set_precision)
        self.model_menu.tiling_chosen.connect(controller.set_tiling)
        self.model_menu.half_size_chosen.connect(controller.set_half_size)

        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About TEMPO", self._about)

    def _fill_recent(self, files: list[str]) -> None:
        self.recent_menu.clear()
        for path in files:
            self._action(self.recent_menu, path, lambda _=False, p=path: self.controller.open_clip_in_background(p))
        self.recent_menu.setEnabled(bool(files))

    # -------------------------------------------------------------- actions
    def choose_clip(self) -> None:
        folder = self.controller.settings.last_folder("open")
        path, _ = QFileDialog.getOpenFileName(self, "Open a clip", folder, VIDEO_FILTER)
        if path:
            self.controller.open_clip_in_background(path)

    def choose_report(self) -> None:
        """Show the scores of an earlier export of this clip (its ``.report.json``) on the track."""
        folder = self.controller.settings.last_folder("export")
        path, _ = QFileDialog.getOpenFileName(self, "Show an export report", folder, REPORT_FILTER)
        if path:
            self.controller.load_report_file(path)

    def show_export(self) -> None:
        if not self.controller.session.has_clip:
            self._report_error("Open a clip before exporting.")
            return
        controller = self.controller
        self.export_dialog = ExportDialog(
            controller.session, controller.new_export, self, controller.model, controller.measure_speed
        )
        self.export_dialog.open()

    def _load_model(self, spec) -> None:
        if spec.path:
            self.controller.settings.set_last_folder("model", spec.path)
        self.controller.load_model(spec)

    def _clear_range(self) -> None:
        self.controller.session.set_in_point(None)
        self.controller.session.set_out_point(None)

    def _toggle_nearest_pin(self) -> None:
        self.controller.session.toggle_pin(self.controller.session.nearest_frame())

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About TEMPO",
            "TEMPO synthesizes frames between and around real video frames with a temporal "
            "view-synthesis network, and exports slow motion and higher frame rates.",
        )

    def _report_error(self, message: str) -> None:
        self.error_handler(message)

    def _on_clip_changed(self) -> None:
        session = self.controller.session
        title = f"TEMPO - {os.path.basename(session.path)}" if session.has_clip else "TEMPO"
        self.setWindowTitle(title)
        self.export_action.setEnabled(session.has_clip)
        self.close_clip_action.setEnabled(session.has_clip)
        self.report_action.setEnabled(session.has_clip)
        if not session.has_clip:
            self.viewer.set_frame(None)

    # ---------------------------------------------------------- drag & drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.controller.open_clip_in_background(files[0])

    # --------------------------------------------------------------- close
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.export_queue.confirm_close():  # exports queued: asks first
            event.ignore()
            return
        self.controller.settings.save_geometry(self)
        self.controller.settings.sync()
        self.hide()  # gone at once, even while the model finishes its current frame
        self.controller.shutdown()
        super().closeEvent(event)
