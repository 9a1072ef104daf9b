"""Bars under the viewer: transport (play, steps, time) and display (anchors, overlay, compare).

Both observe state objects and write back through their setters; neither holds logic.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QWidget,
)

from tempo_app.colormap import COLORMAPS
from tempo_app.playback import Playback
from tempo_app.resources import icon
from tempo_app.state.session import ANCHOR_COUNTS, SessionState
from tempo_app.state.view_state import COMPARE_LABELS, COMPARE_MODES, THRESHOLD_RANGE, ViewState

FRACTIONS = (("1/2 frame", 0.5), ("1/4 frame", 0.25), ("1/8 frame", 0.125))


def format_time(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:06.3f}"


def position_text(session: SessionState) -> str:
    """Playhead time / the container's duration, and the frame position among the clip's frames
    (numbered from 0, as in the viewer and the timeline): ``00:00.519 / 00:09.664   frame
    15.584 (289 frames)``."""
    real = session.real_frame_at()
    frame_text = f"frame {real}" if real is not None else f"frame {session.frame_position():.3f}"
    times = f"{format_time(session.playhead)} / {format_time(session.duration)}"
    return f"{times}   {frame_text} ({session.frame_count} frames)"


def _button(name: str, tip: str, parent: QWidget) -> QToolButton:
    button = QToolButton(parent)
    button.setIcon(icon(name))
    button.setToolTip(tip)
    button.setObjectName(f"button_{name}")
    button.setAutoRaise(True)
    return button


class TransportBar(QWidget):
    """Previous / fraction back / play / fraction forward / next, step size and time display."""

    def __init__(self, session: SessionState, playback: Playback, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("transport")
        self.session = session
        self.playback = playback
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.prev_button = _button("frame-prev", "Previous real frame (Left)", self)
        self.back_button = _button("step-back", "Back a fraction of a frame (Shift+Left)", self)
        self.play_button = _button("play", "Play / pause (Space)", self)
        self.forward_button = _button("step-forward", "Forward a fraction (Shift+Right)", self)
        self.next_button = _button("frame-next", "Next real frame (Right)", self)
        self.fraction_box = QComboBox(self)
        for label, value in FRACTIONS:
            self.fraction_box.addItem(label, value)
        self.fraction_box.setCurrentIndex(1)
        self.fraction_box.setToolTip("Step size of the fraction buttons")
        self.time_label = QLabel("--:--.---", self)
        self.time_label.setObjectName("time_label")
        self.time_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for widget in (self.prev_button, self.back_button, self.play_button):
            layout.addWidget(widget)
        for widget in (self.forward_button, self.next_button, self.fraction_box):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.time_label)

        self.prev_button.clicked.connect(lambda: session.step_frame(-1))
        self.next_button.clicked.connect(lambda: session.step_frame(+1))
        self.back_button.clicked.connect(lambda: session.step_fraction(-self.fraction))
        self.forward_button.clicked.connect(lambda: session.step_fraction(self.fraction))
        self.play_button.clicked.connect(playback.toggle)
        playback.playing_changed.connect(self._on_playing)
        session.playhead_changed.connect(self._show_time)
        session.clip_changed.connect(self._on_clip)
        self._on_clip()

    @property
    def fraction(self) -> float:
        return float(self.fraction_box.currentData())

    def _on_clip(self) -> None:
        enabled = self.session.has_clip
        for widget in (self.prev_button, self.back_button, self.play_button):
            widget.setEnabled(enabled)
        for widget in (self.forward_button, self.next_button):
            widget.setEnabled(enabled)
        self._show_time()

    def _on_playing(self, playing: bool) -> None:
        self.play_button.setIcon(icon("pause" if playing else "play"))

    def _show_time(self, *_: object) -> None:
        session = self.session
        if not session.has_clip:
            self.time_label.setText("--:--.---")
            return
        self.time_label.setText(position_text(session))


class DisplayBar(QWidget):
    """Anchor count and reset, overlay toggle / opacity / colour map, compare mode."""

    def __init__(self, session: SessionState, view: ViewState, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("display_bar")
        self.session = session
        self.view = view
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.anchor_box = QComboBox(self)
        for count in ANCHOR_COUNTS:
            self.anchor_box.addItem(f"{count} nearest", count)
        self.anchor_box.setToolTip("Anchors: the N nearest real frames of the same scene")
        self.auto_button = _button("anchor", "Unpin all anchors (back to automatic)", self)
        self.overlay_box = QCheckBox("Confidence", self)
        self.overlay_box.setToolTip("Show the confidence overlay (C)")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(60)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.threshold_box = QDoubleSpinBox(self)
        self.threshold_box.setRange(*THRESHOLD_RANGE)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setDecimals(2)
        self.threshold_box.setPrefix("< ")
        self.threshold_box.setFixedWidth(78)
        self.threshold_box.setToolTip(
            "Colour only pixels whose confidence is below this; the lower the confidence, the stronger the colour"
        )
        self.colormap_box = QComboBox(self)
        self.colormap_box.addItems(list(COLORMAPS))
        self.colormap_box.setToolTip("Overlay colour map")
        self.compare_box = QComboBox(self)
        for mode in COMPARE_MODES:
            self.compare_box.addItem(COMPARE_LABELS[mode], mode)
        self.compare_box.setToolTip("Compare with the nearest real frame")
        layout.addWidget(self.anchor_box)
        layout.addWidget(self.auto_button)
        layout.addSpacing(12)
        layout.addWidget(self.overlay_box)
        layout.addWidget(self.threshold_box)
        layout.addWidget(self.opacity_slider)
        layout.addWidget(self.colormap_box)
        layout.addSpacing(12)
        layout.addWidget(self.compare_box)
        layout.addStretch(1)

        self.anchor_box.currentIndexChanged.connect(
            lambda _: session.set_anchor_count(int(self.anchor_box.currentData()))
        )
        self.auto_button.clicked.connect(session.clear_pins)
        self.overlay_box.toggled.connect(view.set_overlay_enabled)
        self.opacity_slider.valueChanged.connect(lambda v: view.set_overlay_opacity(v / 100.0))
        self.threshold_box.valueChanged.connect(view.set_overlay_threshold)
        self.colormap_box.currentTextChanged.connect(view.set_colormap)
        self.compare_box.currentIndexChanged.connect(
            lambda _: view.set_compare_mode(str(self.compare_box.currentData()))
        )
        view.changed.connect(self._sync)
        session.anchors_changed.connect(self._sync)
        self._sync()

    def _sync(self, *_: object) -> None:
        """Show the state (the state may change from menus and shortcuts too)."""
        view, session = self.view, self.session
        widgets = (self.anchor_box, self.overlay_box, self.opacity_slider, self.threshold_box)
        widgets += (self.colormap_box, self.compare_box)
        for widget in widgets:
            widget.blockSignals(True)
        self.anchor_box.setCurrentIndex(ANCHOR_COUNTS.index(session.anchor_count))
        self.overlay_box.setChecked(view.overlay_enabled)
        self.opacity_slider.setValue(round(view.overlay_opacity * 100))
        self.opacity_slider.setEnabled(view.overlay_enabled)
        self.threshold_box.setValue(view.overlay_threshold)
        self.threshold_box.setEnabled(view.overlay_enabled)
        self.colormap_box.setCurrentText(view.colormap)
        self.compare_box.setCurrentIndex(COMPARE_MODES.index(view.compare_mode))
        self.auto_button.setEnabled(bool(session.pinned))
        for widget in widgets:
            widget.blockSignals(False)
