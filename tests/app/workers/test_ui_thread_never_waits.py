"""The window's thread never joins a background thread while the user works: switching clips
only asks the old clip's thumbnail loader and cut scanner to stop, and returns at once."""

from __future__ import annotations

import threading

from tempo_app_helpers import write_clip

from tempo_app.workers.scene_cuts import SceneCutScanner
from tempo_app.workers.thumbnails import ThumbnailLoader


def test_a_clip_switch_does_not_wait_for_the_old_clips_threads(qtbot, window, tmp_path, monkeypatch):
    release = threading.Event()
    started: list[str] = []

    def blocked_run(self) -> None:  # a slow disk: the thread is stuck until the test releases it
        started.append(type(self).__name__)
        release.wait(30)

    monkeypatch.setattr(ThumbnailLoader, "run", blocked_run)
    monkeypatch.setattr(SceneCutScanner, "run", blocked_run)
    joins: list[str] = []
    for cls in (ThumbnailLoader, SceneCutScanner):
        real_wait = cls.wait
        monkeypatch.setattr(cls, "wait", lambda self, *a, _w=real_wait: joins.append("wait") or _w(self, *a))
    controller = window.controller
    try:
        assert controller.open_clip(str(write_clip(tmp_path / "first.mp4")))
        qtbot.waitUntil(lambda: len(started) == 2, timeout=10000)
        old_threads = [controller.thumbnail_loader, controller.cut_scanner]
        ended: list[int] = []
        for thread in old_threads:
            thread.finished.connect(lambda: ended.append(1))
        assert controller.open_clip(str(write_clip(tmp_path / "second.mp4")))
        # the switch returned while the old threads are still stuck: nothing joined them
        assert joins == []
        assert all(thread.isRunning() and thread.isInterruptionRequested() for thread in old_threads)
        assert controller.thumbnail_loader not in old_threads and controller.cut_scanner not in old_threads
    finally:
        release.set()
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=10000)  # and they end once unblocked
