"""The GPU loan's prepared call (benchmarks/gpu_check.sh) on an image like the GPU machine's, and
the training videos' OpenCV decoding where PyAV is absent (tempo_core/training/cv2_video.py).

The bare image is made in a clean environment: a ``sitecustomize`` on ``PYTHONPATH`` makes
``av`` and ``PySide6`` missing packages and removes this checkout's editable install (so
``tempo_core`` is importable only through the path the script sets), pip points at nothing, and
the working directory is outside the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tempo_test_clips import frame_image, make_clip

from tempo_core.errors import MediaError
from tempo_core.training import clips
from tempo_core.training.cv2_video import decode_video_cv2, opencv_available

ROOT = Path(__file__).resolve().parents[2]
# sitecustomize of the bare image: PyAV and PySide6 are not installed (their imports fail as a
# missing package's do), and this checkout's editable install is not there either
BARE_IMAGE = """
import sys


class NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in ("av", "PySide6"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path[:] = [NotInstalled] + [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
"""


def bare_environment(home: Path) -> dict[str, str]:
    """A clean environment: this venv's python first on PATH, no PyAV / PySide6, pip reaching nothing."""
    shims = home / "shims"
    shims.mkdir()
    (shims / "sitecustomize.py").write_text(BARE_IMAGE)
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "PYTHONPATH": str(shims),
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_NO_INDEX": "1",
        "OMP_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }


def tiny_data(root: Path) -> Path:
    """train/ (one video, one frame folder) and val/ (one septuplet's N=2 images), 96 x 64."""
    (root / "train" / "videos").mkdir(parents=True)
    make_clip(root / "train" / "videos" / "square.mp4", count=16, width=96, height=64, codec="libx264")
    frames = root / "train" / "frames" / "square"
    frames.mkdir(parents=True)
    for index in range(12):
        Image.fromarray(frame_image(index, 96, 64)).save(frames / f"{index:04d}.png")
    septuplet = root / "val" / "square" / "00000"
    septuplet.mkdir(parents=True)
    for index in (3, 4, 5):
        Image.fromarray(frame_image(index, 96, 64)).save(septuplet / f"im{index}.png")
    return root


@pytest.mark.slow
def test_the_check_runs_on_a_bare_image_from_another_folder_and_writes_its_table(tmp_path: Path) -> None:
    env = bare_environment(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    control = subprocess.run([sys.executable, "-c", "import tempo_core"], cwd=elsewhere, env=env, capture_output=True)
    assert control.returncode != 0  # the image is bare: only the script's path finds the package
    data, out = tiny_data(tmp_path / "data"), tmp_path / "out"
    command = ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--train_seconds", "2"]
    command += ["--no_compiled", "--budget", "400", "--data", str(data), "--out", str(out)]
    result = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    table = (out / "table.md").read_text()
    assert "PyAV no" in table
    assert re.search(r"tests \(tests/core/inference/test_cuda.py\): \d+ skipped", table)
    for precision in ("fp32", "bf16"):
        assert re.search(rf"\| 96x64 \| 2 \| {precision} \| eager \| [0-9.]+ \| \d+ \|", table)
    if opencv_available():
        assert "1 of 1 videos decoded with OpenCV" in table
    else:
        assert "1 videos skipped: neither PyAV nor OpenCV is installed" in table
    assert re.search(r"train \(.*\): [0-9.]+ steps/s \(median of \d+ windows\), \d+ steps", table)
    assert re.search(r"validation N=2 .*: shipped [0-9.]+ dB, trained [0-9.]+ dB", table)
    assert "RIFE 4.25: " in table and "goals: judged on a GPU only" in table
    assert (out / "trained_xs.safetensors").stat().st_size > 1_000_000
    returned = sorted(path.name for path in out.iterdir())  # the device tool returns 8 files at most
    assert len(returned) <= 8 and {"table.md", "tests.log", "bench.json", "train.log"} <= set(returned)
    assert "validation step" in (out / "train.log").read_text()


@pytest.mark.skipif(not opencv_available(), reason="OpenCV (cv2) is not installed")
def test_without_pyav_a_training_video_is_decoded_with_opencv_like_pyav(tmp_path: Path, monkeypatch) -> None:
    video = make_clip(tmp_path / "square.mp4", count=10, width=96, height=64, codec="libx264")
    with_pyav, pyav_times = clips.decode_video(video, max_side=48)
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    frames, times = clips.decode_video(video, max_side=48)
    assert frames.shape == with_pyav.shape == (10, 32, 48, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - with_pyav.astype(int)).mean() < 2
    np.testing.assert_allclose(times, pyav_times, atol=1e-3)


def test_without_pyav_and_opencv_a_video_is_one_plain_media_error(tmp_path: Path, monkeypatch) -> None:
    video = make_clip(tmp_path / "square.mp4", count=4, width=32, height=32)
    monkeypatch.setitem(sys.modules, "av", None)
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MediaError, match="neither PyAV nor OpenCV is installed"):
        clips.decode_video(video)
    with pytest.raises(MediaError, match="square.mp4"):
        decode_video_cv2(video)
