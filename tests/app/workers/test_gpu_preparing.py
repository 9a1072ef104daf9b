"""The first synthesis at a new frame size compiles the graph (tens of seconds on a GPU): the app
says so while it happens, keeps responding, and falls back to the eager network with one status
line if compiling fails. Forced on the CPU: the compiled path traced with the ``eager`` backend
(inductor's C++ build takes minutes here), its first run held until the test lets it go."""

from __future__ import annotations

import threading

import pytest
import torch
from PySide6.QtCore import QTimer
from tempo_app_helpers import CLIP_HEIGHT, CLIP_WIDTH, open_clip

from tempo_app.controller import AppController
from tempo_app.main_window import MainWindow
from tempo_app.workers.model_worker import COMPILE_FAILED
from tempo_core.inference import Interpolator

PREPARING = f"Preparing the GPU for {CLIP_WIDTH}x{CLIP_HEIGHT}, first frame only..."


def _between(session, left: int, fraction: float = 0.5) -> float:
    t0, t1 = session.frame_times[left], session.frame_times[left + 1]
    return float(t0 + fraction * (t1 - t0))


@pytest.fixture
def compiled_window(qtbot, settings, tiny_model, dialogs):
    """A started app whose interpolator takes the compiled path (as on CUDA); full-size previews."""

    def factory(spec):
        interpolator = Interpolator(tiny_model, device="cpu", compiled=True)
        interpolator.name = "tiny (compiled, test)"
        return interpolator

    controller = AppController(settings, factory=factory, preview_max_side=4096)
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(controller.worker.model_loaded, timeout=30000):
        controller.start()
    yield window
    window.close()
    qtbot.wait(100)


def _notes(window) -> list[tuple[str, bool]]:
    notes: list[tuple[str, bool]] = []
    window.controller.worker.gpu_note.connect(lambda text, lasting: notes.append((text, lasting)))
    return notes


def test_the_app_says_it_prepares_the_gpu_and_keeps_responding_while_it_compiles(
    qtbot, compiled_window, clip, monkeypatch
):
    released = threading.Event()
    compile_for_real = torch.compile

    def held_compile(function, **_):
        graph = compile_for_real(function, fullgraph=True, dynamic=False, backend="eager")

        def first_run_held(*args, **kwargs):
            released.wait(60)  # the compilation, as long as the test wants
            return graph(*args, **kwargs)

        return first_run_held

    monkeypatch.setattr(torch, "compile", held_compile)
    window = compiled_window
    notes = _notes(window)
    shown = []
    window.controller.display.frame_ready.connect(lambda frame: shown.append(frame.kind))
    open_clip(qtbot, window, clip)
    session = window.controller.session
    session.set_playhead(_between(session, 2, 0.4))
    try:
        qtbot.waitUntil(lambda: window.statusBar().currentMessage() == PREPARING, timeout=30000)
        qtbot.waitUntil(lambda: notes == [(PREPARING, True)], timeout=5000)  # lasting: until the next note
        ticks: list[int] = []
        QTimer.singleShot(0, lambda: ticks.append(1))
        qtbot.waitUntil(lambda: ticks == [1], timeout=5000)  # the UI thread runs while it compiles
        session.step_frame(+1)  # a real frame still comes at once from the frame thread
        qtbot.waitUntil(lambda: shown[-1] == "real", timeout=10000)
        assert window.controller.worker.isRunning() and not released.is_set()
    finally:
        released.set()
    # tracing the graph (after the hold) takes tens of seconds on a busy 2-core machine
    ready = (f"The GPU is ready for {CLIP_WIDTH}x{CLIP_HEIGHT}.", False)
    qtbot.waitUntil(lambda: notes[-1] == ready, timeout=180000)
    count = len(notes)
    with qtbot.waitSignal(
        window.controller.display.frame_ready, timeout=30000, check_params_cb=lambda f: f.kind == "synthesized"
    ):
        session.set_playhead(_between(session, 4, 0.5))
    assert len(notes) == count  # the same size again: nothing to prepare, nothing said


def test_a_failed_compilation_falls_back_to_eager_with_one_status_line(qtbot, compiled_window, clip, monkeypatch):
    def broken_compile(function, **_):
        def fails(*args, **kwargs):
            raise RuntimeError("the compiler crashed")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    window = compiled_window
    notes = _notes(window)
    open_clip(qtbot, window, clip)
    session = window.controller.session
    display = window.controller.display
    with qtbot.waitSignal(display.frame_ready, timeout=180000, check_params_cb=lambda f: f.kind == "synthesized"):
        session.set_playhead(_between(session, 2, 0.4))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == COMPILE_FAILED, timeout=10000)
    assert window.controller.worker._interp.compiled.failed
    with qtbot.waitSignal(display.frame_ready, timeout=30000, check_params_cb=lambda f: f.kind == "synthesized"):
        session.set_playhead(_between(session, 5, 0.5))
    assert notes == [(PREPARING, True), (COMPILE_FAILED, False)]  # said once; frames keep coming
