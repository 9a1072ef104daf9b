"""Presentation times as containers give them, repaired into a strictly increasing frame clock.

Real files carry missing, repeated, backwards or jumping timestamps (broken muxers, edited
streams, variable frame rate). :class:`tempo_core.video.reader.VideoReader` passes the raw times of its
packets through :func:`repair_times`, so every frame has a usable time and the order of the frames
is never changed.
"""

from __future__ import annotations

import numpy as np


def repair_times(raw: list[float | None], nominal_step: float) -> np.ndarray:
    """Turn raw presentation times (seconds, ``None`` when missing) into strictly increasing ones.

    A time is trusted when it is larger than every trusted time before it and smaller than every
    time after it; the others (missing, repeated, going backwards, or jumping past their
    successors) are replaced by linear interpolation between the nearest trusted neighbours, or
    extrapolated with ``nominal_step`` at the ends. With fewer than two trusted times the frames
    are spaced by ``nominal_step`` from the first known time. Frame order is never changed.
    """
    n = len(raw)
    values = np.array([np.nan if t is None else float(t) for t in raw], dtype=np.float64)
    if n == 0:
        return values
    step = nominal_step if nominal_step > 0 and np.isfinite(nominal_step) else 1 / 25
    finite = np.where(np.isfinite(values), values, np.inf)
    suffix_min = np.minimum.accumulate(finite[::-1])[::-1]
    trusted = np.zeros(n, dtype=bool)
    best = -np.inf
    for i in range(n):
        later = suffix_min[i + 1] if i + 1 < n else np.inf
        if np.isfinite(values[i]) and values[i] > best and values[i] < later:
            trusted[i] = True
            best = values[i]
    keep = np.flatnonzero(trusted)
    if len(keep) < 2:
        known = values[np.isfinite(values)]
        origin = float(known[0]) if len(known) else 0.0
        return origin + np.arange(n, dtype=np.float64) * step
    idx = np.arange(n, dtype=np.float64)
    times = np.interp(idx, keep, values[keep])
    head, tail = keep[0], keep[-1]
    times[:head] = values[head] - (head - idx[:head]) * step
    times[tail + 1 :] = values[tail] + (idx[tail + 1 :] - tail) * step
    return times
