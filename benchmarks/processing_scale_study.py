"""Study: what each part of the half-size processing of large frames is worth (model card, item 29).

On a CPU, frames over 0.6 MP run the learned network on the anchors halved, the motion prior on
the full-size anchors, and the last look-ups at full size along the prior's velocity alone
(:mod:`tempo_core.inference.half_size`). This scores, on training data only, that design against
the alternatives it was chosen over:

* **whole network**: ``--scale 1``;
* **all at half (item 28)**: the prior at half size too (``half_resolution_study.py``);
* **learned correction added**: the network's learned offset correction (its last look-ups'
  offsets minus its prior's) doubled and added to the full-size velocity;
* **full 1/2 size**, **1/2: no propagation**, **no 1/2 size**: the prior's 1/2 size on large frames
  as small frames have it, without its propagation, or not at all (:class:`PriorConfig` fields);
* **no block matching at 1/4**: the prior's finest search left out on large frames.

Triplets: dog at the minterpolate benchmark's half rate (frames k, k + 2 in, k + 1 the target,
k = 0, 8, ..., 48), ``--per_video`` x2 triplets per 720p training video and stride 1, 2 (as
``large_frame_quality.py``), and three still 1280 x 720 frames of fine texture (3, 4 and 8-pixel
detail, identical anchors). Prints the mean PSNR per group and variant, and the median CPU time::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/processing_scale_study.py [--per_video 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))
from half_resolution_study import half_resolution  # noqa: E402
from large_frame_quality import VIDEOS, triplets  # noqa: E402
from motion_prior_study import motion_settings  # noqa: E402
from tempo_test_clips import as_uint8_images, moving_texture  # noqa: E402

import tempo_core.network.synthesis as synthesis  # noqa: E402
import tempo_core.inference.half_size as processing_scale  # noqa: E402
from tempo_core.evaluation.metrics import psnr  # noqa: E402
from tempo_core.inference import Interpolator  # noqa: E402
from tempo_core.network.layers import fold, upsample2x  # noqa: E402
from tempo_core.network.sampling import upsample_velocity, warp  # noqa: E402
from tempo_core.video.reader import VideoReader  # noqa: E402

PRIOR_VARIANTS = {
    "full 1/2 size": {"large_half_size_iterations": None},
    "1/2: no propagation": {"large_propagation_distances": ()},
    "no 1/2 size": {"large_half_size_iterations": 0, "large_propagation_distances": ()},
}


def groups(per_video: int):
    """Yield ``(group, [first, target, last])``."""
    for cell, mode in ((3, "bicubic"), (4, "bilinear"), (8, "bicubic")):
        still = as_uint8_images(moving_texture(1, 720, 1280, shift=0, cell=cell, mode=mode, seed=1))[0]
        yield "still texture", [still, still, still]
    with VideoReader(VIDEOS / "dog.mp4") as reader:
        for k in range(0, 56, 8):
            yield "dog, half rate", [reader.read_frame(i) for i in (k, k + 1, k + 2)]
    for _, frames in triplets(VIDEOS, (1280, 100_000), [1, 2], per_video):
        yield "720p training triplets", frames


def with_learned_correction(interpolator: Interpolator) -> Callable:
    """A run of the half-size path whose last look-ups add the network's learned correction: its
    own last look-ups' offsets (recorded from the synthesis head's ``warp``) minus its prior's,
    doubled to full size."""
    recorded: list[torch.Tensor] = []

    def recording_warp(images: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        recorded.append(offsets)
        return warp(images, offsets)

    def finish(frames, aux, velocity, dt):
        B, (N, C, H, W) = velocity.shape[0], frames.shape[1:]
        dt5 = dt[:, :, None, None, None]
        learned = recorded[-1].view(B, N, 2, H // 2, W // 2) - aux["motion_prior_full"][:, None] * dt5
        offsets = velocity[:, None] * dt5 + upsample_velocity(fold(learned), (H, W)).view(B, N, 2, H, W)
        look_ups = warp(fold(frames.expand(B, -1, -1, -1, -1)), fold(offsets)).view(B, N, C, H, W)
        rgb = (look_ups * upsample2x(aux["weights"]).unsqueeze(2)).sum(dim=1) + upsample2x(aux["residual"])
        return rgb.clamp(0, 1), upsample2x(aux["confidence"])

    def run(first, last):
        shipped_finish = processing_scale.finish_at_full_size
        synthesis.warp, processing_scale.finish_at_full_size = recording_warp, finish
        try:
            return interpolator.interpolate([first, last], [0.0, 1.0], 0.5).image
        finally:
            synthesis.warp, processing_scale.finish_at_full_size = warp, shipped_finish

    return run


def variants(interpolator: Interpolator) -> dict[str, Callable]:
    model = interpolator.model
    whole = Interpolator(model, device="cpu", scale=1)

    def shipped(first, last):
        return interpolator.interpolate([first, last], [0.0, 1.0], 0.5).image

    def prior_variant(changes):
        def run(first, last):
            with motion_settings(model, changes):
                return shipped(first, last)

        return run

    def no_finest_matching(first, last):
        prior, original = model.motion_prior, model.motion_prior.block_matching

        def matching(scale, features, dt, weights, center):
            large = features.shape[-2] * features.shape[-1] * 16 > prior.config.large_frame_pixels
            return center if scale == 0 and large else original(scale, features, dt, weights, center)

        prior.block_matching = matching
        try:
            return shipped(first, last)
        finally:
            del prior.block_matching

    return {
        "shipped": shipped,
        "whole network": lambda first, last: whole.interpolate([first, last], [0.0, 1.0], 0.5).image,
        "all at half (item 28)": lambda first, last: half_resolution(model, first, last),
        "learned correction added": with_learned_correction(interpolator),
        **{name: prior_variant(changes) for name, changes in PRIOR_VARIANTS.items()},
        "no block matching at 1/4": no_finest_matching,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per_video", type=int, default=2)
    args = parser.parse_args()
    interpolator = Interpolator.from_checkpoint(None, device="cpu", scale="auto")
    runs = variants(interpolator)
    scores: dict[tuple[str, str], list[float]] = {}
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for group, (first, truth, last) in groups(args.per_video):
        with torch.inference_mode():
            for name, run in runs.items():
                began = time.process_time()
                image = run(first, last)
                seconds[name].append(time.process_time() - began)
                scores.setdefault((group, name), []).append(psnr(image, truth))
        print(group, "  ".join(f"{name} {scores[group, name][-1]:.2f}" for name in runs), flush=True)
    names = list(dict.fromkeys(group for group, _ in scores))
    print(f"\ntorch threads {torch.get_num_threads()}; mean PSNR per group, median CPU s per frame")
    print("variant | " + " | ".join(names) + " | CPU s")
    for name in runs:
        means = [np.mean(scores[group, name]) for group in names]
        print(f"{name} | " + " | ".join(f"{m:.3f}" for m in means) + f" | {statistics.median(seconds[name]):.2f}")


if __name__ == "__main__":
    main()
