"""One number per synthesized frame from its confidence map, and the safety net's fallback choice.

**Frame score.** The network returns a per-pixel confidence map in [0, 1] (``Synthesis.confidence``
``[H, W]``, or ``aux["confidence"]`` ``[B, 1, H, W]``). An editor needs one number per frame that
ranks the frames by how wrong they are. :func:`frame_score` is the share of pixels whose confidence
is at least :data:`SCORE_THRESHOLD`: 1.0 when every pixel is trusted, 0.0 when none is. The
threshold was chosen among the mean, low percentiles and shares at other thresholds on windows cut
from the training videos, and only then reported on validation (``benchmarks/studies/confidence_ranking.py``,
docs/decisions/023-confidence-disagreement-frame-score.md). The map sees where the network's looked-up observations
disagree (``aux["disagreement"]``); with it the score ranks the validation targets by PSNR better
than the plain difference of the two anchors (a motion-size proxy), across clips. Within one clip
the proxy is still as good or better at N=2: use the score to order and flag frames, not as a
promise of quality. Most ordinary frames score above 0.9; the hard ones fall below.

**Safety net.** When a synthesized frame scores below what the user accepts, it is replaced by one
of two frames built from the real anchors around it: the nearest real frame held, or the plain
blend of the two anchors (linear in time, as ``tempo eval --baseline blend``). There is no ground
truth at export time, so :func:`choose_fallback` measures how far each candidate lies from the
synthesized frame *where the network is confident* (the part of the synthesis most likely right;
every pixel where no pixel is confident) and keeps the blend unless the held frame is closer by a
margin (:data:`HOLD_MARGIN`, chosen on training windows with and without scene cuts by
``benchmarks/studies/fallback_choice.py``; with the map of issue 21 the grid's best is 1.0, by 0.04 dB,
within noise, so 0.9 stays). On ordinary motion the blend is the better of the two for
99 % of the training targets; where a scene changed (a cut the scene-cut detector missed) a held
frame that the synthesis resembles beats a cross-fade (figures: docs/decisions/024-fallback-margin.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from tempo_core.errors import InputError

SCORE_THRESHOLD = 0.2  # chosen on training windows (docs/decisions/023-confidence-disagreement-frame-score.md)
HOLD_MARGIN = 0.9  # chosen on training windows (docs/decisions/024-fallback-margin.md)
# A frame scoring below this is doubtful (the app's confidence track, D / Shift+D): on the training
# windows (benchmarks/studies/confidence_ranking.py, N=2) the score bands below 0.9 have median PSNRs of
# 15.4-16.0 dB, those above 19.9-33.2 dB (docs/decisions/023-confidence-disagreement-frame-score.md).
DOUBTFUL_SCORE = 0.9
FallbackKind = Literal["hold", "blend"]


def share_at_least(confidence: np.ndarray | torch.Tensor, threshold: float) -> float | torch.Tensor:
    """Share of pixels with confidence ``>= threshold``.

    Args:
        confidence: ``[H, W]`` (numpy or torch) or ``[B, 1, H, W]`` (torch) in [0, 1].
        threshold: in [0, 1].

    Returns:
        a float in [0, 1] for ``[H, W]``; a float tensor ``[B]`` in [0, 1] for ``[B, 1, H, W]``.
    """
    _check_map(confidence)
    if isinstance(confidence, torch.Tensor):
        share = (confidence >= threshold).float().flatten(start_dim=-2).mean(dim=-1)
        return share.flatten() if confidence.dim() == 4 else float(share)
    return float(np.mean(np.asarray(confidence) >= threshold))


def frame_score(confidence: np.ndarray | torch.Tensor) -> float | torch.Tensor:
    """The frame-level score: share of pixels with confidence ``>= SCORE_THRESHOLD``.

    Args:
        confidence: ``[H, W]`` (numpy or torch) or ``[B, 1, H, W]`` (torch) in [0, 1].

    Returns:
        in [0, 1], higher is better: a float for one map, a float tensor ``[B]`` for a batch.
    """
    return share_at_least(confidence, SCORE_THRESHOLD)


def _check_map(confidence: np.ndarray | torch.Tensor) -> None:
    shape = tuple(confidence.shape)
    batched = isinstance(confidence, torch.Tensor) and len(shape) == 4 and shape[1] == 1
    if len(shape) != 2 and not batched:
        raise InputError(f"A confidence map must be H x W or B x 1 x H x W; got shape {shape}.")
    if 0 in shape:
        raise InputError("A confidence map must hold at least one pixel.")


@dataclass(frozen=True)
class Fallback:
    """The frame that replaces a doubtful synthesized one.

    kind: "hold" (the nearest real frame) or "blend" (the two anchors around the target, linear in
    time); image: uint8 ``[H, W, 3]``; held: index (into the anchors given) of the frame the
    "hold" candidate holds (set whichever kind won); distances: the confidence-weighted mean absolute
    difference (0-255 levels) of each candidate to the synthesized frame, ``{"hold": ..., "blend": ...}``.
    """

    kind: FallbackKind
    image: np.ndarray
    held: int
    distances: dict[str, float]


def plain_blend(earlier: np.ndarray, later: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * earlier + weight * later``, rounded half to even, uint8 ``[H, W, 3]``.

    The same arithmetic as the ``blend`` baseline of ``tempo eval``; ``weight`` in [0, 1].
    """
    mixed = (1.0 - weight) * earlier.astype(np.float64) + weight * later.astype(np.float64)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def bracketing_pair(times: list[float], target_time: float) -> tuple[int, int, float]:
    """Indices of the anchors just before and after ``target_time`` and the blend weight in [0, 1].

    Outside the anchors the two nearest ones are used and the weight is clamped (a hold).
    """
    order = sorted(range(len(times)), key=lambda i: times[i])
    after = sum(1 for i in order if times[i] <= target_time)
    after = min(max(after, 1), len(order) - 1)
    early, late = order[after - 1], order[after]
    weight = (target_time - times[early]) / (times[late] - times[early])
    return early, late, float(min(max(weight, 0.0), 1.0))


