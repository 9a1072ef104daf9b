"""Slow motion pays the motion search once per anchor gap.

Between the same two anchors, the motion prior's search (coarse to fine, then at full size: most
of a synthesis on a CPU) barely depends on the target time: the same points move along the same
paths. :class:`SharedMotion` runs it once per gap, at the gap's middle
(``TempoNet.anchor_motion``), and every target in the gap re-times it (one warp per scale,
``retime``); the rest of the network still runs per target. Quality against a search per target,
on training septuplets: ``python benchmarks/studies/retime_study.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from tempo_core.network import AnchorMotion, EncodedObservations, TempoNet


class SharedMotion:
    """The prior's motion per anchor gap, searched on first use.

    Args:
        model: the network; encoded: batch-1 anchors; anchor_times: their timestamps.
    """

    def __init__(self, model: TempoNet, encoded: EncodedObservations, anchor_times: list[float]) -> None:
        self.model, self.encoded = model, encoded
        self.times = sorted(float(t) for t in anchor_times)
        self._by_gap: dict[int, AnchorMotion] = {}

    def gap(self, time: float) -> int | None:
        """Index of the anchor gap holding ``time`` (None outside the anchors)."""
        for index in range(len(self.times) - 1):
            if self.times[index] <= time <= self.times[index + 1]:
                return index
        return None

    def for_times(self, times: list[float], check: Callable[[], None] | None = None) -> AnchorMotion | None:
        """The motion for a batch of targets in one gap, expanded to the batch; None when they
        span several gaps or lie outside the anchors (then each is searched as usual). ``check``
        is called between the stages of a search (the app's cancel)."""
        gaps = {self.gap(time) for time in times}
        if len(gaps) != 1 or None in gaps:
            return None
        gap = gaps.pop()
        if gap not in self._by_gap:
            middle = (self.times[gap] + self.times[gap + 1]) / 2
            reference = torch.tensor([middle], dtype=torch.float64, device=self.encoded.frames.device)
            self._by_gap[gap] = self.model.anchor_motion(self.encoded, reference, check)
        return self._by_gap[gap].expand(len(times))
