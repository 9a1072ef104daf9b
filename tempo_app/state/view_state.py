"""How the frame is shown: confidence overlay and compare mode. No widgets here."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from tempo_app.colormap import COLORMAPS

COMPARE_MODES = ("off", "split", "side")
COMPARE_LABELS = {"off": "Compare off", "split": "Split", "side": "Side by side"}
# Pixels whose confidence is below this are painted as doubtful by the overlay (the user moves it
# within THRESHOLD_RANGE). The default is at least the frame score's pixel threshold
# (tempo_core.frame_score.SCORE_THRESHOLD), so what the overlay marks includes what the score counts.
DEFAULT_THRESHOLD = 0.5
THRESHOLD_RANGE = (0.05, 0.95)


class ViewState(QObject):
    """Overlay (on/off, opacity, colour map, doubt threshold) and compare (off/split/side, split
    position). The overlay colours only pixels whose confidence is below ``overlay_threshold``."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.overlay_enabled = False
        self.overlay_opacity = 0.8
        self.overlay_threshold = DEFAULT_THRESHOLD
        self.colormap = "red-alert"
        self.compare_mode = "off"
        self.split_position = 0.5

    def set_overlay_enabled(self, enabled: bool) -> None:
        if bool(enabled) != self.overlay_enabled:
            self.overlay_enabled = bool(enabled)
            self.changed.emit()

    def toggle_overlay(self) -> None:
        self.set_overlay_enabled(not self.overlay_enabled)

    def set_overlay_opacity(self, opacity: float) -> None:
        opacity = min(max(float(opacity), 0.0), 1.0)
        if opacity != self.overlay_opacity:
            self.overlay_opacity = opacity
            self.changed.emit()

    def set_overlay_threshold(self, threshold: float) -> None:
        """Colour pixels whose confidence is below ``threshold`` (clamped to THRESHOLD_RANGE)."""
        threshold = min(max(float(threshold), THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1])
        if threshold != self.overlay_threshold:
            self.overlay_threshold = threshold
            self.changed.emit()

    def set_colormap(self, name: str) -> None:
        if name not in COLORMAPS:
            raise ValueError(f"unknown colour map {name!r}")
        if name != self.colormap:
            self.colormap = name
            self.changed.emit()

    def set_compare_mode(self, mode: str) -> None:
        if mode not in COMPARE_MODES:
            raise ValueError(f"compare mode must be one of {COMPARE_MODES}")
        if mode != self.compare_mode:
            self.compare_mode = mode
            self.changed.emit()

    def set_split_position(self, position: float) -> None:
        position = min(max(float(position), 0.0), 1.0)
        if position != self.split_position:
            self.split_position = position
            self.changed.emit()
