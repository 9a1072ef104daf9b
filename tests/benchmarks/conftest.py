"""Tiny inputs for the smoke tests of ``benchmarks/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import ROOT  # noqa: F401  (puts the core tests' clip helpers on the path)
from PIL import Image
from tempo_test_clips import frame_image


@pytest.fixture
def jpeg_frames(tmp_path: Path) -> Path:
    """A folder of three 128 x 72 JPEG frames of the moving test square."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(frame_image(index, 128, 72)).save(folder / f"{index:05d}.jpg", quality=95)
    return folder


@pytest.fixture
def septuplets(tmp_path: Path) -> Path:
    """A septuplet folder (``clip/00000/im1.png .. im7.png``) of one 64 x 64 target."""
    folder = tmp_path / "septuplets" / "clip" / "00000"
    folder.mkdir(parents=True)
    for index in range(7):
        image = np.ascontiguousarray(frame_image(index, 64, 64))
        Image.fromarray(image).save(folder / f"im{index + 1}.png")
    return tmp_path / "septuplets"
