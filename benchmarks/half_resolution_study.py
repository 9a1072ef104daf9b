"""Study: the network at half resolution on large frames, the last look-ups at full size.

Issue 18 asks for x2 of a 720p clip in at most twice ffmpeg minterpolate's wall time; the full
network needs about 40 % less work per frame for that. RIFE-based apps offer a "scale 0.5" for
large frames; this measures what the same idea costs TEMPO, on training frames only (the triplets
of ``large_frame_quality.py``: 720p training videos at their own size, frames k and k + 2s in,
k + s the target, s = 1, 2), without changing the product:

* **full**: ``Interpolator.interpolate`` as shipped;
* **half**: the anchors area-halved, the whole network on them; its final per-observation motion
  (the offsets of the full-size look-ups, recorded from the synthesis head's ``warp``), blend
  weights and residual (its output minus its blend) upsampled 2x, and the look-ups, blend and
  residual redone on the full-size anchors.

Prints the mean PSNR of both, their difference per triplet, and the median CPU time of one frame
(encode + synthesize, one thread). This is the record of model card item 28; the product's
processing scale (item 29, ``tempo_core/inference/half_size.py``) keeps the prior and the look-ups at
full size; "full" here is the whole network at full size (``scale=1``)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/half_resolution_study.py [--per_video 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from large_frame_quality import VIDEOS, triplets  # noqa: E402

import tempo_core.network.synthesis as synthesis  # noqa: E402
from tempo_core.evaluation.metrics import psnr  # noqa: E402
from tempo_core.inference import Interpolator, image_to_tensor, pad_to_multiple, tensor_to_image  # noqa: E402
from tempo_core.network.sampling import upsample_velocity, warp  # noqa: E402


def half_resolution(model, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The frame halfway between ``first`` and ``last`` (uint8 ``H x W x 3``), the network run on
    the anchors halved, its look-ups redone at full size (see the module docstring)."""
    height, width = first.shape[:2]
    frames = pad_to_multiple(torch.stack([image_to_tensor(first), image_to_tensor(last)])[None], 64)  # (1, 2, 3, H, W)
    B, N, C, H, W = frames.shape
    half = F.avg_pool2d(frames.flatten(0, 1), 2).view(B, N, C, H // 2, W // 2)
    recorded: list[tuple[torch.Tensor, torch.Tensor]] = []

    def recording_warp(images: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        looked_up = warp(images, offsets)
        recorded.append((offsets, looked_up))
        return looked_up

    synthesis.warp = recording_warp
    try:
        rgb, aux = model.synthesize(model.encode(half, torch.tensor([[0.0, 1.0]])), torch.tensor([0.5]))
    finally:
        synthesis.warp = warp
    offsets, looked_up = recorded[-1]  # the synthesis head's full-size look-ups: (B*N, 2 | 3, H/2, W/2)
    weights = aux["weights"]  # (B, N, H/2, W/2)
    residual = rgb - (looked_up.view(B, N, C, H // 2, W // 2) * weights.unsqueeze(2)).sum(dim=1)
    full_offsets = upsample_velocity(offsets, (H, W))
    full_weights = F.interpolate(weights, size=(H, W), mode="bilinear", align_corners=False)
    full_look_ups = warp(frames.flatten(0, 1), full_offsets).view(B, N, C, H, W)
    blend = (full_look_ups * full_weights.unsqueeze(2)).sum(dim=1)
    full_residual = F.interpolate(residual, size=(H, W), mode="bilinear", align_corners=False)
    return tensor_to_image((blend + full_residual).clamp(0, 1)[0, :, :height, :width])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS)
    parser.add_argument("--min_width", type=int, default=1280)
    parser.add_argument("--max_width", type=int, default=100_000)
    parser.add_argument("--per_video", type=int, default=2)
    parser.add_argument("--strides", default="1,2")
    args = parser.parse_args()
    interpolator = Interpolator.from_checkpoint(None, device="cpu", scale=1)
    model = interpolator.model
    strides = [int(s) for s in args.strides.split(",")]
    scores: dict[str, list[float]] = {"full": [], "half": []}
    seconds: dict[str, list[float]] = {"full": [], "half": []}
    for video, (first, truth, last) in triplets(args.videos, (args.min_width, args.max_width), strides, args.per_video):
        with torch.inference_mode():
            for name in ("full", "half"):
                began = time.process_time()
                if name == "full":
                    image = interpolator.interpolate([first, last], [0.0, 1.0], 0.5).image
                else:
                    image = half_resolution(model, first, last)
                seconds[name].append(time.process_time() - began)
                scores[name].append(psnr(image, truth))
        print(f"{video}: full {scores['full'][-1]:.2f}  half {scores['half'][-1]:.2f}", flush=True)
    full, half = np.array(scores["full"]), np.array(scores["half"])
    delta = half - full
    print(f"\n{len(full)} triplets, torch threads {torch.get_num_threads()}")
    print(f"full: {full.mean():.3f} dB, median CPU {statistics.median(seconds['full']):.2f} s")
    print(
        f"half: {half.mean():.3f} dB ({delta.mean():+.3f}, per triplet {delta.min():+.2f} to {delta.max():+.2f}), "
        f"median CPU {statistics.median(seconds['half']):.2f} s"
    )


if __name__ == "__main__":
    main()
