"""Duplicate frames (issue 20, point 3): repeats are made from the true motion, on by default.

A clip on twos (every frame shown twice, H.264 so the repeats are near-exact, not bit-exact) is
interpolated x2; the output frames at the times of the repeats are compared with the real
frames they stand for (the same motion shot at the full rate). With detection they are made
from the motion between distinct frames; with ``keep_duplicates`` they are the held repeat.
The stand-in model is a plain blend of its two anchors.
"""

from functools import partial

import numpy as np
from tempo_colour_clips import Blend, make_tagged_clip, picture, psnr16

from tempo_core.commands.interpolate import result_lines
from tempo_core.video.duplicates import MAX_RUN, find_repeats
from tempo_core.video.engine import ExportSettings, run_export
from tempo_core.video.reader import VideoReader

W, H, COUNT, STEP = 96, 64, 8, 1


def moving(width, height, index, hold=1):
    """Frame ``index`` of the motion, each picture held ``hold`` frames."""
    return picture(width, height, STEP * hold * (index // hold))


def frames(path, indices):
    with VideoReader(path, deep=True) as reader:
        return [reader.read_frame(i).copy() for i in indices]


def test_on_twos_x2_follows_the_true_motion_with_detection(tmp_path):
    truth = make_tagged_clip(tmp_path / "truth.mp4", size=(W, H), count=COUNT, content=moving)
    twos = make_tagged_clip(tmp_path / "twos.mp4", size=(W, H), count=COUNT, content=partial(moving, hold=2))
    repeats = list(range(1, COUNT, 2))
    expected = frames(truth, repeats)
    scores = {}
    for keep in (False, True):
        out = tmp_path / f"x2_keep{keep}.mkv"
        settings = ExportSettings(twos, out, "factor", 2, codec="ffv1", scene_threshold=1, keep_duplicates=keep)
        result = run_export(settings, Blend())
        assert result.duplicates_replaced == (0 if keep else len(repeats))
        got = frames(out, [2 * i for i in repeats])
        scores[keep] = float(np.mean([psnr16(a, b) for a, b in zip(got, expected, strict=True)]))
        if not keep:
            assert f"{len(repeats)} duplicate frames replaced" in "\n".join(result_lines(result))
    # measured: 30.87 dB with detection, 27.33 dB without (a plain blend stands in for the model,
    # so this is the least a model gains; one that follows the motion gains more)
    assert scores[False] > scores[True] + 3.0, scores


def test_repeats_exact_and_near_exact_are_found_and_long_stillness_is_not():
    base = picture(64, 64, 0)[..., :3] // 257
    noisy = np.clip(base.astype(int) + np.random.default_rng(0).integers(-1, 2, base.shape), 0, 255).astype(np.uint8)
    moved = picture(64, 64, 3)[..., :3] // 257
    thumbs = [base, base, noisy, moved, moved] + [moved] * (MAX_RUN + 1) + [base]
    found = find_repeats(enumerate(t.astype(np.uint8) for t in thumbs))
    assert found == [1, 2]  # frames 3-8 repeat frame 3 five times: a real stillness, kept
    assert find_repeats(enumerate([base, moved, base])) == []
