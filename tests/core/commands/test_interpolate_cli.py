"""``tempo interpolate``: success, plain one-line failures, refusal to overwrite, Ctrl-C."""

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hostile_files import mkv_claiming_size
from tempo_test_clips import make_clip

from tempo_core.checkpoint import save_weights
from tempo_core.commands.cli import main
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny
from tempo_core.video.reader import probe

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_weights(build_tempo(tempo_tiny()), path)
    return path


def run_cli(capsys, *argv):
    code = main(["interpolate", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_factor_success_with_progress_line(tmp_path, checkpoint, capsys):
    source = make_clip(tmp_path / "in.mkv", count=3, width=32, height=24)
    out = tmp_path / "out.mkv"
    code, stdout, stderr = run_cli(
        capsys,
        source,
        "-o",
        out,
        "--factor",
        "2",
        "--codec",
        "ffv1",
        "--checkpoint",
        checkpoint,
        "--device",
        "cpu",
    )
    assert code == 0, stderr
    assert probe(out).frame_count == 6
    assert "wrote" in stdout and "2 synthesized" in stdout
    assert "frames" in stderr and "fps" in stderr and "ETA" in stderr


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 30])
def test_bad_input_is_one_plain_line(tmp_path, checkpoint, capsys, content):
    source = tmp_path / "broken.mp4"
    source.write_bytes(content)
    code, _, stderr = run_cli(
        capsys,
        source,
        "-o",
        tmp_path / "o.mp4",
        "--fps",
        "60",
        "--checkpoint",
        checkpoint,
        "--device",
        "cpu",
        "--quiet",
    )
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tempo interpolate: ") and "Traceback" not in stderr
    assert not (tmp_path / "o.mp4").exists()


def test_existing_output_is_not_overwritten(tmp_path, checkpoint, capsys):
    source = make_clip(tmp_path / "in.mkv", count=2, width=32, height=24)
    out = tmp_path / "taken.mp4"
    out.write_bytes(b"mine")
    code, _, stderr = run_cli(capsys, source, "-o", out, "--slowmo", "2", "--checkpoint", checkpoint)
    assert code == 1 and "--overwrite" in stderr and out.read_bytes() == b"mine"
    code, _, stderr = run_cli(
        capsys,
        source,
        "-o",
        out,
        "--slowmo",
        "2",
        "--checkpoint",
        checkpoint,
        "--device",
        "cpu",
        "--overwrite",
        "--quiet",
    )
    assert code == 0, stderr
    assert probe(out).frame_count == 4


