"""``tempo bench`` runs one tiny configuration and reports what it promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tempo_core.commands.cli import main
from tempo_core.errors import InputError
from tempo_core.evaluation.bench import parse_size, smooth_frames


def test_tiny_bench_runs_and_writes_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    argv = ["bench", "--preset", "tiny", "--device", "cpu", "--sizes", "64x64", "--n", "2"]
    code = main([*argv, "--repeats", "1", "--warmup", "0", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "parameters: " in printed and "speed-up" in printed
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["repeats"] == 1
    assert report["parameters"] > 0
    (row,) = report["results"]
    assert (row["width"], row["height"], row["n"]) == (64, 64, 2)
    assert row["ms_per_frame"] > 0 and len(row["ms_runs"]) == 1 and row["first_frame_ms"] > 0
    assert report["engine"] == "eager"  # the CPU default; --engine compiled compiles per size
    slowmo = row["slowmo_x8"]
    assert slowmo["encode_once_ms_per_frame"] > 0 and slowmo["separate_ms_per_frame"] > 0
    assert slowmo["speedup"] == pytest.approx(slowmo["separate_ms_per_frame"] / slowmo["encode_once_ms_per_frame"])
    if report["memory_kind"] == "rss":
        assert row["peak_memory_mb"] >= 0


def test_sizes_and_frames() -> None:
    assert parse_size("720p") == ("720p", 1280, 720)
    assert parse_size("64x48") == ("64x48", 64, 48)
    with pytest.raises(InputError):
        parse_size("huge")
    frames = smooth_frames(2, 40, 24)
    assert len(frames) == 2 and frames[0].shape == (24, 40, 3) and frames[0].dtype.name == "uint8"


def test_bad_arguments_are_plain_errors(capsys) -> None:
    assert main(["bench", "--preset", "tiny", "--n", "1", "--sizes", "64x64"]) == 1
    assert "at least 2 anchor frames" in capsys.readouterr().err


def test_a_size_too_large_is_a_sentence_before_any_allocation(tmp_path: Path, capsys) -> None:
    # issue 28, item 9: --sizes 100000x100000 was a traceback (an allocation of 30 GB and more)
    out = tmp_path / "bench.json"
    code = main(["bench", "--preset", "tiny", "--device", "cpu", "--sizes", "100000x100000", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "100000 x 100000 pixels; TEMPO reads frames up to 16384 pixels on a side" in err
    assert "Traceback" not in err and not out.exists()
    out.write_text("an earlier result")  # issue 28, item 10: --json replaces only with --overwrite
    code = main(["bench", "--preset", "tiny", "--device", "cpu", "--sizes", "16x16", "--json", str(out)])
    assert code == 1 and "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "an earlier result"
