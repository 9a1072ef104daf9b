"""Clips the user opens are indexed on a thread of their own: the window never waits for a scan.

``tempo_app.controller.open_viewer_reader`` is wrapped to record the thread that indexes each file,
to hold an open until the test releases it (a long file on a slow disk), and to record closes.
"""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QFileDialog
from tempo_app_helpers import CLIP_FRAMES, open_clip, write_clip

import tempo_app.controller as controller_module
from tempo_app.workers.clip_opener import ClipOpener


class OpenSpy:
    """Wraps ``open_viewer_reader``: records ``(thread, path)`` per open and every reader closed;
    an open of ``hold_path`` waits for ``release``."""

    def __init__(self, monkeypatch) -> None:
        self.opens: list[tuple[threading.Thread, str]] = []
        self.closed: list[str] = []
        self.hold_path: str | None = None
        self.release = threading.Event()
        real_open = controller_module.open_viewer_reader

        def spy_open(path: str):
            self.opens.append((threading.current_thread(), path))
            if path == self.hold_path:
                assert self.release.wait(20), "the test never released the held open"
            reader = real_open(path)
            real_close = reader.close

            def spy_close() -> None:
                self.closed.append(path)
                real_close()

            reader.close = spy_close
            return reader

        monkeypatch.setattr(controller_module, "open_viewer_reader", spy_open)


def test_a_clip_opened_from_the_window_is_indexed_off_the_ui_thread(qtbot, window, clip, monkeypatch):
    spy = OpenSpy(monkeypatch)
    spy.hold_path = str(clip)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(clip), ""))
    window.choose_clip()
    qtbot.waitUntil(lambda: len(spy.opens) == 1, timeout=5000)
    qtbot.wait(50)  # the window keeps handling events while the scan is held
    assert not window.controller.session.has_clip
    spy.release.set()
    qtbot.waitUntil(lambda: window.controller.session.path == str(clip), timeout=10000)
    assert spy.opens[0][0] is not threading.main_thread()
    assert len(window.controller.session.frame_times) == CLIP_FRAMES
    assert window.statusBar().currentMessage() == f"Opened {clip.name}: {CLIP_FRAMES} frames."
    qtbot.waitUntil(lambda: window.viewer.frame is not None and window.viewer.frame.kind == "real", timeout=10000)


def test_a_later_open_wins_and_the_superseded_clip_is_closed(qtbot, window, clip, tmp_path, monkeypatch):
    other = write_clip(tmp_path / "other.mp4", frames=4)
    spy = OpenSpy(monkeypatch)
    spy.hold_path = str(clip)
    controller = window.controller
    controller.open_clip_in_background(str(clip))  # slow: still indexing when the next comes
    controller.open_clip_in_background(str(other))
    qtbot.waitUntil(lambda: controller.session.path == str(other), timeout=10000)
    spy.release.set()
    qtbot.waitUntil(lambda: str(clip) in spy.closed, timeout=10000)
    qtbot.waitUntil(lambda: not controller.findChildren(ClipOpener), timeout=10000)  # finished, deleted
    assert controller.session.path == str(other) and len(controller.session.frame_times) == 4


def test_a_file_that_fails_to_open_is_one_sentence_and_keeps_the_clip(qtbot, window, clip, tmp_path, dialogs):
    open_clip(qtbot, window, clip)
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("these are not frames")
    window.controller.open_clip_in_background(str(not_a_video))
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=10000)
    assert "notes.mp4" in dialogs[0] and "Traceback" not in dialogs[0]
    assert window.controller.session.path == str(clip)


def test_closing_the_app_while_a_clip_is_indexing_closes_it(qtbot, window, clip, monkeypatch):
    spy = OpenSpy(monkeypatch)
    spy.hold_path = str(clip)
    controller = window.controller
    controller.open_clip_in_background(str(clip))
    qtbot.waitUntil(lambda: len(spy.opens) == 1, timeout=5000)
    threading.Timer(0.3, spy.release.set).start()  # the scan ends during the shutdown's grace
    window.close()
    assert not controller.threads_running()
    qtbot.waitUntil(lambda: spy.closed == [str(clip)], timeout=10000)
    assert not controller.session.has_clip
