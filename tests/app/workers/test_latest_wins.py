"""The worker base both app threads share: jobs in order, the latest request wins."""

from __future__ import annotations

import threading
import time

from tempo_app.workers.latest_wins import LatestWinsThread


class Recorder(LatestWinsThread[int]):
    """Handles requests by recording them; the first one waits until released."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished_on_thread = False

    def handle(self, request: int) -> None:
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(10)
        self.log.append(f"request {request} superseded={self.superseded()}")

    def finish(self) -> None:
        self.finished_on_thread = True


def test_jobs_run_in_order_before_the_latest_request(qapp):
    worker = Recorder()
    worker.start()
    worker.replace_request(1)
    assert worker.entered.wait(10)  # request 1 is running and held
    for index in range(3):
        worker.queue_job(lambda i=index: worker.log.append(f"job {i}"))
    assert worker.replace_request(2) is None
    assert worker.replace_request(3) == 2  # 2 never runs: 3 replaced it
    assert worker.superseded()
    worker.release.set()
    deadline = time.monotonic() + 10  # never hang: fail instead
    while len(worker.log) < 5 and time.monotonic() < deadline:
        worker.msleep(5)
    worker.request_stop()
    assert worker.wait(10000) and worker.finished_on_thread
    assert worker.log == ["request 1 superseded=True", "job 0", "job 1", "job 2", "request 3 superseded=False"]
