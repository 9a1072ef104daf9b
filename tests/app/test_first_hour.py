"""Issue 19, "the app's first hour": visible waiting, a readable overlay, an export that says
what it will cost, menus that reflect the machine, one anchor rule with the export, frame
numbers of the container, and one sentence when Qt's platform plugin cannot start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tempo_app_helpers import CLIP_FRAMES, open_clip, write_clip_with_cut

from tempo_app import platform_check
from tempo_app.resources import ICONS, style_sheet
from tempo_app.state.model_state import ModelState
from tempo_app.state.session import SessionState
from tempo_app.widgets import model_menu
from tempo_app.widgets.controls import position_text

REPO = Path(__file__).resolve().parents[2]


def _between(session, left: int, fraction: float = 0.5) -> float:
    t0, t1 = session.frame_times[left], session.frame_times[left + 1]
    return float(t0 + fraction * (t1 - t0))


# ------------------------------------------------------------------ 2. waiting is visible
def test_pending_synthesis_says_what_it_computes_and_how_long(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    session, display, viewer = window.controller.session, window.controller.display, window.viewer
    pendings: list = []
    display.pending_changed.connect(pendings.append)
    with qtbot.waitSignal(display.frame_ready, timeout=30000, check_params_cb=lambda f: f.kind == "synthesized"):
        session.set_playhead(_between(session, 2, 0.25))
        pending = viewer.pending
        assert pending is not None and pending.kind == "synthesis" and pending.anchors == (2, 3)
        assert pending.frame_position == pytest.approx(2.25)
        lines = viewer.pending_lines()
        assert "frame 2.250" in lines[0] and "from frames 2, 3" in lines[0] and "elapsed" in lines[1]
        assert viewer.frame.kind == "real"  # the last picture, dimmed: never labelled as the new one
        shown = viewer.grab().toImage()
    assert viewer.pending is None and pendings[-1] is None
    # with a measured speed, the next wait says how long it should take
    session.set_playhead(_between(session, 4, 0.5))
    assert viewer.pending.expected_s is not None and "of about" in viewer.pending_lines()[1]
    assert shown != viewer.grab().toImage()
    qtbot.waitUntil(lambda: viewer.pending is None, timeout=30000)


# ---------------------------------------------------------------- 3. a readable overlay
def _real_pair(width: int = 256) -> tuple[list[np.ndarray], list[float]]:
    """Two consecutive frames of a real clip (the shared data), else of the generated clip."""
    from tempo_core.video.reader import VideoReader

    path = REPO.parent / "shared" / "data" / "train" / "videos" / "bmx.mp4"
    if not path.exists():
        pytest.skip("the shared data (../shared/data) is not here")
    with VideoReader(path, cache_size=2) as reader:
        frames = [reader.read_frame(20), reader.read_frame(21)]
        times = [float(reader.frame_times[20]), float(reader.frame_times[21])]
    height = round(frames[0].shape[0] * width / frames[0].shape[1]) // 4 * 4
    return [np.asarray(Image.fromarray(f).resize((width, height))) for f in frames], times


def test_overlay_leaves_confident_pixels_readable_on_a_real_clip(qtbot):
    from tempo_app.display import DisplayFrame
    from tempo_app.images import qimage_to_array
    from tempo_app.state.view_state import ViewState
    from tempo_app.widgets.viewer import ViewerWidget
    from tempo_core.inference import Interpolator

    frames, times = _real_pair()
    interpolator = Interpolator.from_checkpoint(None, device="cpu")
    synthesis = interpolator.synthesize(interpolator.encode(frames, times), [0.5 * (times[0] + times[1])])[0]
    confidence, image = synthesis.confidence, synthesis.image
    # no grid: the map does not step at the 4-pixel blocks of the network's PixelShuffle
    steps = np.abs(np.diff(confidence, axis=1))
    at_blocks = np.arange(steps.shape[1]) % 4 == 3
    assert steps[:, at_blocks].mean() < 2.0 * steps[:, ~at_blocks].mean()

    view = ViewState()
    viewer = ViewerWidget(view)
    qtbot.addWidget(viewer)
    height, width = image.shape[:2]
    viewer.setMinimumSize(0, 0)
    viewer.resize(width + 16, height + 16)  # the picture at 1:1 inside the 8-pixel margin
    viewer.set_frame(DisplayFrame(image, 0.5, "synthesized", 20, (20, 21), confidence=confidence))

    def picture() -> np.ndarray:
        return qimage_to_array(viewer.grab().toImage())[8 : 8 + height, 8 : 8 + width].astype(np.int16)

    plain = picture()
    view.set_overlay_enabled(True)
    overlaid = picture()
    legend = np.zeros((height, width), bool)
    legend[height - 60 :, width - 200 :] = True  # the legend's corner, inside the picture
    change = np.abs(overlaid - plain).max(axis=2)
    confident = (confidence >= 0.75) & ~legend
    doubtful = (confidence <= np.quantile(confidence, 0.01)) & ~legend
    assert confident.mean() > 0.2 and doubtful.any()
    assert change[confident].max() <= 2  # above the threshold nothing changes
    assert confidence[doubtful].max() < view.overlay_threshold
    assert change[doubtful].mean() > 30  # the most doubtful spots stand out
    view.set_overlay_threshold(0.9)
    assert (np.abs(picture() - plain).max(axis=2)[confident] > 2).any()  # the user moves it


# ------------------------------------------------------------------------------ 4. export
def test_export_dialog_shows_the_work_before_it_starts(qtbot, window, clip):
    open_clip(qtbot, window, clip)
    window.show_export()
    dialog = window.export_dialog
    assert dialog.mode == "factor" and dialog.factor_box.currentData() == 2
    assert dialog.range_box.currentData() == "all"
    assert "16 frames out, 7 to synthesize" in dialog.estimate_label.text()
    qtbot.waitUntil(lambda: "about" in dialog.estimate_label.text(), timeout=30000)  # speed measured
    assert window.controller.model.ms_per_frame is not None
    dialog.factor_box.setCurrentIndex(2)  # x8
    assert "64 frames out" in dialog.estimate_label.text()
    dialog.close()
    session = window.controller.session
    session.set_in_point(float(session.frame_times[2]))
    session.set_out_point(float(session.frame_times[5]))
    window.show_export()
    assert window.export_dialog.range_box.currentData() == "range"
    assert "6 frames out, 3 to synthesize" in window.export_dialog.estimate_label.text()
    window.export_dialog.close()


# ------------------------------------------------------------------------------- 5. menus
def test_menus_reflect_a_machine_without_gpu(qtbot, monkeypatch):
    monkeypatch.setattr(model_menu, "available_devices", lambda: ["cpu"])
    menu = model_menu.ModelMenu(ModelState(), lambda: "")
    qtbot.addWidget(menu)
    cuda, fp16 = menu.device_actions["cuda"], menu.precision_actions["fp16"]
    assert not cuda.isEnabled() and "No CUDA GPU" in cuda.toolTip()
    assert not fp16.isEnabled() and "needs a GPU" in fp16.toolTip()
    assert menu.device_actions["cpu"].isEnabled() and menu.precision_actions["bf16"].isEnabled()
    assert menu.toolTipsVisible() and menu.device_menu.toolTipsVisible()
    monkeypatch.setattr(model_menu, "available_devices", lambda: ["cpu", "cuda"])
    with_gpu = model_menu.ModelMenu(ModelState(), lambda: "")
    qtbot.addWidget(with_gpu)
    assert with_gpu.device_actions["cuda"].isEnabled() and with_gpu.precision_actions["fp16"].isEnabled()


def test_checkable_menu_items_draw_their_state():
    sheet = style_sheet()
    for state in ("non-exclusive:unchecked", "non-exclusive:checked", "exclusive:checked"):
        assert f"QMenu::indicator:{state}" in sheet
    images = [line.split("url(")[1].split(")")[0] for line in sheet.splitlines() if "QMenu::indicator:" in line]
    assert images and all(Path(image).is_file() and Path(image).parent == ICONS for image in images)


# ---------------------------------------------------------- 7. one anchor rule with the export
def test_viewer_shows_what_the_export_writes_across_a_cut(qtbot, window, tmp_path):
    from tempo_core.video.engine import ExportSettings

    clip = write_clip_with_cut(tmp_path / "cut.mp4")
    controller = window.controller
    open_clip(qtbot, window, clip)
    session = controller.session
    qtbot.waitUntil(lambda: session.cuts == (6,), timeout=20000)  # found in the background
    at_cut = _between(session, 5, 0.6)  # nearer frame 6, but frame 5's scene would blend: held
    with qtbot.waitSignal(controller.display.frame_ready, timeout=10000, check_params_cb=lambda f: f.kind == "held"):
        session.set_playhead(at_cut)
    held = window.viewer.frame
    assert held.frame_index == session.plan_at(at_cut).source and window.synthesized_ids == []
    inside = _between(session, 6, 0.5)
    session.set_anchor_count(4)
    with qtbot.waitSignal(
        controller.display.frame_ready, timeout=30000, check_params_cb=lambda f: f.kind == "synthesized"
    ):
        session.set_playhead(inside)
    synthesized = window.viewer.frame
    assert min(synthesized.anchors) >= 6  # four anchors, none from the other scene
    output = tmp_path / "frames"
    settings = ExportSettings(clip, output, "times", 10.0, codec="png", anchors=4, times=(at_cut, inside))
    job = controller.new_export(settings)
    with qtbot.waitSignal(job.result, timeout=60000):
        job.start()
    written = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(output.glob("*.png"))]
    assert len(written) == 2

    def difference(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(int) - b.astype(int)).mean())

    # the same real frame, to the bit, far from the other scene's
    from tempo_core.video.reader import VideoReader

    assert held.frame_index in (5, 6)
    with VideoReader(clip, cache_size=2) as reader:
        other_side = reader.read_frame(11 - held.frame_index)
    np.testing.assert_array_equal(written[0], held.image)
    assert difference(written[0], other_side) > 20.0
    assert difference(written[1], synthesized.image) < 2.0


# ------------------------------------------------------------ 8. the container's numbers
def test_time_label_counts_frames_as_the_container(qapp):
    class Info:
        fps, duration, width, height = 30000 / 1001, 289 * 1001 / 30000, 64, 48

    session = SessionState()
    session.set_clip("dog.mp4", Info(), np.arange(289) * 1001 / 30000)
    session.set_playhead(float(session.frame_times[15] + 0.584 * 1001 / 30000))
    text = position_text(session)
    assert text.endswith("frame 15.584 (289 frames)") and "/ 00:09.643" in text
    session.step_frame(+1)
    assert position_text(session).endswith("frame 16 (289 frames)")
    assert CLIP_FRAMES == 8  # the generated clip of the other tests: "frame 0 (8 frames)"


# --------------------------------------------------------------- 6. the platform plugin
def test_missing_xcb_libraries_are_named():
    def load(library: str) -> None:
        if library in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1"):
            raise OSError(library)

    missing = platform_check.missing_packages(load)
    assert missing == ["libxcb-icccm4", "libxcb-keysyms1"]
    sentence = platform_check.failure_sentence(missing, ":0")
    assert "apt-get install libxcb-icccm4 libxcb-keysyms1" in sentence and "\n" not in sentence


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_app_without_a_usable_display_prints_one_sentence():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "WAYLAND"))}
    env.update(DISPLAY=":12345", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "tempo_app.main"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tempo-app: the Qt platform plugin cannot start")
    assert "libxcb-cursor0" in lines[0] or "libxcb-" in lines[0]
    assert "Reinstalling" not in done.stderr


def test_a_quick_decode_or_preview_does_not_dim_the_picture(qtbot):
    """During playback every real frame is a short decode, during a drag every step a small
    preview: no flicker of the waiting indicator."""
    import time

    from tempo_app.display import Pending
    from tempo_app.state.view_state import ViewState
    from tempo_app.widgets.viewer import SHOW_FRAME_WAIT_S, ViewerWidget

    viewer = ViewerWidget(ViewState())
    qtbot.addWidget(viewer)
    now = time.monotonic()
    viewer.set_pending(Pending("frame", 1.0, 25.0, frame_index=25, started=now))
    assert not viewer.waiting_shown()
    viewer.set_pending(Pending("frame", 1.0, 25.0, frame_index=25, started=now - SHOW_FRAME_WAIT_S))
    assert viewer.waiting_shown()
    viewer.set_pending(Pending("preview", 1.02, 25.5, (25, 26), started=now))
    assert not viewer.waiting_shown()  # a drag's small preview: as quick
    viewer.set_pending(Pending("synthesis", 1.02, 25.5, (25, 26), started=now))
    assert viewer.waiting_shown()  # a full synthesis takes seconds: shown at once
    viewer.set_pending(None)
    assert not viewer.waiting_shown()


def test_fp16_remembered_from_a_gpu_machine_starts_in_fp32(qtbot, settings, tiny_factory, monkeypatch):
    import tempo_app.controller as controller_module
    from tempo_app.controller import AppController

    monkeypatch.setattr(controller_module, "available_devices", lambda: ["cpu"])
    settings.precision = "fp16"
    controller = AppController(settings, factory=tiny_factory)
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        controller.start()
    assert controller.model.info.precision == "fp32" and settings.precision == "fp32"
    controller.shutdown()
