"""Fixtures for the desktop app tests: offscreen Qt, private settings, tiny model, tiny clips."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import uuid
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QMessageBox
from tempo_app_helpers import write_clip

from tempo_app.controller import AppController
from tempo_app.main_window import MainWindow
from tempo_app.state.settings import AppSettings
from tempo_core.inference import Interpolator
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI machine has 2 cores; Qt and decoding need the other
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model():
    torch.manual_seed(0)
    return build_tempo(tempo_tiny())


@pytest.fixture
def tiny_factory(tiny_model):
    """A model factory for the worker: the tiny preset on the CPU, whatever the spec says."""

    def factory(spec):
        interpolator = Interpolator(tiny_model, device="cpu", precision=spec.precision, scale=spec.scale)
        interpolator.name = "tiny (test)"
        return interpolator

    return factory


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "clip.mp4")


@pytest.fixture
def settings(tmp_path) -> AppSettings:
    """A private settings store: its own ini file and a unique organization / app name."""
    name = f"tempo-test-{uuid.uuid4().hex[:8]}"
    QCoreApplication.setOrganizationName(name)
    QCoreApplication.setApplicationName(name)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "cfg"))
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> list[str]:
    """Error dialogs never block: their messages are collected here instead."""
    shown: list[str] = []

    def critical(parent, title, text, *args, **kwargs):
        shown.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "critical", staticmethod(critical))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    return shown


@pytest.fixture
def window(qtbot, settings, tiny_factory, dialogs):
    """A started app with the tiny model loaded and no clip open."""
    controller = AppController(settings, factory=tiny_factory, preview_max_side=32)
    main_window = MainWindow(controller)
    qtbot.addWidget(main_window)
    main_window.synthesized_ids = []  # the requests the model thread synthesized, in order
    controller.worker.result.connect(lambda result: main_window.synthesized_ids.append(result.request.request_id))
    main_window.resize(900, 600)
    main_window.show()
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        controller.start()
    yield main_window
    before = list(dialogs)
    main_window.close()
    assert not controller.threads_running()  # closing stopped every thread ...
    QCoreApplication.processEvents()  # ... so their late signals are all delivered now
    assert dialogs == before  # and none raised a dialog
