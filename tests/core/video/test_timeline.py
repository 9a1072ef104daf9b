"""Output timeline planning: counts, times, pass-through, anchors and scene cuts."""

from fractions import Fraction

import numpy as np
import pytest

from tempo_core.errors import InputError
from tempo_core.video.scenecut import cut_scores, detect_cuts, thumbnail
from tempo_core.video.timeline import choose_anchors, output_rate, plan_output, snap_tolerance

TIMES = np.arange(12) / 24


def test_factor_doubles_rate_keeps_duration():
    plan = plan_output(TIMES, "factor", 2, source_rate=Fraction(24))
    assert plan.rate == 48 and len(plan.frames) == 24 and not plan.duration_changed
    assert [f.source for f in plan.frames[0:4]] == [0, None, 1, None]
    assert plan.frames[1].anchors == (0, 1) and plan.frames[1].time == pytest.approx(1 / 48)
    assert plan.frames[-1].source == 11  # past the last frame: held, not extrapolated


def test_fps_24_to_60_non_integer_ratio():
    plan = plan_output(TIMES, "fps", 60, source_rate=Fraction(24))
    assert plan.rate == 60 and len(plan.frames) == 30
    sources = {f.index: f.source for f in plan.frames if f.source is not None}
    assert {k: v for k, v in sources.items() if k < 28} == {0: 0, 5: 2, 10: 4, 15: 6, 20: 8, 25: 10}
    np.testing.assert_allclose([f.time for f in plan.frames], np.arange(30) / 60)
    assert plan.frames[3].anchors == (1, 2)


def test_slowmo_stretches_duration_at_source_rate():
    plan = plan_output(TIMES, "slowmo", 4, source_rate=Fraction(24))
    assert plan.rate == 24 and len(plan.frames) == 48 and plan.duration_changed
    assert [f.source for f in plan.frames[::4]] == list(range(12))
    assert plan.synthesized == 33


def test_range_and_explicit_times():
    plan = plan_output(TIMES, "factor", 2, source_rate=Fraction(24), start=0.125, end=0.25)
    assert len(plan.frames) == 6 and plan.frames[0].source == 3
    plan = plan_output(TIMES, "times", 10, source_rate=Fraction(24), times=[0.02, 1 / 24])
    assert plan.rate == 10 and plan.frames[1].source == 1 and plan.frames[0].anchors == (0, 1)
    with pytest.raises(InputError, match="empty"):
        plan_output(TIMES, "factor", 2, source_rate=Fraction(24), start=0.4, end=0.3)


def test_variable_frame_rate_maps_to_real_times():
    times = np.array([0, 0.04, 0.08, 0.2, 0.24, 0.25, 0.4])
    plan = plan_output(times, "fps", 20, source_rate=Fraction(15), last_duration=0.04)
    by_time = {round(f.time, 6): f for f in plan.frames}
    assert by_time[0.1].anchors == (2, 3)  # between the real frames at 0.08 and 0.2
    assert by_time[0.2].source == 3 and by_time[0.4].source == 6
    four = choose_anchors(times, 0.1, 4)
    assert four == (0, 1, 2, 3)  # nearest by time, not by index


def test_no_synthesis_across_a_scene_cut():
    plan = plan_output(TIMES, "factor", 4, source_rate=Fraction(24), cuts=[6], anchors=4)
    for frame in plan.frames:
        if frame.anchors:
            scenes = {a >= 6 for a in frame.anchors}
            assert len(scenes) == 1
    held = [f for f in plan.frames if f.held]
    assert len(held) == 3 and {f.source for f in held} == {5, 6}
    assert plan.held_at_cuts == 3


def test_tolerance_snaps_millisecond_timestamps():
    times = np.round(np.arange(12) / 24, 3)  # what a 1/1000 time base stores
    tol = snap_tolerance(0.001, times, Fraction(48))
    plan = plan_output(times, "factor", 2, source_rate=Fraction(24), tolerance=tol)
    assert [f.source for f in plan.frames[::2]] == list(range(12))


def test_bad_modes_and_values():
    with pytest.raises(InputError):
        output_rate("warp", 2, Fraction(24))
    with pytest.raises(InputError):
        output_rate("fps", -1, Fraction(24))
    with pytest.raises(InputError):
        plan_output(TIMES, "factor", 2, source_rate=Fraction(24), anchors=3)
    assert output_rate("factor", 2.5, Fraction(24000, 1001)) == Fraction(60000, 1001)


def test_one_frame_clip_holds_it():
    plan = plan_output(np.array([0.0]), "factor", 3, source_rate=Fraction(25))
    assert [f.source for f in plan.frames] == [0, 0, 0]


def test_scene_cut_detector_finds_a_cut_not_motion():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (36, 48, 3), dtype=np.uint8)
    other = rng.integers(0, 80, (36, 48, 3), dtype=np.uint8)
    frames = [np.roll(base, 2 * i, axis=1) for i in range(6)]
    frames += [np.roll(other, 2 * i, axis=1) for i in range(6)]
    scores = cut_scores(thumbnail(f) for f in frames)
    assert detect_cuts(scores) == [6]
    assert detect_cuts(cut_scores(thumbnail(f) for f in frames[:6])) == []


def test_plan_frame_is_the_rule_of_every_planned_frame():
    from tempo_core.video.timeline import plan_frame, segment_bounds

    segment = segment_bounds(len(TIMES), [6])
    plan = plan_output(TIMES, "factor", 4, source_rate=Fraction(24), cuts=[6], anchors=4)
    for frame in plan.frames:
        alone = plan_frame(frame.time, TIMES, segment, 4, 1e-4, frame.index)
        assert alone == frame
    held = plan_frame(float(TIMES[5] + 0.6 / 24), TIMES, segment, 2, 1e-4)
    assert held.held and held.source == 6 and held.anchors == ()


def test_cuts_of_small_frames_matches_the_detector():
    from tempo_core.video.scenecut import cuts_of

    rng = np.random.default_rng(1)
    first, second = rng.integers(0, 120, (32, 32, 3)), rng.integers(130, 255, (32, 32, 3))
    frames = [np.roll(first, i, axis=1).astype(np.uint8) for i in range(8)]
    frames += [np.roll(second, i, axis=0).astype(np.uint8) for i in range(8)]
    assert cuts_of(frames) == [8]
    assert cuts_of(frames, start=100) == [108]
    assert cuts_of(frames, threshold=1.0) == []
