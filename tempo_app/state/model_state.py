"""Which model is loaded, on which device and at which precision. No widgets here."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

LOW_MEMORY_TILE = 512


@dataclass(frozen=True)
class ModelSpec:
    """What to load: ``path`` None means the bundled default; ``device`` None means automatic;
    ``tile`` synthesizes in tiles of that many pixels a side (less GPU memory), None whole;
    ``scale`` is the processing scale (:mod:`tempo_core.inference.half_size`): "auto" runs the
    network at half size on frames of 720p and larger, "1" always at full size."""

    path: str | None = None
    device: str | None = None
    precision: str = "fp32"
    tile: int | None = None
    scale: str = "auto"


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, for the status bar."""

    name: str
    device_name: str
    precision: str
    generation: int
    spec: ModelSpec = ModelSpec()


def available_devices() -> list[str]:
    """Device names the Model menu offers: ``cpu`` always, ``cuda`` / ``mps`` when present."""
    devices = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            devices.append("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            devices.append("mps")
    except Exception:  # a broken torch install still lets the app open
        pass
    return devices


def fp16_possible(device: str | None, present: list[str]) -> bool:
    """fp16 runs on a GPU: the chosen one, or (automatic) any that is present."""
    if device is None:
        return any(d in present for d in ("cuda", "mps"))
    return device in ("cuda", "mps") and device in present


class ModelState(QObject):
    """The requested spec, the loaded model (or None) and whether a load is running."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = ModelSpec()
        self.info: ModelInfo | None = None
        self.loading = False
        self.problem: str | None = None
        self.ms_per_frame: float | None = None

    @property
    def ready(self) -> bool:
        return self.info is not None and not self.loading

    def set_loading(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.loading = True
        self.changed.emit()

    def set_loaded(self, info: ModelInfo) -> None:
        self.info = info
        self.loading = False
        self.problem = None
        self.ms_per_frame = None
        self.changed.emit()

    def set_failed(self, problem: str) -> None:
        """The load failed: the model loaded before (if any) stays, and so does its spec."""
        self.loading = False
        self.problem = problem
        if self.info is not None:
            self.spec = self.info.spec
        self.changed.emit()

    def set_ms_per_frame(self, ms: float) -> None:
        self.ms_per_frame = ms
        self.changed.emit()
