"""The user's frame first: background scans wait while a synthesis runs (tempo_app.workers.foreground)."""

from __future__ import annotations

import threading
import time

from tempo_app.workers.foreground import FOREGROUND, ForegroundGate


def _background(gate: ForegroundGate, steps: list[int], stop: threading.Event) -> threading.Thread:
    def work() -> None:
        for step in range(1000):
            gate.wait_idle(stop.is_set)
            if stop.is_set():
                return
            steps.append(step)
            time.sleep(0.001)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_background_work_pauses_while_the_gate_is_held_and_resumes_after():
    gate, steps, stop = ForegroundGate(), [], threading.Event()
    with gate.busy():
        thread = _background(gate, steps, stop)
        time.sleep(0.2)
        assert steps == [] and gate.is_busy
    deadline = time.monotonic() + 10
    while len(steps) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(steps) >= 5 and not gate.is_busy
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_an_interrupted_background_job_stops_waiting_at_once():
    gate, steps, stop = ForegroundGate(), [], threading.Event()
    with gate.busy():
        thread = _background(gate, steps, stop)
        time.sleep(0.1)
        stop.set()  # as QThread.requestInterruption: nothing notifies the gate
        thread.join(1)
        assert not thread.is_alive() and steps == []


def test_nested_holds_release_only_at_the_outer_end():
    gate = ForegroundGate()
    with gate.busy():
        with gate.busy():
            assert gate.is_busy
        assert gate.is_busy
    assert not gate.is_busy


def test_the_model_worker_holds_the_gate_while_it_synthesizes(qtbot, window, clip):
    from tempo_app_helpers import open_clip

    seen: list[bool] = []
    worker = window.controller.worker
    open_clip(qtbot, window, clip)
    original = type(worker)._encode

    def spying_encode(self, request):
        seen.append(FOREGROUND.is_busy)
        return original(self, request)

    type(worker)._encode = spying_encode
    try:
        session = window.controller.session
        t0, t1 = session.frame_times[2], session.frame_times[3]
        session.set_playhead(float(t0 + 0.5 * (t1 - t0)))
        qtbot.waitUntil(lambda: bool(seen), timeout=30000)
    finally:
        type(worker)._encode = original
    assert seen[0] is True
