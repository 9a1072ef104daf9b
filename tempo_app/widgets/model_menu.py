"""The Model menu: load a checkpoint or the bundled default, choose device and precision.

It reflects the machine: a CUDA GPU that is absent is listed but disabled, with a tooltip that
says why, and so is fp16 (it needs a GPU); checkable items always show their state.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from tempo_app.state.model_state import ModelState, available_devices, fp16_possible
from tempo_core.inference.settings import PRECISION_NAMES

DEVICE_LABELS = {
    None: "Automatic (GPU when present)",
    "cpu": "CPU",
    "cuda": "CUDA GPU",
    "mps": "Apple GPU",
}
NO_CUDA = "No CUDA GPU was found on this machine."
NO_MPS = "No Apple GPU (Metal) was found on this machine."
FP16_NEEDS_GPU = "fp16 needs a GPU; on the CPU use fp32 or bf16."
HALF_SIZE_TIP = (
    "On a CPU, frames of 720p and larger go through the learned network at half size, while the motion "
    "search and the pixels stay at full size: about twice as fast, within a few hundredths of a dB; "
    "off: the whole network at full size."
)


def listed_devices() -> list[str | None]:
    """What the Device menu lists: automatic, the CPU, CUDA always, the Apple GPU on macOS."""
    return [None, "cpu", "cuda", *(["mps"] if sys.platform == "darwin" else [])]


class ModelMenu(QMenu):
    """Emits ``load_requested(ModelSpec)``, ``device_chosen(str | None)``, ``precision_chosen``,
    ``tiling_chosen(bool)`` and ``half_size_chosen(bool)``; shows the model state's spec."""

    load_requested = Signal(object)
    device_chosen = Signal(object)
    precision_chosen = Signal(str)
    tiling_chosen = Signal(bool)
    half_size_chosen = Signal(bool)

    def __init__(self, model: ModelState, last_folder, parent: QWidget | None = None) -> None:
        super().__init__("&Model", parent)
        self.model = model
        self._last_folder = last_folder  # callable -> folder for the file dialog
        self.load_action = self.addAction("&Load checkpoint...")
        self.load_action.triggered.connect(self.choose_checkpoint)
        self.default_action = self.addAction("Load the &bundled default")
        self.default_action.triggered.connect(lambda: self.load_requested.emit(replace(self.model.spec, path=None)))
        self.addSeparator()
        self.device_menu = self.addMenu("&Device")
        self.device_group = QActionGroup(self)
        self.device_actions: dict[str | None, QAction] = {}
        self.present = available_devices()
        for menu in (self, self.device_menu):
            menu.setToolTipsVisible(True)
        for device in listed_devices():
            action = self.device_menu.addAction(DEVICE_LABELS.get(device, device))
            action.setCheckable(True)
            action.setData(device)
            if device is not None and device not in self.present:
                action.setToolTip(NO_CUDA if device == "cuda" else NO_MPS)
            self.device_group.addAction(action)
            self.device_actions[device] = action
            action.triggered.connect(lambda _=False, d=device: self.device_chosen.emit(d))
        self.precision_menu = self.addMenu("&Precision")
        self.precision_menu.setToolTipsVisible(True)
        self.precision_group = QActionGroup(self)
        self.precision_actions: dict[str, QAction] = {}
        for precision in PRECISION_NAMES:
            action = self.precision_menu.addAction(precision)
            action.setCheckable(True)
            self.precision_group.addAction(action)
            self.precision_actions[precision] = action
            action.triggered.connect(lambda _=False, p=precision: self.precision_chosen.emit(p))
        self.tile_action = self.addAction("Synthesize in &tiles (less GPU memory)")
        self.tile_action.setCheckable(True)
        self.tile_action.triggered.connect(self.tiling_chosen)
        self.half_size_action = self.addAction("&Half-size network on large frames (faster on a CPU)")
        self.half_size_action.setCheckable(True)
        self.half_size_action.setToolTip(HALF_SIZE_TIP)
        self.half_size_action.triggered.connect(self.half_size_chosen)
        model.changed.connect(self._sync)
        self._sync()

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parentWidget(), "Load a TEMPO model", self._last_folder(), "Models (*.safetensors)"
        )
        if path:
            self.load_requested.emit(replace(self.model.spec, path=path))

    def _sync(self) -> None:
        spec = self.model.spec
        action = self.device_actions.get(spec.device) or self.device_actions[None]
        action.setChecked(True)
        self.precision_actions.get(spec.precision, self.precision_actions["fp32"]).setChecked(True)
        self.tile_action.setChecked(spec.tile is not None)
        self.half_size_action.setChecked(spec.scale == "auto")
        busy = self.model.loading
        items = (self.load_action, self.default_action, self.device_menu, self.precision_menu)
        for item in (*items, self.tile_action, self.half_size_action):
            item.setEnabled(not busy)
        for device, device_action in self.device_actions.items():
            device_action.setEnabled(device is None or device in self.present)
        fp16 = self.precision_actions["fp16"]
        fp16.setEnabled(fp16_possible(spec.device, self.present))
        fp16.setToolTip("" if fp16.isEnabled() else FP16_NEEDS_GPU)
