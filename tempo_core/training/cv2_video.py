"""Training videos decoded with OpenCV, where PyAV is not installed (the lent GPU machines).

:func:`tempo_core.training.clips.decode_video` decodes with PyAV; on a machine without PyAV it
calls :func:`decode_video_cv2` instead, which gives the same thing: every frame in display
orientation (rotation metadata applied), area-downscaled so the longer side is at most
``max_side``, and the frames' own timestamps (checked on cat.mp4: identical frames to PyAV's;
fire.mp4, stored upside down, mean difference 0.8 of 255 in the coded orientation). Without
OpenCV either, a video is a :class:`MediaError` (``tempo train`` skips that clip and says so).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tempo_core.errors import MediaError


def opencv_available() -> bool:
    """Whether ``cv2`` can be imported (OpenCV decodes training videos when PyAV is absent)."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def decode_video_cv2(path: Path, max_side: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of ``path``: uint8 RGB ``[T, H, W, 3]`` and times in seconds ``[T]`` (as PyAV's).

    Raises :class:`MediaError` when OpenCV is not installed, cannot open the file or decodes
    fewer than 3 frames.
    """
    try:
        import cv2
    except ImportError:
        raise MediaError(
            f"{path.name} cannot be decoded: neither PyAV nor OpenCV is installed (pip install av)."
        ) from None
    from tempo_core.frame_sizes import fit_size
    from tempo_core.local_files import ffmpeg_url

    capture = cv2.VideoCapture(ffmpeg_url(path), cv2.CAP_FFMPEG)  # a local file, never a URL
    if not capture.isOpened():
        raise MediaError(f"OpenCV could not open the video {path}.")
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # as clips.decode_video: the display orientation
    rate = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames, times = [], []
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            times.append(capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            height, width = bgr.shape[:2]
            if max_side and max(width, height) > max_side:
                bgr = cv2.resize(bgr, fit_size(width, height, max_side), interpolation=cv2.INTER_AREA)
            frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    finally:
        capture.release()
    if len(frames) < 3:
        raise MediaError(f"OpenCV decoded {len(frames)} frames of {path}; it cannot be used for training.")
    times_arr = np.asarray(times, np.float64)
    if not np.all(np.isfinite(times_arr)) or np.any(np.diff(times_arr) <= 0):
        times_arr = np.arange(len(frames), dtype=np.float64) / rate  # no usable timestamps: the nominal rate
    return np.stack(frames), times_arr
