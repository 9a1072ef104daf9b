"""How good is the motion prior alone, and what do its settings change? Training data only.

Septuplets are cut from the decoded training videos that ``tempo train`` caches (``<runs>/cache``,
one ``.npy`` of uint8 frames per video): for each video and each ``--strides`` value k, ``--per_video``
windows of 7 frames k apart, resized to ``--width`` pixels wide (448 by default, the width of the
validation septuplets; 0 keeps the cached size) and cropped to a multiple of 32. The protocol is
the validation one: N=2 uses frames 2 and 4, N=4 uses 0, 2, 4, 6; the target is frame 3. Never
point this at the validation set: the settings it compares are design choices.

Rows (mean PSNR over the septuplets, and with ``--ssim`` the mean SSIM, skimage7 variant):

* ``blend``: the average of the two nearest frames;
* ``prior``: the prior's full-resolution velocity alone, every observation looked up along it and
  blended with the observation weights (N=2) or the two nearest frames (N=4), no network;
* ``prior, <change>``: the same with one field of the prior's ``PriorConfig`` changed (``--ablate``:
  each part of the local-global polish taken out in turn, the window and the smoothness changed,
  and time measured in normalized units instead of the bracketing pair's gap);
* ``network``: the model given with ``--checkpoint`` (default: the bundled one), and
  ``network, <name>`` with each ``--try`` variant of its prior.

    python benchmarks/studies/motion_prior_study.py --cache runs/cache [--checkpoint FILE] [--ablate]
        [--width 448] [--strides 1,2,3] [--per_video 3]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tempo_core.checkpoint import load_model
from tempo_core.evaluation.metrics import psnr, ssim

PROTOCOLS = {2: [2, 4], 4: [0, 2, 4, 6]}
TARGET = 3
ABLATIONS: dict[str, dict[str, object]] = {
    "no propagation": {"propagation_distances": ()},
    "no smoothness term": {"smoothness": 1e-5},
    "no robust weight": {"robust_scale": 1e9},
    "no median filter": {"median_size": 1},
    "no gradient channels": {"gradient_weight": 0.0},
    "3 steps per scale": {"lk_iterations": 3},
    "LK window 5": {"lk_window": 5},
    "LK window 9": {"lk_window": 9},
    "smoothness 1e-3": {"smoothness": 1e-3},
    "smoothness 3e-3": {"smoothness": 3e-3},
    "smoothness 3e-2": {"smoothness": 3e-2},
    "normalized time, smoothness 1e-3": {"pair_gap_units": False, "smoothness": 1e-3},
}


@contextlib.contextmanager
def motion_settings(model, changes: dict[str, object]) -> Iterator[None]:
    """Temporarily run ``model``'s prior with ``changes`` to its :class:`PriorConfig` (e.g.
    ``{"lk_window": 9}``), made with ``dataclasses.replace``."""
    saved = model.motion_prior.config
    model.motion_prior.config = dataclasses.replace(saved, **changes)
    try:
        yield
    finally:
        model.motion_prior.config = saved


def parse_variant(text: str) -> tuple[str, dict[str, object]]:
    """``"fast:lk_iterations=3;smoothness_sweeps=4"`` -> ``("fast", {"lk_iterations": 3, "smoothness_sweeps": 4})``."""
    name, _, settings = text.partition(":")
    changes = {}
    for setting in filter(None, settings.split(";")):
        field, _, value = setting.partition("=")
        changes[field.strip()] = ast.literal_eval(value.strip())
    return name, changes


def _resized(frames: np.ndarray, width: int) -> torch.Tensor:
    """``[7, H, W, 3]`` uint8 -> ``[7, 3, h, w]`` float in [0, 1]: area-resized to ``width`` (0: as
    is), rounded to uint8 levels, centre-cropped to multiples of 32."""
    windows = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
    if width:
        height = round(windows.shape[2] * width / windows.shape[3])
        windows = (F.interpolate(windows, size=(height, width), mode="area") * 255).round() / 255
    height, width = windows.shape[2] // 32 * 32, windows.shape[3] // 32 * 32
    top, left = (windows.shape[2] - height) // 2, (windows.shape[3] - width) // 2
    return windows[:, :, top : top + height, left : left + width]


def septuplets(cache: Path, per_video: int, strides: list[int], width: int) -> list[torch.Tensor]:
    """``[7, 3, H, W]`` float windows in [0, 1] from every cached training video (see the module doc)."""
    windows, seen = [], set()
    for stride in strides:
        seen.clear()
        for path in sorted(cache.glob("*.npy")):
            video_name = path.name.rsplit("-", 1)[0]  # "<video>-<cache key>.npy"; a video may be cached twice
            if path.name.endswith(".times.npy") or video_name in seen:
                continue
            seen.add(video_name)
            windows += video_windows(np.load(path, mmap_mode="r"), per_video, stride, width)
    return windows


def video_windows(video: np.ndarray, count: int, stride: int, width: int) -> list[torch.Tensor]:
    """``count`` evenly spaced 7-frame windows ``[7, 3, H, W]`` of ``video`` (uint8 ``[T, H, W, 3]``),
    frames ``stride`` apart, within its middle 70 %, resized as :func:`_resized` (none if too short)."""
    span = 6 * stride + 1
    if len(video) < span + 1:
        return []
    starts = np.linspace(len(video) * 0.15, len(video) * 0.85 - span, count).astype(int)
    return [_resized(video[start : start + span : stride], width) for start in starts]


def prior_only(model, frames: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """``[1, N, 3, H, W]`` -> ``[1, 3, H, W]``: the model's motion prior alone, no network."""
    return model.motion_prior.synthesize_alone(frames, dt)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="the decoded-frame cache of a training run")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--per_video", type=int, default=3, help="windows per video and stride")
    parser.add_argument("--strides", default="1,2,3", help="frame strides of the windows")
    parser.add_argument("--width", type=int, default=448, help="resize to this width (0: cached size)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: default; 1 beside a training run)"
    )
    parser.add_argument("--ablate", action="store_true", help="also score the prior with each setting changed")
    parser.add_argument("--ssim", action="store_true", help="also print the mean SSIM (skimage7) of every row")
    parser.add_argument(
        "--try",
        dest="variants",
        action="append",
        default=[],
        metavar="NAME:FIELD=VALUE;...",
        help="also score the prior with these PriorConfig fields changed (repeatable)",
    )
    parser.add_argument("--no_network", action="store_true", help="leave out the network rows")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint).float().eval()
    strides = [int(stride) for stride in args.strides.split(",")]
    data = septuplets(Path(args.cache), args.per_video, strides, args.width)
    rows: dict[str, list[tuple[float, float]]] = {}

    def score(prediction: torch.Tensor, target: np.ndarray) -> tuple[float, float]:
        image = to_uint8(prediction)
        return psnr(image, target), ssim(image, target, "skimage7") if args.ssim else float("nan")

    ablations = {**(ABLATIONS if args.ablate else {}), **dict(parse_variant(text) for text in args.variants)}
    with torch.no_grad():
        for window_frames in data:
            target = to_uint8(window_frames[TARGET][None])
            for n, indices in PROTOCOLS.items():
                frames = window_frames[indices][None]
                times = torch.tensor([indices], dtype=torch.float32)
                dt = (times - TARGET) / (times.max() - times.min())
                nearest = window_frames[[2, 4]].mean(dim=0, keepdim=True)
                rows.setdefault(f"blend N={n}", []).append(score(nearest, target))
                rows.setdefault(f"prior N={n}", []).append(score(prior_only(model, frames, dt), target))
                for name, changes in ablations.items():
                    with motion_settings(model, changes):
                        prediction = prior_only(model, frames, dt)
                    rows.setdefault(f"prior, {name} N={n}", []).append(score(prediction, target))
                if not args.no_network:
                    output, _ = model(frames, times, torch.tensor([float(TARGET)]))
                    rows.setdefault(f"network N={n}", []).append(score(output, target))
                    for name, changes in dict(parse_variant(text) for text in args.variants).items():
                        with motion_settings(model, changes):
                            output, _ = model(frames, times, torch.tensor([float(TARGET)]))
                        rows.setdefault(f"network, {name} N={n}", []).append(score(output, target))
    print(f"{len(data)} septuplets from {args.cache} (strides {args.strides}, width {args.width or 'as cached'})")
    for name, values in rows.items():
        psnr_mean, ssim_mean = np.mean(values, axis=0)
        print(f"{psnr_mean:7.3f}  {f'{ssim_mean:.4f}  ' if args.ssim else ''}{name}")


if __name__ == "__main__":
    main()