def test_missing_checkpoint_is_a_plain_error(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mkv", count=2, width=32, height=24)
    code, _, stderr = run_cli(
        capsys,
        source,
        "-o",
        tmp_path / "o.mp4",
        "--factor",
        "2",
        "--checkpoint",
        tmp_path / "none.safetensors",
    )
    assert code == 1 and len(stderr.strip().splitlines()) == 1


def test_mode_is_required(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["interpolate", str(tmp_path / "a.mp4"), "-o", str(tmp_path / "b.mp4")])
    assert exit_info.value.code == 2


def start_slow_export(tmp_path, checkpoint, out):
    """A ``tempo interpolate`` subprocess, returned once its progress line shows (or after 120 s)."""
    source = make_clip(tmp_path / "in.mkv", count=12, width=32, height=24)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "tempo_core", "interpolate", str(source), "-o", str(out)]
    command += ["--slowmo", "16", "--checkpoint", str(checkpoint), "--device", "cpu"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    seen = b""
    deadline = time.monotonic() + 120
    while b"frames" not in seen and time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            seen += os.read(process.stderr.fileno(), 256)
    return process, seen


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("signum", "code", "words"),
    [(signal.SIGINT, 130, "cancelled"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)
def test_ctrl_c_cancels_cleanly(tmp_path, checkpoint, signum, code, words):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    process, seen = start_slow_export(tmp_path, checkpoint, out_dir / "slow.mp4")
    process.send_signal(signum)
    _, rest = process.communicate(timeout=60)
    stderr = (seen + rest).decode()
    assert process.returncode == code, stderr
    assert words in stderr and "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_leftovers_of_a_killed_run_are_removed_by_the_next_run(tmp_path, checkpoint, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    foreign = out_dir / ".notes.partial.txt"  # not a TEMPO name: never touched
    foreign.write_text("mine")
    process, _ = start_slow_export(tmp_path, checkpoint, out_dir / "slow.mp4")
    process.kill()
    process.communicate(timeout=60)
    partial = [p for p in out_dir.iterdir() if p != foreign]
    assert len(partial) == 1 and f".tempo-{process.pid}-" in partial[0].name
    fresh = out_dir / f".other.tempo-{os.getpid() + 10**7}-0123abcd.partial.mkv"
    fresh.write_bytes(b"a run that may still be writing")  # younger than a minute: kept
    an_hour_ago = time.time() - 3600
    os.utime(partial[0], (an_hour_ago, an_hour_ago))
    code, _, err = run_cli(
        capsys,
        tmp_path / "in.mkv",
        "-o",
        out_dir / "x2.mkv",
        "--factor",
        "2",
        "--codec",
        "ffv1",
        "--checkpoint",
        checkpoint,
        "--quiet",
    )
    assert code == 0, err
    report = ["x2.mkv.report.json", "x2.mkv.report.png"]  # the export report (issue 21)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([foreign.name, fresh.name, "x2.mkv", *report])


def test_hostile_16000x16000_header_is_one_line_in_bounded_memory(tmp_path, checkpoint, codec="ffv1"):
    """Issue 22: the 50 KB file whose header claims 16000 x 16000 grew past 14 GB (4.2 GB and
    "function not implemented" with FFV1); now refused."""
    source = mkv_claiming_size(tmp_path / "huge.mkv", 16000, 16000)
    out = tmp_path / ("o.mkv" if codec == "ffv1" else "o.mp4")
    command = [sys.executable, "-m", "tempo_core", "interpolate", str(source), "-o", str(out), "--factor", "2"]
    command += ["--codec", codec, "--checkpoint", str(checkpoint), "--device", "cpu", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "16000 x 16000 pixels" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.mkv"]
    if sys.platform.startswith("linux"):  # the largest child so far, in KiB
        import resource

        assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2 * 2**20


def test_png_output_into_the_sources_folder_is_refused(tmp_path, checkpoint, capsys, monkeypatch):
    """Issue 22: ``-o victim --codec png --overwrite`` once emptied the source's folder."""
    victim = tmp_path / "victim"
    victim.mkdir()
    source = make_clip(victim / "clip.mkv", count=2, width=32, height=24)
    (victim / "other.txt").write_text("keep me")
    before = {p.name: p.read_bytes() for p in victim.iterdir()}
    flags = ["--factor", "2", "--codec", "png", "--overwrite", "--checkpoint", checkpoint]
    code, _, err = run_cli(capsys, source, "-o", victim, *flags)
    assert code == 1 and "holds the source video" in err and err.count("\n") == 1
    monkeypatch.chdir(victim)
    code, _, err = run_cli(capsys, "clip.mkv", "-o", ".", *flags)
    assert code == 1 and f"The output {victim} is the folder that holds the source video" in err
    assert {p.name: p.read_bytes() for p in victim.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim"]


def test_still_image_input_is_refused(tmp_path, checkpoint, capsys):
    from PIL import Image

    Image.new("RGB", (32, 24), (10, 20, 30)).save(tmp_path / "still.png")
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(
        capsys, tmp_path / "still.png", "-o", out, "--factor", "2", "--checkpoint", checkpoint, "--quiet"
    )
    assert code == 1 and "still.png is a still image, not a video" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--fps", "1e-5"], "--fps 1e-05 gives 1e-05 frames per second; TEMPO writes at least 0.01."),
        (["--factor", "1e-7"], "--factor 1e-07 gives"),
        (["--factor", "2", "--device", "tpu"], "Unknown device 'tpu'; use cpu, cuda, cuda:N"),
        (["--factor", "2", "--device", "meta"], "Unknown device 'meta'"),
        (["--factor", "2", "--device", "cuda:x"], "Unknown device 'cuda:x'"),
        (["--factor", "2", "--device", ""], "Unknown device ''"),
    ],
)
def test_impossible_rates_and_unknown_devices_are_one_sentence(tmp_path, checkpoint, capsys, flags, words):
    # issue 28, item 9: each of these was a traceback (ZeroDivisionError, torch's RuntimeError)
    source = make_clip(tmp_path / "in.mkv", count=3, width=32, height=24)
    code, _, err = run_cli(capsys, source, "-o", tmp_path / "o.mkv", "--codec", "ffv1", "--checkpoint", checkpoint,
                           "--quiet", *flags)  # fmt: skip
    assert code == 1 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


def test_an_animated_webp_is_named_not_called_a_still_image(tmp_path, checkpoint, capsys):
    # issue 28, item 13: FFmpeg reads one image of it, and TEMPO said "a still image"
    from PIL import Image

    frames = [Image.new("RGB", (32, 24), (40 * i, 0, 0)) for i in range(4)]
    animated, still = tmp_path / "anim.webp", tmp_path / "still.webp"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(still)
    for source, words in [(animated, "anim.webp is an animated WebP, which TEMPO cannot decode"),
                          (still, "still.webp is a still image, not a video")]:  # fmt: skip
        code, _, err = run_cli(capsys, source, "-o", tmp_path / "o.mkv", "--factor", "2", "--checkpoint", checkpoint)
        assert code == 1 and words in err and "Traceback" not in err


def test_two_pixel_wide_clips_export_or_are_refused_before_writing(tmp_path, checkpoint, capsys):
    # issue 28, item 13: a 2 x 24 clip opened, then failed to encode ("function not implemented")
    source = make_clip(tmp_path / "narrow.mp4", count=3, width=2, height=24, codec="libx264")
    flags = ["--factor", "2", "--checkpoint", checkpoint, "--quiet"]
    code, _, err = run_cli(capsys, source, "-o", tmp_path / "x2.mp4", *flags)
    assert code == 0, err
    assert (probe(tmp_path / "x2.mp4").width, probe(tmp_path / "x2.mp4").frame_count) == (2, 6)
    code, _, err = run_cli(capsys, source, "-o", tmp_path / "x2_frames", "--codec", "png", *flags)
    assert code == 0 and len(list((tmp_path / "x2_frames").glob("frame_*.png"))) == 6
    for codec, name, words in [
        ("ffv1", "x2.mkv", "FFV1 cannot store this clip's yuv420p colour at 2 x 24 pixels; use --codec png or h264."),
        ("hevc", "x2_hevc.mp4", "HEVC needs frames at least 16 pixels on a side and this clip's are 2 x 24"),
    ]:
        code, _, err = run_cli(capsys, source, "-o", tmp_path / name, "--codec", codec, *flags)
        assert code == 1 and words in err and "Traceback" not in err and not (tmp_path / name).exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_crf_outside_the_encoders_range_is_clamped_with_a_note(tmp_path, checkpoint, capsys):
    # issue 28, item 13: --crf 99 was clamped to 51 in silence
    source = make_clip(tmp_path / "in.mkv", count=3, width=32, height=24)
    flags = ["--factor", "2", "--checkpoint", checkpoint, "--quiet", "--report", "none"]
    code, _, err = run_cli(capsys, source, "-o", tmp_path / "a.mp4", "--crf", "99", *flags)
    assert code == 0 and "note: --crf 99 lies outside 0-51, the encoder's range; crf 51 was used." in err
    code, _, err = run_cli(capsys, source, "-o", tmp_path / "b.mp4", "--crf", "30", *flags)
    assert code == 0 and "--crf" not in err
