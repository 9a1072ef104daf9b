"""Persisted preferences (QSettings): recent files, device, precision, folders, geometry.

Tests pass their own ``QSettings`` (an ini file in a temporary folder) so nothing leaks between
them or into the user's real settings.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QWidget

MAX_RECENT = 10


class AppSettings:
    """Typed access to a ``QSettings`` store."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings()

    def _get_str(self, key: str, default: str = "") -> str:
        value = self.store.value(key, default)
        return str(value) if value is not None else default

    # ---------------------------------------------------------- recent files
    def recent_files(self) -> list[str]:
        value = self.store.value("recent_files", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    def add_recent_file(self, path: str) -> list[str]:
        path = os.path.abspath(path)
        files = [path] + [f for f in self.recent_files() if f != path]
        files = files[:MAX_RECENT]
        self.store.setValue("recent_files", files)
        return files

    def remove_recent_file(self, path: str) -> None:
        files = [f for f in self.recent_files() if f != os.path.abspath(path)]
        self.store.setValue("recent_files", files)

    def clear_recent_files(self) -> None:
        self.store.setValue("recent_files", [])

    # ---------------------------------------------------------------- model
    @property
    def device(self) -> str | None:
        return self._get_str("model/device") or None

    @device.setter
    def device(self, value: str | None) -> None:
        self.store.setValue("model/device", value or "")

    @property
    def precision(self) -> str:
        return self._get_str("model/precision", "fp32") or "fp32"

    @precision.setter
    def precision(self, value: str) -> None:
        self.store.setValue("model/precision", value)

    # -------------------------------------------------------------- folders
    def last_folder(self, kind: str) -> str:
        """Last folder used for ``kind`` ("open", "export", "model"), else the home folder."""
        folder = self._get_str(f"folders/{kind}")
        return folder if folder and os.path.isdir(folder) else os.path.expanduser("~")

    def set_last_folder(self, kind: str, path: str) -> None:
        folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        self.store.setValue(f"folders/{kind}", folder)

    # ------------------------------------------------------------- geometry
    def save_geometry(self, window: QWidget) -> None:
        self.store.setValue("window/geometry", window.saveGeometry())
        save_state = getattr(window, "saveState", None)
        if save_state is not None:
            self.store.setValue("window/state", save_state())

    def restore_geometry(self, window: QWidget) -> bool:
        geometry = self.store.value("window/geometry")
        if not isinstance(geometry, QByteArray) or geometry.isEmpty():
            return False
        window.restoreGeometry(geometry)
        state = self.store.value("window/state")
        restore_state = getattr(window, "restoreState", None)
        if isinstance(state, QByteArray) and restore_state is not None:
            restore_state(state)
        return True

    def sync(self) -> None:
        self.store.sync()
