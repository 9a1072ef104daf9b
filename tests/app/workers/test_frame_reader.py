"""Real frames are decoded off the UI thread: latest request wins, clip changes and errors.

``VideoReader.read_frame`` is wrapped to record which thread decodes which frame, and to hold or
fail chosen reads, so each test can make the frame thread slow or broken on purpose.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication
from tempo_app_helpers import CLIP_FRAMES, drain, open_clip, write_clip

from tempo_app.workers.frame_reader import FrameReader
from tempo_core.errors import MediaError
from tempo_core.video.reader import VideoReader


class ReadSpy:
    """Wraps ``VideoReader.read_frame``/``close``: records ``(thread id, path, index)`` and can
    hold reads of one index until released, fail them, or slow every read down."""

    def __init__(self, monkeypatch) -> None:
        self.reads: list[tuple[int, str, int]] = []
        self.readers: list[int] = []  # id() of the VideoReader behind each entry of reads
        self.closes: list[tuple[int, str]] = []
        self.hold_index: int | None = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self.left = threading.Event()
        self.fail: dict[int, BaseException] = {}
        self.delay_s = 0.0
        read_frame, close = VideoReader.read_frame, VideoReader.close

        def spy_read(reader: VideoReader, index: int) -> np.ndarray:
            self.reads.append((threading.get_ident(), reader.path.name, index))
            self.readers.append(id(reader))
            if self.delay_s:
                time.sleep(self.delay_s)
            if index == self.hold_index:
                self.entered.set()
                self.release.wait(10)
                self.left.set()
            if index in self.fail:
                raise self.fail[index]
            return read_frame(reader, index)

        def spy_close(reader: VideoReader) -> None:
            self.closes.append((threading.get_ident(), reader.path.name))
            close(reader)

        monkeypatch.setattr(VideoReader, "read_frame", spy_read)
        monkeypatch.setattr(VideoReader, "close", spy_close)

    def threads_that_read(self, name: str) -> set[int]:
        return {ident for ident, path, _ in self.reads if path == name}

    def threads_that_closed(self, name: str) -> set[int]:
        return {ident for ident, path in self.closes if path == name}


def _decode(path, index: int) -> np.ndarray:
    with VideoReader(path) as reader:
        return np.array(reader.read_frame(index))


def _show_real(qtbot, window, index: int):
    """Put the playhead on real frame ``index`` and wait for that frame."""
    session, display = window.controller.session, window.controller.display
    with qtbot.waitSignal(
        display.frame_ready,
        timeout=10000,
        check_params_cb=lambda f: f.kind == "real" and f.frame_index == index,
    ) as blocker:
        session.set_playhead(float(session.frame_times[index]))
    return blocker.args[0]


def _wait_for_thumbnails(qtbot, window) -> None:
    """The thumbnails and the scene-cut scan have read the clip (each with a reader of its own)."""
    qtbot.waitUntil(lambda: len(window.timeline.thumbnails) == CLIP_FRAMES, timeout=10000)
    scanner = window.controller.cut_scanner
    qtbot.waitUntil(lambda: scanner is None or scanner.isFinished(), timeout=10000)


def test_ui_thread_never_decodes_a_frame(qtbot, window, clip, monkeypatch):
    expected = {index: _decode(clip, index) for index in (2, 3, 4, 6)}
    spy = ReadSpy(monkeypatch)
    main_thread = threading.get_ident()
    open_clip(qtbot, window, clip)
    session, display = window.controller.session, window.controller.display
    for index in (3, 6, 2):
        frame = _show_real(qtbot, window, index)
        np.testing.assert_array_equal(frame.image, expected[index])
    window.controller.view.set_compare_mode("side")
    t0, t1 = session.frame_times[4], session.frame_times[5]
    session.set_playhead(float(t0 + 0.3 * (t1 - t0)))
    qtbot.waitUntil(
        lambda: window.viewer.frame.kind == "synthesized" and window.viewer.frame.reference is not None,
        timeout=30000,
    )
    np.testing.assert_array_equal(window.viewer.frame.reference, expected[4])
    read_by = spy.threads_that_read(clip.name)
    assert read_by and main_thread not in read_by
    assert display.frames.isRunning()


def test_recent_real_frames_show_at_once(qtbot, window, clip, monkeypatch):
    open_clip(qtbot, window, clip)
    session = window.controller.session
    _show_real(qtbot, window, 3)
    _show_real(qtbot, window, 4)
    spy = ReadSpy(monkeypatch)
    shown: list = []
    window.controller.display.frame_ready.connect(shown.append)
    session.step_frame(-1)  # no event loop in between: the picture must come from the LRU
    assert [(f.kind, f.frame_index) for f in shown] == [("real", 3)]
    session.step_frame(+1)
    # other readers (the thumbnails, the cut scan) may read any frame meanwhile, and the viewer's
    # reader other frames (a read-ahead): the viewer's reader must not read 3 or 4 again
    viewer = window.controller.display.frames._reader
    assert viewer is not None
    again = [r for r, who in zip(spy.reads, spy.readers, strict=True) if who == id(viewer) and r[2] in (3, 4)]
    assert [f.frame_index for f in shown] == [3, 4] and again == []


def test_rapid_moves_end_on_the_last_positions_real_frame(qtbot, window, clip, monkeypatch):
    open_clip(qtbot, window, clip)
    _wait_for_thumbnails(qtbot, window)
    expected = _decode(clip, 3)
    spy = ReadSpy(monkeypatch)
    spy.delay_s = 0.05  # a slow seek: the moves come much faster than the decodes
    session, display = window.controller.session, window.controller.display
    shown: list = []
    display.frame_ready.connect(shown.append)
    moves = [1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3]
    for index in moves:
        session.set_playhead(float(session.frame_times[index]))
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    drain(qtbot, display.frames)  # reads still on their way show up now
    assert [(f.kind, f.frame_index) for f in shown] == [("real", 3)]
    np.testing.assert_array_equal(shown[-1].image, expected)
    assert window.viewer.frame is shown[-1]
    assert len(spy.reads) < len(moves)  # latest wins: no queue of every position


def test_closing_the_clip_while_a_read_is_pending(qtbot, window, clip, monkeypatch, dialogs):
    open_clip(qtbot, window, clip)
    _wait_for_thumbnails(qtbot, window)  # only the frame thread reads from here on
    spy = ReadSpy(monkeypatch)
    spy.hold_index = 5
    controller, display = window.controller, window.controller.display
    shown, read = [], []
    display.frame_ready.connect(shown.append)
    display.frames.result.connect(lambda *args: read.append(args))
    controller.session.set_playhead(float(controller.session.frame_times[5]))
    assert spy.entered.wait(10)
    window.close_clip_action.trigger()  # File > Close clip
    assert not controller.session.has_clip and window.viewer.frame is None
    assert not window.close_clip_action.isEnabled()
    spy.release.set()
    assert spy.left.wait(10)
    drain(qtbot, display.frames)  # a late frame would be delivered now
    assert shown == [] and read == [] and window.viewer.frame is None
    qtbot.waitUntil(lambda: bool(spy.threads_that_closed(clip.name)), timeout=5000)
    assert spy.threads_that_closed(clip.name) == spy.threads_that_read(clip.name)  # one thread
    assert threading.get_ident() not in spy.threads_that_closed(clip.name)
    assert dialogs == []
    spy.hold_index = None
    open_clip(qtbot, window, clip)  # and the frame thread serves the next clip
    assert window.viewer.frame.kind == "real" and window.viewer.frame.frame_index == 0


def test_a_new_clip_never_shows_a_frame_of_the_previous_one(qtbot, window, clip, tmp_path, monkeypatch):
    other = write_clip(tmp_path / "other.mp4", frames=4)
    expected = _decode(other, 0)
    open_clip(qtbot, window, clip)
    _wait_for_thumbnails(qtbot, window)
    spy = ReadSpy(monkeypatch)
    spy.hold_index = 5
    controller, display = window.controller, window.controller.display
    controller.session.set_playhead(float(controller.session.frame_times[5]))
    assert spy.entered.wait(10)
    shown, read = [], []
    display.frame_ready.connect(shown.append)
    display.frames.result.connect(lambda *args: read.append(args[:2]))
    assert controller.open_clip(str(other))  # its first frame waits behind the held read
    spy.release.set()
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    drain(qtbot, display.frames)
    assert [(f.kind, f.frame_index) for f in shown] == [("real", 0)]
    np.testing.assert_array_equal(shown[0].image, expected)
    assert read == [(display.frames.generation, 0)]


def test_closing_the_app_while_a_read_is_pending(qtbot, window, clip, monkeypatch):
    open_clip(qtbot, window, clip)
    _wait_for_thumbnails(qtbot, window)
    spy = ReadSpy(monkeypatch)
    spy.hold_index = 6
    controller = window.controller
    shown: list = []
    controller.display.frame_ready.connect(shown.append)
    controller.session.set_playhead(float(controller.session.frame_times[6]))
    assert spy.entered.wait(10)
    threading.Timer(0.3, spy.release.set).start()  # the decode ends while the window closes
    window.close()
    assert not controller.threads_running() and not controller.display.frames.isRunning()
    assert shown == []
    assert spy.threads_that_closed(clip.name) == spy.threads_that_read(clip.name)
    assert threading.get_ident() not in spy.threads_that_closed(clip.name)


@pytest.mark.parametrize(
    "error, sentence",
    [
        (
            MediaError("Frame 4 of clip.mp4 cannot be decoded; the file may be damaged."),
            "Frame 4 of clip.mp4 cannot be decoded; the file may be damaged.",
        ),
        (OSError("corrupt block\nat offset 1234"), "Reading the frame failed unexpectedly (OSError: corrupt block)."),
    ],
)
def test_a_read_error_becomes_one_sentence(qtbot, window, clip, monkeypatch, dialogs, error, sentence):
    open_clip(qtbot, window, clip)
    _wait_for_thumbnails(qtbot, window)  # they read frame 4 too
    spy = ReadSpy(monkeypatch)
    spy.fail[4] = error
    session, display = window.controller.session, window.controller.display
    with qtbot.waitSignal(display.error, timeout=10000) as blocker:
        session.set_playhead(float(session.frame_times[4]))
    assert blocker.args == [sentence] and dialogs == [sentence]
    assert window.viewer.frame.kind == "real" and window.viewer.frame.frame_index == 0
    assert threading.get_ident() not in spy.threads_that_read(clip.name)
    _show_real(qtbot, window, 2)  # the app carries on
    assert dialogs == [sentence]


class FakeReader:
    """Stands in for a VideoReader: slow reads of a frame filled with its index."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.read_threads: set[int] = set()
        self.read_indices: list[int] = []
        self.closed_by: int | None = None

    def read_frame(self, index: int) -> np.ndarray:
        self.read_threads.add(threading.get_ident())
        self.read_indices.append(index)
        time.sleep(self.delay_s)
        return np.full((4, 6, 3), index, np.uint8)

    def close(self) -> None:
        self.closed_by = threading.get_ident()


