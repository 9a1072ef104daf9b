"""Helpers shared by the app tests: a tiny clip written in code, waiting for the first picture."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PySide6.QtCore import QCoreApplication

CLIP_WIDTH, CLIP_HEIGHT, CLIP_FRAMES, CLIP_FPS = 64, 48, 8, 10


def write_clip(path: Path, frames: int = CLIP_FRAMES, fps: int = CLIP_FPS) -> Path:
    """A tiny H.264 clip: a bright square moving 4 px per frame over a gradient (it wraps around)."""
    yy, xx = np.mgrid[0:CLIP_HEIGHT, 0:CLIP_WIDTH]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = CLIP_WIDTH, CLIP_HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for index in range(frames):
            image = np.zeros((CLIP_HEIGHT, CLIP_WIDTH, 3), np.uint8)
            image[..., 0] = 40 + 2 * xx
            image[..., 1] = 60 + 2 * yy
            image[..., 2] = 90
            left = 4 + 4 * (index % 10)
            image[16:32, left : left + 16] = (250, 250, 40)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def open_clip(qtbot, window, path) -> None:
    """Open ``path`` and wait for the first picture."""
    with qtbot.waitSignal(window.controller.display.frame_ready, timeout=10000):
        assert window.controller.open_clip(str(path))


def write_clip_with_cut(path: Path, frames: int = 12, cut: int = 6, fps: int = 10) -> Path:
    """A tiny clip with a scene cut at frame ``cut``: a square moving over a warm gradient, then
    a bar moving over a dark blue one."""
    yy, xx = np.mgrid[0:CLIP_HEIGHT, 0:CLIP_WIDTH]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = CLIP_WIDTH, CLIP_HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"crf": "18", "preset": "ultrafast", "g": "4"}
        for index in range(frames):
            image = np.zeros((CLIP_HEIGHT, CLIP_WIDTH, 3), np.uint8)
            if index < cut:
                image[..., 0], image[..., 1], image[..., 2] = 200 + xx // 2, 120 + yy, 40
                image[12:28, 4 + 4 * index : 20 + 4 * index] = (250, 250, 250)
            else:
                image[..., 0], image[..., 1], image[..., 2] = 10, 20 + yy // 2, 90 + xx
                image[:, 40 - 3 * (index - cut) : 48 - 3 * (index - cut)] = (0, 230, 120)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def drain(qtbot, worker) -> None:
    """Wait, without a fixed sleep, until ``worker`` (a running ``LatestWinsThread``) has handled
    every request and job given before this call, then deliver the signals they emitted.

    A job queued now runs after the request being handled; a request still waiting then runs
    after it (jobs go first), which ``superseded()`` shows. So: barriers until none is waiting,
    then one more for the request the loop may have just taken."""
    for _ in range(100):
        passed = threading.Event()
        worker.queue_job(passed.set)
        qtbot.waitUntil(passed.is_set, timeout=10000)
        if not worker.superseded():
            break
    last = threading.Event()
    worker.queue_job(last.set)
    qtbot.waitUntil(last.is_set, timeout=10000)
    QCoreApplication.processEvents()  # the results' queued signals reach their receivers now
