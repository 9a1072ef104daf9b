"""Each script people rerun from ``benchmarks/`` runs on a tiny input and reports its figures.

Nothing here checks a figure's value (speed belongs to the benchmarks themselves); each test checks
that the script runs through the package's public API and that what it reports is well formed.
``bench_vs_minterpolate.py`` has its own tests beside these; ``vs_rife.py`` and ``gpu_check`` theirs
in tests/core.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import ROOT, load_script
from tempo_test_clips import make_clip


def test_op_count_counts_fewer_operations_on_the_gpu_paths() -> None:
    op_count = load_script("op_count")
    # 192 x 192: the full-size maps (36,864 pixels) take the slice additions on a CPU's paths
    gpu = op_count.main(["--size", "192x192", "--top", "1"])
    cpu = op_count.main(["--size", "192x192", "--top", "1", "--cpu_paths"])
    assert gpu[0] > 50 and gpu[1] > 500
    assert gpu[1] < cpu[1]  # one convolution where a CPU adds slices


def test_output_identity_saves_compares_and_fails_on_a_changed_output(tmp_path: Path, capsys) -> None:
    output_identity = load_script("output_identity")
    for name in ("a.mkv", "b.mkv"):
        make_clip(tmp_path / name, count=13, width=64, height=48)
    reference = tmp_path / "reference.npz"
    common = ["--out", str(reference), "--videos", str(tmp_path), "--clips", "a.mkv", "b.mkv", "--size", "64x32"]
    assert output_identity.main([*common, "--save"]) == 0
    saved = dict(np.load(reference))
    assert len(saved) == 2 * 3 * 2  # clips x cases x (rgb, confidence)
    assert saved["a.mkv_n2_rgb"].shape == (32, 64, 3)
    assert output_identity.main(common) == 0
    assert "largest difference 0 " in capsys.readouterr().out
    saved["b.mkv_n4_quarter_rgb"] = saved["b.mkv_n4_quarter_rgb"] + 1e-3
    np.savez(reference, **saved)
    assert output_identity.main(common) == 1


def test_slowmo_ratio_reports_a_ratio_per_size(capsys) -> None:
    ratios = load_script("slowmo_ratio").main(["--sizes", "64x48,96x64", "--rounds", "1"])
    assert list(ratios) == ["64x48", "96x64"] and all(ratio > 0 for ratio in ratios.values())
    assert capsys.readouterr().out.count(" | ") >= 3 * 4


def test_cpu_primitives_times_each_primitive_against_its_replacement() -> None:
    ratios = load_script("cpu_primitives").main(["--size", "128x64", "--repeats", "1", "--threads", "1"])
    assert len(ratios) == 4 + 1 + 3 + 3  # box means, the Jacobi mean, correlation at 3 scales, training
    assert all(ratio > 0 for ratio in ratios.values())


@pytest.mark.slow
def test_cpu_ab_compares_this_checkout_with_itself(capsys) -> None:
    ratios = load_script("cpu_ab").main(["--before", str(ROOT), "--pairs", "2", "--size", "64x48"])
    assert len(ratios) == 2 and all(ratio > 0 for ratio in ratios)
    assert "ratio after / before: median" in capsys.readouterr().out


def test_cancel_latency_runs_its_trials(tmp_path: Path, capsys) -> None:
    clip = make_clip(tmp_path / "clip.mkv", count=3, width=64, height=48)
    latencies = load_script("cancel_latency").main([str(clip), "--frame", "0", "--trials", "2"])
    printed = capsys.readouterr().out
    assert "64x48 on " in printed and "one synthesis" in printed
    assert printed.count("Cancel ") == 2  # each trial: stopped, or finished before the Cancel
    assert len(latencies) == printed.count("stopped ")


def test_crf_at_rate_scores_every_rate_and_variant(jpeg_frames: Path) -> None:
    crf_at_rate = load_script("crf_at_rate")
    argv = ["--frames", "3", "--frames_dir", str(jpeg_frames), "--width", "64", "--source-rates", "24"]
    scores = crf_at_rate.main([*argv, "--encoders", "libx264"])
    rates = [f"libx264 {rate}" for rate in (48, 96, 192)]
    assert set(scores) == {"libx264 24 source"} | {f"{r} {v}" for r in rates for v in ("crf", "comp", "told")}
    assert all(20 < db < 99 for db in scores.values())


def test_colour_export_compares_tempo_with_plain_re_encodes(jpeg_frames: Path) -> None:
    colour_export = load_script("colour_export")
    argv = ["--frames", "2", "--frames_dir", str(jpeg_frames), "--size", "64x48", "--codecs", "h264", "ffv1"]
    rows = colour_export.main(argv)
    assert list(rows) == ["h264", "ffv1"]
    assert rows["ffv1"]["plain"] == 99.0  # FFV1 is lossless: the plain re-encode is the source
    for row in rows.values():
        assert 25 < row["tempo"] <= 99 and 25 < row["plain_twice"] <= 99
        assert abs(row["red_shift"]) < 8


def test_full_res_detail_reports_the_three_rows(septuplets: Path, capsys) -> None:
    means = load_script("full_res_detail").main(["--data", str(septuplets)])
    assert list(means) == ["tempo", "tempo_quarter", "target_quarter"]
    assert means["target_quarter"] < 99  # the 1/4 round trip loses the square's edges
    assert "1 targets from" in capsys.readouterr().out