def test_frame_reader_latest_request_wins_and_owns_its_readers(qtbot):
    frames = FrameReader()
    first, second = FakeReader(), FakeReader()
    results: list = []
    frames.result.connect(lambda generation, index, image: results.append((generation, index, image)))
    try:
        generation = frames.set_reader(first)
        for index in range(10):
            frames.request(index)
        qtbot.waitUntil(lambda: bool(results) and results[-1][1] == 9, timeout=5000)
        assert len(first.read_indices) < 10 and first.read_indices[-1] == 9
        assert {g for g, _, _ in results} == {generation} and (results[-1][2] == 9).all()
        assert threading.get_ident() not in first.read_threads
        new_generation = frames.set_reader(second)
        assert new_generation > generation
        frames.request(2)
        qtbot.waitUntil(lambda: results[-1][:2] == (new_generation, 2), timeout=5000)
        assert first.closed_by in first.read_threads  # closed by the thread that read it
    finally:
        assert frames.stop()
    assert not frames.isRunning() and second.closed_by in second.read_threads
    frames.request(3)  # stopped: nothing is read any more (no thread runs to read it)
    assert not frames.isRunning()
    QCoreApplication.processEvents()
    assert second.read_indices == [2]


def test_frame_reader_hands_back_nothing_before_a_reader(qtbot):
    frames = FrameReader()
    received: list = []
    frames.result.connect(lambda *args: received.append(args))
    frames.request(0)
    assert not frames.isRunning()  # no reader, no thread: nothing can be read
    QCoreApplication.processEvents()
    assert received == []
    assert frames.stop()
