"""Scene-cut detection: never synthesize a frame from two different shots.

Each frame is reduced to a small RGB thumbnail. The score between consecutive frames is the
mean of two distances in ``[0, 1]``: the mean absolute pixel difference and half the L1 distance
between 16-bin histograms (averaged over the colour channels). Motion moves pixels but keeps
the histogram, a cut changes both. A pair is a cut when its score is at least ``threshold``
*and* at least ``ratio`` times the median score of its neighbourhood (so a fast, busy shot does
not cut everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

DEFAULT_THRESHOLD = 0.15
THUMB_SIZE = 32


def thumbnail(image: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """``uint8 H x W x 3`` RGB -> float32 ``size x size x 3`` in [0, 1] (block means)."""
    gray = image.astype(np.float32) / 255.0
    height, width = gray.shape[:2]
    rows = np.linspace(0, height, size + 1).astype(int)
    cols = np.linspace(0, width, size + 1).astype(int)
    rows[1:] = np.maximum(rows[1:], rows[:-1] + 1)
    cols[1:] = np.maximum(cols[1:], cols[:-1] + 1)
    rows, cols = np.minimum(rows, height), np.minimum(cols, width)
    summed = np.add.reduceat(np.add.reduceat(gray, rows[:-1], axis=0), cols[:-1], axis=1)
    area = np.outer(np.diff(rows), np.diff(cols)).clip(min=1)[:, :, None]
    return (summed / area).astype(np.float32)


def pair_score(a: np.ndarray, b: np.ndarray) -> float:
    """Cut score of two ``H x W x 3`` thumbnails (float, [0, 1]) in ``[0, 1]``."""
    pixel = float(np.abs(a - b).mean())
    hist = 0.0
    for channel in range(a.shape[-1]):
        hist_a = np.histogram(a[..., channel], bins=16, range=(0.0, 1.0))[0] / a[..., 0].size
        hist_b = np.histogram(b[..., channel], bins=16, range=(0.0, 1.0))[0] / b[..., 0].size
        hist += 0.5 * float(np.abs(hist_a - hist_b).sum()) / a.shape[-1]
    return 0.5 * pixel + 0.5 * hist


def cut_scores(thumbnails: Iterable[np.ndarray]) -> np.ndarray:
    """``scores[i]`` compares frame ``i`` with frame ``i - 1`` (``scores[0] = 0``)."""
    scores, previous = [], None
    for thumb in thumbnails:
        scores.append(0.0 if previous is None else pair_score(previous, thumb))
        previous = thumb
    return np.asarray(scores, dtype=np.float64)


def detect_cuts(
    scores: np.ndarray, threshold: float = DEFAULT_THRESHOLD, ratio: float = 3.0, window: int = 8
) -> list[int]:
    """Frame indices that start a new scene (relative to the first scored frame)."""
    cuts = []
    for i in range(1, len(scores)):
        if scores[i] < threshold:
            continue
        lo, hi = max(1, i - window), min(len(scores), i + window + 1)
        neighbours = np.concatenate([scores[lo:i], scores[i + 1 : hi]])
        local = float(np.median(neighbours)) if len(neighbours) else 0.0
        if scores[i] >= ratio * local:
            cuts.append(i)
    return cuts


def cuts_of(small_frames: Iterable[np.ndarray], threshold: float = DEFAULT_THRESHOLD, start: int = 0) -> list[int]:
    """Frame indices (``start`` + position) that begin a new scene, from the clip's consecutive
    small frames (``uint8 h x w x 3`` RGB, as ``VideoReader.iter_small`` yields them); a
    ``threshold`` of 1 or more turns detection off."""
    if threshold >= 1.0:
        return []
    scores = cut_scores(frame.astype(np.float32) / 255.0 for frame in small_frames)
    return [start + i for i in detect_cuts(scores, threshold)]