def prefers_hold(distances: dict[str, float], margin: float = HOLD_MARGIN) -> bool:
    """Hold only when the held frame is closer by the margin: ``hold < margin * blend`` (distances >= 0).

    On ordinary motion the blend is the better fallback almost always (its errors are half-way
    errors); the case the hold is for is a scene the network could not follow (a missed cut), where
    the synthesis resembles one side and the blend cross-fades, so the hold has to win by a margin.
    """
    return distances["hold"] < margin * distances["blend"]


def choose_fallback(
    anchors: list[np.ndarray],
    times: list[float],
    target_time: float,
    synthesized: np.ndarray,
    confidence: np.ndarray,
) -> Fallback:
    """Hold the nearest real frame or blend the two around the target, whichever agrees better
    with the synthesized frame where it is confident.

    Args:
        anchors: the real frames, uint8 ``[H, W, 3]`` each (at least 2, any order).
        times: their times (distinct).
        target_time: the time of the synthesized frame.
        synthesized: uint8 ``[H, W, 3]``.
        confidence: ``[H, W]`` in [0, 1], the synthesized frame's map.

    The held frame is the anchor nearest in time; on a tie (the middle of a pair) the one of the
    two closer to the synthesized frame. Each candidate's distance is the mean absolute difference
    to ``synthesized`` over the pixels with confidence ``>= SCORE_THRESHOLD`` (all pixels if none
    is). The blend wins unless :func:`prefers_hold`.
    """
    if len(anchors) < 2 or len(anchors) != len(times):
        raise InputError("The safety net needs at least 2 real frames, each with its time.")
    if synthesized.shape != anchors[0].shape or confidence.shape != synthesized.shape[:2]:
        raise InputError("The synthesized frame, its confidence map and the real frames differ in size.")
    trusted = np.asarray(confidence) >= SCORE_THRESHOLD
    mask = trusted if trusted.any() else np.ones_like(trusted)
    reference = synthesized.astype(np.float64)[mask]

    def distance(image: np.ndarray) -> float:
        return float(np.abs(image.astype(np.float64)[mask] - reference).mean())

    early, late, weight = bracketing_pair(times, target_time)
    blend = plain_blend(anchors[early], anchors[late], weight)
    gaps = [abs(t - target_time) for t in times]
    nearest = [i for i, gap in enumerate(gaps) if np.isclose(gap, min(gaps))]
    held = min(nearest, key=lambda i: distance(anchors[i]))
    distances = {"hold": distance(anchors[held]), "blend": distance(blend)}
    if prefers_hold(distances):
        return Fallback("hold", anchors[held].copy(), held, distances)
    return Fallback("blend", blend, held, distances)
