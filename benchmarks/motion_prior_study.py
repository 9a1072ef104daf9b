"""How good is the motion prior alone, and what do its settings change? Training data only.

Septuplets are cut from the decoded training videos that ``tempo train`` caches (``<runs>/cache``,
one ``.npy`` of uint8 frames per video): for each video, ``--per_video`` windows of 7 consecutive
frames, centre-cropped to a multiple of 32. The protocol is the validation one: N=2 uses frames
2 and 4, N=4 uses 0, 2, 4, 6; the target is frame 3. Never point this at the validation set:
the settings it compares are design choices.

Rows (mean PSNR over the septuplets):

* ``blend``: the average of the two nearest frames;
* ``prior``: the prior's full-resolution velocity alone, every observation looked up along it and
  blended with the observation weights (N=2) or the two nearest frames (N=4), no network;
* ``prior, <change>``: the same with one setting of :mod:`tempo_core.motion` changed (``--ablate``:
  each part of the local-global polish taken out in turn, and the window changed);
* ``network``: the model given with ``--checkpoint`` (default: the bundled one).

    python benchmarks/motion_prior_study.py --cache runs/cache [--checkpoint FILE] [--ablate]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

import tempo_core.motion as motion
from tempo_core.checkpoint import load_model
from tempo_core.metrics import psnr

PROTOCOLS = {2: [2, 4], 4: [0, 2, 4, 6]}
TARGET = 3
ABLATIONS = {
    "no propagation": {"PROPAGATION_DISTANCES": ()},
    "no smoothness term": {"SMOOTHNESS": 1e-5},
    "no robust weight": {"ROBUST_SCALE": 1e9},
    "no median filter": {"MEDIAN_SIZE": 1},
    "no gradient channels": {"GRADIENT_WEIGHT": 0.0},
    "3 steps per scale": {"LK_ITERATIONS": 3},
    "LK window 5": {"LK_WINDOW": 5},
    "LK window 9": {"LK_WINDOW": 9},
}


@contextlib.contextmanager
def motion_settings(changes: dict[str, float]) -> Iterator[None]:
    """Temporarily set module constants of :mod:`tempo_core.motion` (e.g. ``{"LK_WINDOW": 9}``)."""
    saved = {name: getattr(motion, name) for name in changes}
    for name, value in changes.items():
        setattr(motion, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(motion, name, value)


def septuplets(cache: Path, per_video: int) -> list[torch.Tensor]:
    """``[7, 3, H, W]`` float windows in [0, 1] from every cached training video."""
    windows, seen = [], set()
    for path in sorted(cache.glob("*.npy")):
        video_name = path.name.rsplit("-", 1)[0]  # "<video>-<cache key>.npy"; a video may be cached twice
        if path.name.endswith(".times.npy") or video_name in seen:
            continue
        seen.add(video_name)
        video = np.load(path, mmap_mode="r")
        height, width = video.shape[1] // 32 * 32, video.shape[2] // 32 * 32
        top, left = (video.shape[1] - height) // 2, (video.shape[2] - width) // 2
        for start in np.linspace(len(video) * 0.15, len(video) * 0.85 - 7, per_video).astype(int):
            frames = np.stack([video[start + k, top : top + height, left : left + width] for k in range(7)])
            windows.append(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    return windows


def prior_only(model, frames: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """``[1, N, 3, H, W]`` -> ``[1, 3, H, W]``: the model's motion prior alone, no network."""
    return model.motion_prior.synthesize_alone(frames, dt)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="the decoded-frame cache of a training run")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--per_video", type=int, default=2)
    parser.add_argument("--ablate", action="store_true", help="also score the prior with each setting changed")
    args = parser.parse_args()
    model = load_model(args.checkpoint).float().eval()
    data = septuplets(Path(args.cache), args.per_video)
    rows: dict[str, list[float]] = {}
    ablations = ABLATIONS if args.ablate else {}
    with torch.no_grad():
        for window_frames in data:
            target = to_uint8(window_frames[TARGET][None])
            for n, indices in PROTOCOLS.items():
                frames = window_frames[indices][None]
                times = torch.tensor([indices], dtype=torch.float32)
                dt = (times - TARGET) / (times.max() - times.min())
                nearest = window_frames[[2, 4]].mean(dim=0, keepdim=True)
                rows.setdefault(f"blend N={n}", []).append(psnr(to_uint8(nearest), target))
                rows.setdefault(f"prior N={n}", []).append(psnr(to_uint8(prior_only(model, frames, dt)), target))
                for name, changes in ablations.items():
                    with motion_settings(changes):
                        prediction = prior_only(model, frames, dt)
                    rows.setdefault(f"prior, {name} N={n}", []).append(psnr(to_uint8(prediction), target))
                output, _ = model(frames, times, torch.tensor([float(TARGET)]))
                rows.setdefault(f"network N={n}", []).append(psnr(to_uint8(output), target))
    print(f"{len(data)} septuplets from {args.cache}")
    for name, values in rows.items():
        print(f"{np.mean(values):7.3f}  {name}")


if __name__ == "__main__":
    main()
