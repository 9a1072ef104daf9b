"""One number per synthesized frame from its confidence map.

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

The safety net that acts on the score is :mod:`tempo_core.video.safety_net`.
"""

from __future__ import annotations

import numpy as np
import torch

from tempo_core.errors import InputError

SCORE_THRESHOLD = 0.2  # chosen on training windows (docs/decisions/023-confidence-disagreement-frame-score.md)
# A frame scoring below this is doubtful (the app's confidence track, D / Shift+D): on the training
# windows (benchmarks/studies/confidence_ranking.py, N=2) the score bands below 0.9 have median PSNRs of
# 15.4-16.0 dB, those above 19.9-33.2 dB (docs/decisions/023-confidence-disagreement-frame-score.md).
DOUBTFUL_SCORE = 0.9


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
