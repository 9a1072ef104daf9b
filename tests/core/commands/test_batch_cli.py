"""Batches in ``tempo interpolate`` (issue 20, point 4): several inputs or a folder, ``-o OUTDIR/``,
keep going after a file that fails, one summary line per file, non-zero exit if any failed."""

from types import SimpleNamespace

import numpy as np
import pytest
from tempo_test_clips import make_clip

from tempo_core.commands import interpolate
from tempo_core.commands.batch import output_name
from tempo_core.commands.cli import main
from tempo_core.video.reader import probe


class Blend:
    """A stand-in model (the batch logic is under test, not the network)."""

    tile = None
    device_name = "CPU (a test double)"

    def encode(self, frames, timestamps, tile=None):
        return [frame.astype(np.float32) / 65535.0 for frame in frames]

    def synthesize(self, encoded, target_times, should_cancel=None):
        rgb = (encoded[0] + encoded[1]) / 2
        ones = np.ones(rgb.shape[:2], np.float32)
        image = (rgb * 255).astype(np.uint8)
        return [SimpleNamespace(rgb=rgb, image=image, confidence=ones, time=t) for t in target_times]


@pytest.fixture(autouse=True)
def blend_model(monkeypatch):
    monkeypatch.setattr(interpolate, "load_interpolator", lambda args: Blend())


def run(capsys, *argv):
    code = main(["interpolate", *map(str, argv), "--quiet", "--report", "none"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_several_inputs_keep_going_after_a_failure(tmp_path, capsys):
    good_a = make_clip(tmp_path / "a.mkv", count=3, width=32, height=24)
    broken = tmp_path / "b.mov"
    broken.write_bytes(b"not a video at all" * 50)
    good_c = make_clip(tmp_path / "c.mp4", count=3, width=32, height=24, codec="libx264")
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, good_a, broken, good_c, "-o", f"{out}/", "--factor", "2")
    assert code == 1
    assert probe(out / "a_x2.mp4").frame_count == 6 and probe(out / "c_x2.mp4").frame_count == 6
    assert not (out / "b_x2.mp4").exists()
    lines = stdout.strip().splitlines()[-3:]
    assert lines[0].startswith("ok") and "a.mkv -> " in lines[0] and "6 frames" in lines[0]
    assert lines[1].startswith("FAILED") and "b.mov:" in lines[1] and "Traceback" not in stdout + stderr
    assert lines[2].startswith("ok") and "c.mp4" in lines[2]


def test_a_folder_of_clips_all_succeed(tmp_path, capsys):
    folder = tmp_path / "shots"
    folder.mkdir()
    for name in ("one.mkv", "two.mkv"):
        make_clip(folder / name, count=2, width=32, height=24)
    (folder / "notes.txt").write_text("not a clip")
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, folder, "-o", out, "--fps", "48", "--codec", "ffv1")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["one_48fps.mkv", "two_48fps.mkv"]
    assert [line.split()[0] for line in stdout.strip().splitlines()[-2:]] == ["ok", "ok"]


def test_an_empty_folder_is_one_sentence(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, stderr = run(capsys, tmp_path / "empty", "-o", tmp_path / "out", "--factor", "2")
    assert code == 1 and "holds no video files" in stderr and "Traceback" not in stderr


def test_output_names():
    from pathlib import Path

    assert output_name(Path("x/clip.mov"), "slowmo", 4, "prores") == "clip_slowmo4.mov"
    assert output_name(Path("clip.mp4"), "fps", 59.94, "hevc") == "clip_59.94fps.mp4"
    assert output_name(Path("clip.mp4"), "factor", 2, "png") == "clip_x2_frames"


def test_a_batch_into_a_file_is_one_sentence(tmp_path, capsys):
    clips = [make_clip(tmp_path / name, count=2, width=32, height=24) for name in ("a.mkv", "b.mkv")]
    target = tmp_path / "taken.mp4"
    target.write_bytes(b"x")
    code, _, stderr = run(capsys, *clips, "-o", target, "--factor", "2")
    assert code == 1 and "is a file; a batch writes into a folder." in stderr and target.read_bytes() == b"x"


def test_overwrite_never_replaces_another_input_of_the_batch(tmp_path, capsys, monkeypatch):
    # issue 28, item 2: the exact commands that destroyed an input, then processed the replacement
    shots, out = tmp_path / "shots", tmp_path / "out"
    shots.mkdir()
    out.mkdir()
    take = make_clip(shots / "take.mp4", count=3, width=32, height=24, codec="libx264")
    earlier = make_clip(out / "take_x2.mp4", count=4, width=32, height=24, codec="libx264")
    kept = earlier.read_bytes()
    code, stdout, stderr = run(capsys, take, earlier, "-o", f"{out}/", "--factor", "2", "--overwrite")
    assert code == 1 and earlier.read_bytes() == kept
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("FAILED") and "take.mp4: The output" in lines[0] and "another input" in lines[0]
    assert lines[1].startswith("ok") and probe(out / "take_x2_x2.mp4").frame_count == 8  # from the original
    assert "Traceback" not in stderr
    here = tmp_path / "here"
    here.mkdir()
    make_clip(here / "a.mp4", count=3, width=32, height=24, codec="libx264")
    make_clip(here / "a_x2.mp4", count=5, width=32, height=24, codec="libx264")
    before = (here / "a_x2.mp4").read_bytes()
    monkeypatch.chdir(here)
    code, stdout, _ = run(capsys, ".", "-o", ".", "--factor", "2", "--overwrite")
    assert code == 1 and (here / "a_x2.mp4").read_bytes() == before
    assert [line.split()[0] for line in stdout.strip().splitlines()] == ["FAILED", "ok"]
    assert probe(here / "a_x2_x2.mp4").frame_count == 10
