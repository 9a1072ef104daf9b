"""Export reports with wrong-typed fields are refused whole, with a sentence (issue 28, item 8)."""

from __future__ import annotations

import json

import pytest

from tempo_core.errors import InputError
from tempo_core.video.report_records import ExportReport, FrameEntry, load_report


def _report_dict() -> dict:
    frames = [
        FrameEntry(0, 0.0, 0.0, "real", source=0),
        FrameEntry(1, 0.5, 0.5, "synthesized", anchors=(0, 1), anchor_times=(0.0, 1.0), score=0.8),
    ]
    return ExportReport("/clips/a.mp4", "/clips/a_x2.mp4", 48.0, None, frames).to_dict()


@pytest.mark.parametrize(
    ("where", "field", "value", "words"),
    [
        (1, "score", "abc", 'frame 1\'s score is "abc", not a number'),
        (1, "time", "x", 'frame 1\'s time is "x", not a number'),
        (0, "index", 1.5, "frame 0's index is 1.5, not int"),
        (0, "index", True, "frame 0's index is true, not int"),
        (1, "anchors", "01", "frame 1's anchors is not a list of whole numbers"),
        (1, "anchor_times", [0, "1"], "frame 1's anchor_times is not a list of numbers"),
        (1, "fallback", 3, "frame 1's fallback is 3, not str"),
        (None, "rate", "fast", 'rate is "fast", not a number'),
        (None, "frames", {"0": 1}, 'frames is {"0": 1}, not list'),
        (None, "source", None, "source is null, not str"),
    ],
)
def test_wrong_typed_fields_are_one_sentence(tmp_path, where, field, value, words):
    data = _report_dict()
    (data if where is None else data["frames"][where])[field] = value
    path = tmp_path / "a_x2.mp4.report.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        load_report(path)
    assert str(err.value) == f"This TEMPO export report is damaged or from another version ({words})."


def test_a_well_typed_report_still_loads(tmp_path):
    path = tmp_path / "a_x2.mp4.report.json"
    path.write_text(json.dumps(_report_dict()))
    report = load_report(path)
    assert [f.score for f in report.frames] == [None, 0.8] and report.frames[1].anchors == (0, 1)


def test_a_pipe_named_like_a_report_is_refused_without_opening_it(tmp_path):
    from fifo_guard import guarded_fifo

    with guarded_fifo(tmp_path / "fifo.json") as fifo, pytest.raises(InputError, match=r"is a named pipe \(FIFO\)"):
        load_report(fifo)
