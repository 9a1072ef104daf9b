"""A newer request stops a stale synthesis between its stages (issue 30 item 3): the model
worker hands ``superseded`` to the interpolator as ``should_cancel``."""

from __future__ import annotations

import threading

import numpy as np
from tempo_app_helpers import write_clip

from tempo_app.state.model_state import ModelSpec
from tempo_app.workers.model_worker import ModelWorker, SynthesisRequest
from tempo_core.errors import Cancelled
from tempo_core.inference import Synthesis


class SlowStagedModel:
    """A synthesis of many stages that asks ``should_cancel`` after each; the first one it
    starts holds at its first stage until the test releases it."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.stages: list[float] = []
        self.stopped: list[float] = []

    def encode(self, frames, timestamps):
        return list(frames)

    def synthesize(self, encoded, target_times, should_cancel=None):
        time = float(target_times[0])
        for stage in range(50):
            self.stages.append(time)
            if stage == 0 and not self.entered.is_set():
                self.entered.set()
                self.release.wait(30)
            if should_cancel is not None and should_cancel():
                self.stopped.append(time)
                raise Cancelled()
        image = encoded[0]
        return [Synthesis(image, np.ones(image.shape[:2], np.float32), time)]


def test_a_newer_request_stops_the_stale_synthesis_between_its_stages(qtbot, tmp_path):
    clip = str(write_clip(tmp_path / "clip.mp4"))
    model = SlowStagedModel()
    worker = ModelWorker(factory=lambda spec: model)
    results: list[float] = []
    worker.result.connect(lambda result: results.append(result.request.time))
    worker.start()
    try:
        with qtbot.waitSignal(worker.model_loaded, timeout=10000):
            worker.load_model(ModelSpec())
        worker.request(SynthesisRequest(1, clip, 0.05, (0, 1)))
        assert model.entered.wait(10)  # the first synthesis is under way
        worker.request(SynthesisRequest(2, clip, 0.15, (1, 2)))  # the user scrubbed on
        model.release.set()
        qtbot.waitUntil(lambda: results == [0.15], timeout=10000)
        assert model.stopped == [0.05]  # the stale one stopped at its next check ...
        assert model.stages.count(0.05) == 1  # ... after one stage, not all fifty
        assert model.stages.count(0.15) == 50 and results == [0.15]
    finally:
        model.release.set()
        assert worker.stop()
