"""Status bar: device, model and milliseconds per synthesized frame, plus transient messages."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from tempo_app.state.model_state import ModelState


class TempoStatusBar(QStatusBar):
    """Observes a :class:`ModelState`."""

    def __init__(self, model: ModelState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.device_label = QLabel(self)
        self.model_label = QLabel(self)
        self.speed_label = QLabel(self)
        for label, name in (
            (self.device_label, "device_label"),
            (self.model_label, "model_label"),
            (self.speed_label, "speed_label"),
        ):
            label.setObjectName(name)
            self.addPermanentWidget(label)
        model.changed.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        model = self.model
        info = model.info
        if model.loading:
            self.model_label.setText("Model: loading...")
        elif info is None:
            self.model_label.setText("Model: none")
        else:
            self.model_label.setText(f"Model: {info.name} ({info.precision})")
        self.device_label.setText(f"Device: {info.device_name}" if info else "Device: -")
        ms = model.ms_per_frame
        self.speed_label.setText(f"{ms:.0f} ms / frame" if ms is not None else "- ms / frame")
        if model.problem and info is None and not model.loading:
            self.showMessage(model.problem)
