"""Quality and CPU time of prior schedules on full-size frames of the training videos (720p).

The validation septuplets are 448 pixels wide; a desktop user's clips are 720p and larger, where
the motion prior's finest steps cost the most. This scores x2 triplets cut from the training
videos at their own size (no resize: frames k and k + 2s in, k + s the target, s in ``--strides``),
``--per_video`` evenly spaced windows per video and stride, within the middle 70 % of each video,
for the shipped prior and each ``--try`` variant of its :class:`PriorConfig` (written as in
``motion_prior_study.py``: ``"name:field=value;field=value"``; the field ``scale`` sets the
processing scale instead, ``"whole network:scale=1"``). Training data only: the choices it
compares are design choices.

Prints, per variant, the mean PSNR over the triplets (and per video), the mean difference to the
shipped prior with its spread, and the median CPU time of one ``Interpolator.interpolate``::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/studies/large_frame_quality.py \
        --try "full-size step:full_size_max_pixels=1000000000" [--min_width 1280] [--max_width W] [--strides 1,2]
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/studies/large_frame_quality.py --per_video 2 \
        --try "whole network:scale=1" --try "old 1/2 size:large_half_size_iterations=None"
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from motion_prior_study import motion_settings, parse_variant
from PIL import Image

from tempo_core.evaluation.metrics import psnr
from tempo_core.inference import Interpolator
from tempo_core.training.clips import list_images
from tempo_core.video.reader import VideoReader

VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "data" / "train" / "videos"


def triplets(videos: Path, widths: tuple[int, int], strides: list[int], per_video: int):
    """Yield ``(video name, [first, target, last])`` uint8 ``H x W x 3`` frames from every video
    ``widths[0]`` to ``widths[1]`` pixels wide."""
    for path in sorted(videos.iterdir()):
        with VideoReader(path) if path.is_file() else ImageFolder(path) as reader:
            if not widths[0] <= reader.info.width <= widths[1]:
                continue
            count = len(reader.frame_times)
            for stride in strides:
                span = 2 * stride
                if count < span + 2:
                    continue
                for start in np.linspace(count * 0.15, count * 0.85 - span, per_video).astype(int):
                    frames = [reader.read_frame(int(start) + k * stride) for k in range(3)]
                    yield path.stem, frames


class ImageFolder:
    """The sorted images of a folder (``train/frames/<name>/*.jpg``) read as :class:`VideoReader` is
    here: ``info.width``, ``frame_times`` (only its length counts) and ``read_frame``."""

    def __init__(self, folder: Path) -> None:
        self.paths = list_images(folder)
        self.frame_times = np.arange(len(self.paths), dtype=np.float64)
        width = Image.open(self.paths[0]).width if self.paths else 0
        self.info = SimpleNamespace(width=width)

    def read_frame(self, index: int) -> np.ndarray:
        return np.asarray(Image.open(self.paths[index]).convert("RGB"))

    def __enter__(self) -> ImageFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of training videos (or of image folders)")
    parser.add_argument("--min_width", type=int, default=1280, help="videos at least this wide")
    parser.add_argument("--max_width", type=int, default=100_000, help="videos at most this wide")
    parser.add_argument("--strides", default="1,2", help="frame strides s: frames k, k+2s in, k+s out")
    parser.add_argument("--per_video", type=int, default=3, help="windows per video and stride")
    parser.add_argument("--try", dest="variants", action="append", default=[], help="NAME:field=value;...")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    args = parser.parse_args()

    interpolator = Interpolator.from_checkpoint(args.checkpoint, device="cpu")
    variants = [("shipped", {})] + [parse_variant(text) for text in args.variants]
    strides = [int(s) for s in args.strides.split(",")]
    scores: dict[str, list[float]] = {name: [] for name, _ in variants}
    seconds: dict[str, list[float]] = {name: [] for name, _ in variants}
    videos: list[str] = []
    for video, (first, truth, last) in triplets(args.videos, (args.min_width, args.max_width), strides, args.per_video):
        videos.append(video)
        for name, changes in variants:
            prior_changes = {field: value for field, value in changes.items() if field != "scale"}
            interpolator.scale = changes.get("scale", "auto")  # the processing scale: "scale=1" is a variant too
            with motion_settings(interpolator.model, prior_changes):
                began = time.process_time()
                image = interpolator.interpolate([first, last], [0.0, 1.0], 0.5).image
                seconds[name].append(time.process_time() - began)
            scores[name].append(psnr(image, truth))
        print(f"{video}: " + "  ".join(f"{name} {scores[name][-1]:.2f}" for name, _ in variants), flush=True)

    shipped = np.array(scores["shipped"])
    print(
        f"\n{len(videos)} triplets from {len(set(videos))} videos (strides {args.strides}), torch threads "
        f"{torch.get_num_threads()}"
    )
    print("variant | mean PSNR | minus shipped (min, max) | median CPU s | " + " | ".join(sorted(set(videos))))
    for name, _ in variants:
        values = np.array(scores[name])
        per_video = [values[[n == video for n in videos]].mean() for video in sorted(set(videos))]
        delta = values - shipped
        print(
            f"{name} | {values.mean():.3f} | {delta.mean():+.3f} ({delta.min():+.2f}, {delta.max():+.2f}) | "
            f"{statistics.median(seconds[name]):.2f} | " + " | ".join(f"{v:.2f}" for v in per_video)
        )


if __name__ == "__main__":
    main()
