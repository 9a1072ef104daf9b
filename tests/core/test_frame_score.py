"""The frame-level score of a confidence map and the safety net's fallback choice (tempo_core.video.safety_net)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tempo_core.errors import InputError
from tempo_core.evaluation.evaluate import blend_predictor
from tempo_core.frame_score import SCORE_THRESHOLD, frame_score, share_at_least
from tempo_core.video.safety_net import anchor_blend, bracketing_pair, choose_fallback, prefers_hold, rounded


def test_score_is_the_share_of_trusted_pixels() -> None:
    confidence = np.full((4, 5), SCORE_THRESHOLD - 0.01, dtype=np.float32)
    confidence[:2, :2] = SCORE_THRESHOLD  # 4 of 20 pixels at the threshold count as trusted
    assert frame_score(confidence) == pytest.approx(0.2)
    assert frame_score(np.ones((3, 3))) == 1.0
    assert frame_score(np.zeros((3, 3))) == 0.0


def test_batched_maps_give_one_score_per_frame() -> None:
    batch = torch.zeros(3, 1, 2, 4)
    batch[1, 0, 0] = 1.0  # half the pixels
    batch[2] = 1.0
    scores = frame_score(batch)
    assert isinstance(scores, torch.Tensor) and scores.shape == (3,)
    assert scores.tolist() == [0.0, 0.5, 1.0]
    assert frame_score(batch[1, 0]) == pytest.approx(0.5)  # a torch [H, W] map gives a float


def test_score_falls_as_the_map_loses_confidence() -> None:
    ramp = np.linspace(0.0, 1.0, 101)[None, :].repeat(3, axis=0)
    assert share_at_least(ramp, 0.3) > share_at_least(ramp, 0.6) > share_at_least(ramp, 0.9)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5), (0, 4)])
def test_bad_maps_are_refused_with_a_sentence(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError, match="confidence map"):
        frame_score(torch.zeros(shape))


def test_the_safety_nets_blend_is_the_eval_blend() -> None:
    rng = np.random.default_rng(0)
    early, late = (rng.integers(0, 256, (6, 7, 3), dtype=np.uint8) for _ in range(2))
    expected = (0.75 * early.astype(np.float64) + 0.25 * late.astype(np.float64)).round()
    assert np.array_equal(blend_predictor([early, late], [0.0, 1.0], 0.25), expected.astype(np.uint8))
    assert np.array_equal(rounded(anchor_blend([late, early], [1.0, 0.0], 0.25)), expected.astype(np.uint8))


def test_bracketing_pair_finds_the_anchors_around_the_target() -> None:
    assert bracketing_pair([0.0, 1.0], 0.5) == (0, 1, 0.5)
    assert bracketing_pair([2.0, -1.0, 1.0, 0.0], 0.5) == (3, 2, 0.5)  # N=4 in any order
    assert bracketing_pair([0.0, 1.0], 1.5) == (0, 1, 1.0)  # beyond the anchors: the later one held


def _flat(value: int) -> np.ndarray:
    return np.full((8, 8, 3), value, dtype=np.uint8)


def test_a_synthesis_like_one_side_of_a_cut_holds_that_side() -> None:
    before, after = _flat(10), _flat(200)
    synthesized = _flat(190)
    fallback = choose_fallback([before, after], [0.0, 1.0], 0.5, synthesized, np.ones((8, 8)))
    assert fallback.kind == "hold" and fallback.held == 1
    assert np.array_equal(fallback.image, after)
    assert fallback.distances["hold"] < fallback.distances["blend"]


def test_a_synthesis_between_the_anchors_blends() -> None:
    before, after = _flat(10), _flat(200)
    fallback = choose_fallback([before, after], [0.0, 1.0], 0.5, _flat(100), np.ones((8, 8)))
    assert fallback.kind == "blend"
    assert np.array_equal(fallback.image, _flat(105))


def test_only_the_confident_pixels_decide() -> None:
    before, after = _flat(10), _flat(200)
    synthesized, confidence = _flat(105), np.zeros((8, 8))
    synthesized[:2] = 12  # the trusted rows look like the earlier frame, the rest like the blend
    confidence[:2] = 1.0
    fallback = choose_fallback([before, after], [0.0, 1.0], 0.25, synthesized, confidence)
    assert fallback.kind == "hold" and fallback.held == 0
    doubtful = choose_fallback([before, after], [0.0, 1.0], 0.25, synthesized, np.zeros((8, 8)))
    assert doubtful.kind == "blend"  # no trusted pixel: all count, and most are the blend's


def test_fallback_refuses_mismatched_inputs() -> None:
    with pytest.raises(InputError):
        choose_fallback([_flat(0)], [0.0], 0.5, _flat(0), np.ones((8, 8)))
    with pytest.raises(InputError):
        choose_fallback([_flat(0), _flat(9)], [0.0, 1.0], 0.5, _flat(0), np.ones((4, 8)))


def test_hold_must_win_by_the_margin() -> None:
    assert prefers_hold({"hold": 1.0, "blend": 10.0}, margin=0.5)
    assert not prefers_hold({"hold": 6.0, "blend": 10.0}, margin=0.5)  # closer, but not by the margin
    assert prefers_hold({"hold": 6.0, "blend": 10.0}, margin=1.0)
    assert not prefers_hold({"hold": 0.0, "blend": 10.0}, margin=0.0)  # margin 0: never hold


def test_the_shipped_model_scores_an_easy_pair_above_a_hard_one() -> None:
    # issue 21: the same texture moving 6 pixels between the anchors (easy), and the same with the
    # right half of the second anchor replaced by another texture (a change no motion explains)
    from tempo_test_clips import as_uint8_images, moving_texture

    from tempo_core.inference import Interpolator

    easy = as_uint8_images(moving_texture(2, 96, 128, shift=6, seed=5))
    hard = [easy[0], easy[1].copy()]
    hard[1][:, 64:] = as_uint8_images(moving_texture(1, 96, 64, shift=0, seed=6))[0]
    interpolator = Interpolator.from_checkpoint(None, device="cpu")
    scores = [frame_score(interpolator.interpolate(pair, [0.0, 1.0], 0.5).confidence) for pair in (easy, hard)]
    assert scores[0] > scores[1] + 0.2
