"""``tempo interpolate``: success, plain one-line failures, refusal to overwrite, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tempo_test_clips import make_clip

from tempo_core.checkpoint import save_weights
from tempo_core.commands.cli import main
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny
from tempo_core.video.reader import probe

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_cleanly(tmp_path, checkpoint):
    source = make_clip(tmp_path / "in.mkv", count=12, width=32, height=24)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "slow.mp4"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tempo_core",
            "interpolate",
            str(source),
            "-o",
            str(out),
            "--slowmo",
            "16",
            "--checkpoint",
            str(checkpoint),
            "--device",
            "cpu",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    seen = b""
    deadline = time.monotonic() + 120
    while b"frames" not in seen and time.monotonic() < deadline:
        seen += os.read(process.stderr.fileno(), 256)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    stderr = (seen + rest).decode()
    assert process.returncode == 130, stderr
    assert "cancelled" in stderr and "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []
