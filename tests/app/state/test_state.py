"""State classes and helpers, without widgets."""

from __future__ import annotations

import numpy as np
import pytest

from tempo_app.colormap import COLORMAPS, apply_colormap
from tempo_app.errors import OOM_ADVICE, user_message
from tempo_app.state.cache import LRUCache
from tempo_app.state.session import SessionState, choose_anchors, nearest_indices
from tempo_app.state.view_state import ViewState
from tempo_app.workers.thumbnails import thumbnail_indices
from tempo_core.errors import MediaError

TIMES = np.arange(10, dtype=np.float64) * 0.1


def test_nearest_indices_brackets_the_time():
    assert nearest_indices(TIMES, 0.25, 2) == [2, 3]
    assert nearest_indices(TIMES, 0.26, 4) == [1, 2, 3, 4]
    assert nearest_indices(TIMES, 0.0, 4) == [0, 1, 2, 3]
    assert nearest_indices(TIMES, 5.0, 2) == [8, 9]
    assert nearest_indices(TIMES, 0.3, 1) == [3]


def test_choose_anchors_pins_override_automatic():
    assert choose_anchors(TIMES, 0.25, 2, []) == (2, 3)
    assert choose_anchors(TIMES, 0.25, 2, [7]) == (2, 7)
    assert choose_anchors(TIMES, 0.25, 4, [0, 9]) == (0, 9)


def test_session_steps_and_positions(qapp):
    session = SessionState()
    session.set_clip("clip.mp4", None, TIMES)
    assert session.real_frame_at() == 0
    session.step_fraction(0.25)
    assert session.playhead == pytest.approx(0.025)
    assert session.real_frame_at() is None
    assert session.frame_position() == pytest.approx(0.25)
    session.step_frame(+1)
    assert session.playhead == pytest.approx(0.1)
    session.step_fraction(-0.5)
    assert session.frame_position() == pytest.approx(0.5)
    session.step_frame(-1)
    assert session.playhead == pytest.approx(0.0)
    session.set_playhead(99.0)
    assert session.playhead == pytest.approx(0.9)
    session.set_in_point(0.5)
    session.set_out_point(0.2)  # before the in point: the in point is dropped
    assert session.export_range == (None, 0.2)


def test_lru_cache_respects_byte_budget():
    cache = LRUCache(max_bytes=300)
    for key in range(5):
        cache.put(key, np.zeros(100, np.uint8))
    assert len(cache) == 3 and 0 not in cache and 4 in cache
    cache.get(2)
    cache.put(5, np.zeros(100, np.uint8))
    assert 2 in cache and 3 not in cache


def test_colormaps_and_view_state(qapp):
    confidence = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    for name in COLORMAPS:
        rgb = apply_colormap(confidence, name)
        assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    view = ViewState()
    view.set_overlay_opacity(3.0)
    assert view.overlay_opacity == 1.0
    with pytest.raises(ValueError):
        view.set_compare_mode("sideways")


def test_user_messages_are_one_sentence():
    assert user_message(MediaError("The file x.mp4 is empty.")) == "The file x.mp4 is empty."
    assert user_message(RuntimeError("CUDA out of memory. Tried to allocate")) == OOM_ADVICE
    message = user_message(ValueError("bad\nthing"), "Opening x")
    assert message == "Opening x failed unexpectedly (ValueError: bad)."
    assert thumbnail_indices(100, 5) == [0, 25, 50, 74, 99]
    assert thumbnail_indices(3, 5) == [0, 1, 2]
