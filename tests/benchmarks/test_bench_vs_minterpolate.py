"""``benchmarks/bench_vs_minterpolate.py`` rebuilds a tiny clip with both methods and scores them."""

from __future__ import annotations

from pathlib import Path

import av.filter
import pytest
from benchmark_scripts import load_script
from tempo_test_clips import make_clip

pytestmark = pytest.mark.skipif(
    "minterpolate" not in av.filter.filters_available, reason="this PyAV's libavfilter has no minterpolate"
)


def test_rebuild_mode_scores_both_methods_on_the_dropped_frames(tmp_path: Path, capsys) -> None:
    bench = load_script("bench_vs_minterpolate")
    clip = make_clip(tmp_path / "clip.mkv", count=12, width=64, height=48, fps=24, pix_fmt="yuv420p")
    runs, scores = bench.main([str(clip), "--preset", "tiny", "--seconds", "0.5", "--threads", "1"])

    printed = capsys.readouterr().out
    assert "PSNR between" in printed and "PSNR kept" in printed
    assert "TEMPO" in printed and "minterpolate" in printed
    assert [run.name.split()[0] for run in runs] == ["TEMPO", "minterpolate"]
    # 0.5 s at 24 fps: 12 frames, cut to 11 so the range ends on a kept frame; 6 kept, 5 dropped
    tempo, minterpolate = scores
    assert sorted(tempo.between) == [1, 3, 5, 7, 9]
    assert set(minterpolate.between) <= {1, 3, 5, 7, 9} and 1 in minterpolate.between
    # output frame k is clip frame k: both write the kept frames losslessly as they are
    assert sorted(tempo.kept) == [0, 2, 4, 6, 8, 10] and min(tempo.kept.values()) == 99.0
    assert len(minterpolate.kept) >= 4 and min(minterpolate.kept.values()) == 99.0
    for method in scores:
        assert all(10.0 < value < 60.0 for value in method.between.values())


def test_plain_mode_times_without_scores(tmp_path: Path, capsys) -> None:
    bench = load_script("bench_vs_minterpolate")
    clip = make_clip(tmp_path / "clip.mkv", count=8, width=64, height=48, fps=24, pix_fmt="yuv420p")
    runs, scores = bench.main([str(clip), "--plain", "--fps", "48", "--preset", "tiny", "--seconds", "0.25"])
    assert scores is None
    assert "PSNR" not in capsys.readouterr().out
    assert runs[0].frames >= 10 and runs[1].frames >= 8
    assert all(run.seconds > 0 for run in runs)
