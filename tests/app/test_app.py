"""The main window end to end: open, scrub, synthesize, anchors, overlay, errors, settings."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent
from PySide6.QtWidgets import QLabel
from tempo_app_helpers import CLIP_FRAMES, CLIP_HEIGHT, CLIP_WIDTH, open_clip, write_clip

from tempo_app.controller import AppController
from tempo_app.main_window import MainWindow
from tempo_app.state.model_state import ModelSpec
from tempo_app.widgets.timeline import LANE_HEIGHT


def _frames(window) -> list:
    shown: list = []
    window.controller.display.frame_ready.connect(shown.append)
    return shown


def _between(session, left: int, fraction: float = 0.5) -> float:
    t0, t1 = session.frame_times[left], session.frame_times[left + 1]
    return float(t0 + fraction * (t1 - t0))


def test_open_clip_shows_first_real_frame(qtbot, window, clip, settings):
    open_clip(qtbot, window, clip)
    session = window.controller.session
    assert session.has_clip and len(session.frame_times) == CLIP_FRAMES
    frame = window.viewer.frame
    assert frame.kind == "real" and frame.frame_index == 0
    assert frame.image.shape == (CLIP_HEIGHT, CLIP_WIDTH, 3)
    assert "clip.mp4" in window.windowTitle()
    assert settings.recent_files() == [str(clip)]
    assert window.recent_menu.actions()[0].text() == str(clip)
    assert "00:00.800   frame 0 (8 frames)" in window.transport.time_label.text()
    qtbot.waitUntil(lambda: len(window.timeline.thumbnails) == CLIP_FRAMES, timeout=10000)


def test_playhead_between_frames_gives_synthesized_frame_of_clip_size(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session = window.controller.session
    display = window.controller.display
    busy: list[bool] = []
    display.busy_changed.connect(busy.append)
    with qtbot.waitSignal(
        display.frame_ready, timeout=30000, check_params_cb=lambda f: f.kind == "synthesized"
    ) as blocker:
        session.set_playhead(_between(session, 2, 0.4))
        assert window.viewer.busy
    qtbot.waitUntil(lambda: busy == [True, False], timeout=10000)
    assert not window.viewer.busy
    frame = blocker.args[0]
    assert frame.image.shape == (CLIP_HEIGHT, CLIP_WIDTH, 3) and frame.image.dtype == np.uint8
    assert frame.confidence.shape == (CLIP_HEIGHT, CLIP_WIDTH)
    assert 0.0 <= frame.confidence.min() <= frame.confidence.max() <= 1.0
    assert frame.anchors == (2, 3)
    assert frame.time == pytest.approx(session.playhead)
    assert window.controller.model.ms_per_frame is not None
    assert "ms / frame" in window.statusBar().findChild(type(window.transport.time_label), "speed_label").text()
    # back on a real frame: the real frame (decoded by the frame thread), no model involved
    processed = list(window.synthesized_ids)
    with qtbot.waitSignal(display.frame_ready, timeout=10000, check_params_cb=lambda f: f.kind == "real"):
        session.step_frame(+1)
    assert window.viewer.frame.kind == "real" and window.viewer.frame.frame_index == 3
    assert window.synthesized_ids == processed
    # the same time again comes from the cache, at once
    session.set_playhead(frame.time)
    assert window.viewer.frame.kind == "synthesized" and window.viewer.frame.time == frame.time


def test_rapid_scrubbing_ends_with_last_position_only(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session, display = window.controller.session, window.controller.display
    shown = _frames(window)
    positions = [_between(session, i % (CLIP_FRAMES - 1), 0.1 + 0.04 * i) for i in range(20)]
    for time in positions:
        session.set_playhead(time)
    qtbot.waitUntil(lambda: not display.busy, timeout=30000)
    synthesized = [f for f in shown if f.kind == "synthesized"]
    assert [f.time for f in synthesized] == [positions[-1]]
    assert window.viewer.frame.time == positions[-1]
    assert len(window.synthesized_ids) < len(positions)


def test_dragging_previews_then_full_resolution_at_rest(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session = window.controller.session
    window.controller.display._rest_timer.setInterval(60000)  # the drag "rests" only on release
    shown = _frames(window)
    session.set_scrubbing(True)
    session.set_playhead(_between(session, 4, 0.5))
    qtbot.waitUntil(lambda: any(f.kind == "preview" for f in shown), timeout=30000)
    preview = next(f for f in shown if f.kind == "preview")
    assert max(preview.image.shape[:2]) <= 32  # preview_max_side of the fixture
    session.set_scrubbing(False)
    qtbot.waitUntil(lambda: shown[-1].kind == "synthesized", timeout=30000)
    assert shown[-1].image.shape == (CLIP_HEIGHT, CLIP_WIDTH, 3)


def test_full_resolution_once_the_playhead_rests_mid_drag(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session = window.controller.session
    window.controller.display._rest_timer.setInterval(50)
    shown = _frames(window)
    session.set_scrubbing(True)
    session.set_playhead(_between(session, 5, 0.3))
    qtbot.waitUntil(lambda: bool(shown) and shown[-1].kind == "synthesized", timeout=30000)
    assert session.scrubbing and shown[-1].time == session.playhead


def test_timeline_drag_scrubs_in_continuous_time(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    timeline, session = window.timeline, window.controller.session
    x = round(timeline.time_to_x(_between(session, 1, 0.5)))
    y = LANE_HEIGHT + 10
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    assert session.scrubbing
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    assert not session.scrubbing
    assert session.real_frame_at() is None
    assert 1.0 < session.frame_position() < 2.0


def test_anchor_pins_toggle_from_the_timeline(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session, timeline = window.controller.session, window.timeline
    session.set_playhead(_between(session, 2))
    assert session.anchors == (2, 3)
    pin_x = round(timeline.frame_x(6))
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(pin_x, LANE_HEIGHT // 2))
    assert session.pinned == {6} and 6 in session.anchors and len(session.anchors) == 2
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(pin_x, LANE_HEIGHT // 2))
    assert session.pinned == set() and session.anchors == (2, 3)
    window.display_bar.anchor_box.setCurrentIndex(1)  # "4 nearest"
    assert session.anchor_count == 4 and session.anchors == (1, 2, 3, 4)
    session.toggle_pin(0)
    session.toggle_pin(7)
    assert session.anchors == (0, 7)
    assert window.display_bar.auto_button.isEnabled()
    window.display_bar.auto_button.click()
    assert session.pinned == set() and session.anchors == (1, 2, 3, 4)


def test_pinned_anchors_too_far_report_in_status_bar(qtbot, window, clip, dialogs):
    open_clip(qtbot, window, clip)
    session, display = window.controller.session, window.controller.display
    session.toggle_pin(0)
    session.toggle_pin(1)
    with qtbot.waitSignal(display.status, timeout=30000) as blocker:
        session.set_playhead(_between(session, 6))
    assert "too far" in blocker.args[0] and blocker.args[0] in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.viewer.frame.kind == "nearest", timeout=10000)
    assert window.viewer.frame.frame_index in (6, 7)
    assert dialogs == []
    session.clear_pins()  # automatic anchors work again
    qtbot.waitUntil(lambda: window.viewer.frame.kind == "synthesized", timeout=30000)


def test_overlay_toggles_and_changes_the_picture(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session, view = window.controller.session, window.controller.view
    with qtbot.waitSignal(
        window.controller.display.frame_ready,
        timeout=30000,
        check_params_cb=lambda f: f.kind == "synthesized",
    ):
        session.set_playhead(_between(session, 3))
    # the real frame to compare with comes from the frame thread, with or after the synthesis
    qtbot.waitUntil(lambda: window.viewer.frame.reference is not None, timeout=10000)
    assert window.viewer.frame.kind == "synthesized" and window.viewer.frame.frame_index in (3, 4)
    plain = window.viewer.grab().toImage()
    window.display_bar.overlay_box.click()
    assert view.overlay_enabled and window.overlay_action.isChecked()
    assert window.viewer.overlay_image() is not None
    overlaid = window.viewer.grab().toImage()
    assert overlaid != plain
    window.display_bar.opacity_slider.setValue(20)
    assert view.overlay_opacity == pytest.approx(0.2)
    window.display_bar.colormap_box.setCurrentText("viridis")
    assert view.colormap == "viridis"
    window.display_bar.threshold_box.setValue(0.3)
    assert view.overlay_threshold == pytest.approx(0.3)
    view.set_overlay_threshold(0.7)  # from elsewhere: the box follows
    assert window.display_bar.threshold_box.value() == pytest.approx(0.7)
    window.overlay_action.trigger()
    assert not view.overlay_enabled and not window.display_bar.overlay_box.isChecked()
    for index, mode in enumerate(("off", "split", "side")):
        window.display_bar.compare_box.setCurrentIndex(index)
        assert view.compare_mode == mode
        window.viewer.grab()  # paints every mode without error
    assert len(window.viewer.image_rects()) == 2


def test_corrupt_file_shows_dialog_and_app_stays_usable(qtbot, window, clip, tmp_path, dialogs):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    assert not window.controller.open_clip(str(bad))
    assert len(dialogs) == 1
    message = dialogs[0]
    assert "\n" not in message and "Traceback" not in message and "broken.mp4" in message
    assert not window.controller.session.has_clip
    open_clip(qtbot, window, clip)
    session = window.controller.session
    with qtbot.waitSignal(
        window.controller.display.frame_ready,
        timeout=30000,
        check_params_cb=lambda f: f.kind == "synthesized",
    ):
        session.set_playhead(_between(session, 0))
    assert len(dialogs) == 1


@pytest.mark.parametrize("kind", ["empty", "text", "missing", "folder", "truncated"])
def test_bad_media_gives_one_sentence_or_opens(qtbot, window, clip, tmp_path, dialogs, kind):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a video at all")
    elif kind == "folder":
        path.mkdir()
    elif kind == "truncated":
        data = clip.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    opened = window.controller.open_clip(str(path))
    if opened:  # a damaged tail may still leave readable frames: then they must work
        assert window.controller.session.has_clip and not dialogs
    else:
        assert len(dialogs) == 1 and "\n" not in dialogs[0] and path.name in dialogs[0]
    open_clip(qtbot, window, clip)  # and the app carries on
    assert window.viewer.frame.kind == "real"


def test_failed_model_load_keeps_the_previous_model(qtbot, window, clip, tmp_path, dialogs):
    from tempo_app.workers.model_worker import default_factory

    controller = window.controller
    controller.worker.set_factory(default_factory)
    not_a_model = tmp_path / "weights.safetensors"
    not_a_model.write_text("this is not a model")
    with qtbot.waitSignal(controller.worker.model_failed, timeout=30000):
        controller.load_model(ModelSpec(str(not_a_model)))
    assert len(dialogs) == 1 and "\n" not in dialogs[0]
    assert controller.model.info is not None and not controller.model.loading
    open_clip(qtbot, window, clip)
    with qtbot.waitSignal(
        controller.display.frame_ready,
        timeout=30000,
        check_params_cb=lambda f: f.kind == "synthesized",
    ):
        controller.session.set_playhead(_between(controller.session, 5))


def test_missing_default_model_still_opens(qtbot, settings, clip, tmp_path, monkeypatch, dialogs):
    monkeypatch.setenv("TEMPO_DEFAULT_MODEL", str(tmp_path / "missing.safetensors"))
    controller = AppController(settings)
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(controller.worker.model_failed, timeout=30000):
        controller.start()
    assert dialogs == []
    assert controller.model.problem and controller.model.problem in window.statusBar().currentMessage()
    open_clip(qtbot, window, clip)
    controller.session.set_playhead(_between(controller.session, 1))
    qtbot.waitUntil(lambda: window.viewer.frame.kind == "nearest", timeout=10000)
    assert "No model" in window.viewer.frame.note and window.viewer.frame.frame_index in (1, 2)
    window.close()


def test_gpu_out_of_memory_becomes_advice(qtbot, window, clip, tiny_factory, dialogs):
    class OutOfMemoryInterpolator:
        def __init__(self, inner):
            self.inner = inner
            self.device_name = "fake GPU"

        def encode(self, frames, times):
            return self.inner.encode(frames, times)

        def synthesize(self, encoded, times, should_cancel=None):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    controller = window.controller
    controller.worker.set_factory(lambda spec: OutOfMemoryInterpolator(tiny_factory(spec)))
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        controller.load_model(ModelSpec())
    open_clip(qtbot, window, clip)
    with qtbot.waitSignal(controller.display.error, timeout=30000):
        controller.session.set_playhead(_between(controller.session, 2))
    assert len(dialogs) == 1 and "out of memory" in dialogs[0] and "CPU" in dialogs[0]


def test_drop_recent_files_and_geometry_persist(qtbot, window, clip, tmp_path, settings):
    other = write_clip(tmp_path / "other.mp4", frames=4)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(other))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)  # indexed in the background (tests/app/workers/test_clip_opener.py)
    qtbot.waitUntil(lambda: window.controller.session.path == str(other), timeout=10000)
    open_clip(qtbot, window, clip)
    assert settings.recent_files() == [str(clip), str(other)]
    window.resize(777, 555)
    window.close()
    assert settings.store.value("window/geometry") is not None


def test_play_pause_and_steps(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session, playback = window.controller.session, window.controller.playback
    window.transport.play_button.click()
    assert playback.playing
    qtbot.waitUntil(lambda: session.nearest_frame() >= 2, timeout=5000)
    window.transport.play_button.click()
    assert not playback.playing
    assert session.real_frame_at() is not None
    before = session.frame_position()
    window.transport.fraction_box.setCurrentIndex(0)  # 1/2 frame
    window.transport.forward_button.click()
    assert session.frame_position() == pytest.approx(before + 0.5)
    window.transport.next_button.click()
    assert session.frame_position() == pytest.approx(before + 1)
    window.transport.prev_button.click()
    assert session.frame_position() == pytest.approx(before)
    actions = {a.text(): a for a in window.findChildren(QAction)}
    actions["Set in point"].trigger()
    window.transport.next_button.click()
    actions["Set out point"].trigger()
    assert session.export_range == (session.frame_times[round(before)], session.playhead)
    actions["Clear in/out"].trigger()
    assert session.export_range == (None, None)


def test_model_menu_precision_and_device(qtbot, window, settings, dialogs):
    controller, menu = window.controller, window.model_menu
    if "cuda" not in menu.present and "mps" not in menu.present:  # fp16 needs a GPU: not offered
        assert not menu.precision_actions["fp16"].isEnabled()
        assert "GPU" in menu.precision_actions["fp16"].toolTip()
    assert controller.model.spec.precision == "fp32" and menu.precision_actions["fp32"].isChecked()
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        menu.precision_actions["bf16"].trigger()
    assert controller.model.info.precision == "bf16" and settings.precision == "bf16"
    assert "bf16" in window.statusBar().findChild(QLabel, "model_label").text()
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        menu.device_actions["cpu"].trigger()
    assert settings.device == "cpu" and menu.device_actions["cpu"].isChecked()
    assert window.statusBar().findChild(QLabel, "device_label").text() == "Device: CPU"
    assert not menu.precision_actions["fp16"].isEnabled()  # the CPU is chosen: no fp16
    assert not menu.tile_action.isChecked()
    loaded = controller.worker._interp
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        menu.tile_action.trigger()
    assert controller.worker._interp is loaded and loaded.tile == 512  # the same weights, not reloaded
    assert controller.model.info.spec.tile == 512 and menu.tile_action.isChecked()
    assert menu.half_size_action.isChecked() and controller.model.info.spec.scale == "auto"
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        menu.half_size_action.trigger()
    assert controller.model.info.spec.scale == "1" and not menu.half_size_action.isChecked()
    assert controller.worker._interp is loaded and loaded.scale == "1"  # every frame at full size, no reload
    assert dialogs == []


def test_viewer_reader_keeps_a_small_decode_cache(qtbot, window, clip, monkeypatch):
    # the model thread's reader has its own cache and the display its own LRU: the viewer's reader
    # must not hold a third full-size cache (up to 512 MiB of 4K frames by default)
    import tempo_core.video.reader as video

    budgets: list[tuple[int, int]] = []
    original_init = video.VideoReader.__init__

    def recording_init(self, path, cache_size=64, max_cache_bytes=512 * 2**20):
        budgets.append((cache_size, max_cache_bytes))
        original_init(self, path, cache_size, max_cache_bytes)

    monkeypatch.setattr(video.VideoReader, "__init__", recording_init)
    assert window.controller.open_clip(str(clip))
    assert budgets and budgets[0][0] <= 16 and budgets[0][1] <= 128 * 2**20
