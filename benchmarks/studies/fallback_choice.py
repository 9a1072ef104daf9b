"""The safety net's choice between holding the nearest real frame and the plain blend. Chosen on training data.

For every target the model synthesizes im4 (the ``tempo eval`` protocols, N=2 and N=4) and
:func:`tempo_core.video.safety_net.choose_fallback` measures, without the truth, how far each fallback
lies from the synthesized frame where it is confident. The truth then says which fallback was
really better (PSNR of the held frame and of the blend against im4). Two kinds of windows:

* ``natural``: 7 consecutive frames (``confidence_ranking.training_windows`` / ``validation_windows``);
* ``cut``: a scene the network cannot follow, made from two sources X, Y (consecutive in name
  order, each one's first window, centre-cropped to the same height): X's first four frames then
  Y's last three (the cut just after the target), and X's first three then Y's last four (just
  before). The target is the true frame of its side.

The margin of :func:`tempo_core.video.safety_net.prefers_hold` (hold only when its distance is below
``margin`` times the blend's) is chosen on the training windows: the largest mean over the two
kinds of the mean PSNR of the chosen fallback. Validation (natural, and cuts between its clips) is
only reported.

    python benchmarks/studies/fallback_choice.py --data_root ../shared/data/train --val ../shared/data/val/septuplets
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from confidence_ranking import Window, training_windows, validation_windows

from tempo_core.evaluation.evaluate import PROTOCOLS, TARGET_TIME
from tempo_core.evaluation.metrics import psnr
from tempo_core.inference import Interpolator, tensor_to_image
from tempo_core.video.safety_net import anchor_blend, choose_fallback, prefers_hold, rounded

MARGINS = [round(0.1 * k, 1) for k in range(11)]  # 0: never hold; 1: the closer one


def cut_windows(windows: list[Window]) -> Iterator[Window]:
    """Two cut windows per pair of consecutive sources (see the module doc)."""
    for (name_x, x), (name_y, y) in zip(windows, windows[1:] + windows[:1], strict=True):
        height = min(x.shape[1], y.shape[1])
        x, y = (frames[:, (frames.shape[1] - height) // 2 :][:, :height] for frames in (x, y))
        pair = f"{name_x.split('/')[0]}|{name_y.split('/')[0]}"
        yield f"{pair}/after", np.concatenate([x[:4], y[4:]])
        yield f"{pair}/before", np.concatenate([x[:3], y[3:]])


def first_per_source(windows: Iterator[Window]) -> list[Window]:
    """The first window of every source (names ``<source>/...``)."""
    chosen: dict[str, Window] = {}
    for name, frames in windows:
        chosen.setdefault(name.split("/")[0], (name, frames))
    return list(chosen.values())


def measure(interpolator: Interpolator, frames: np.ndarray, n: int) -> dict[str, float]:
    """Distances of the two fallbacks to the synthesized im4 and their real PSNR."""
    numbers, times, target_number = PROTOCOLS[("septuplet", n)]
    anchors = [frames[i - 1] for i in numbers]
    tensors = torch.from_numpy(np.stack(anchors)).permute(0, 3, 1, 2).float()[None] / 255
    rgb, aux = interpolator.run_tensors(
        tensors, torch.tensor([times], dtype=torch.float64), torch.tensor([TARGET_TIME], dtype=torch.float64)
    )
    image, confidence = tensor_to_image(rgb[0]), aux["confidence"][0, 0].numpy()
    fallback = choose_fallback(anchors, list(times), TARGET_TIME, image, confidence)
    truth = frames[target_number - 1]
    return {
        "hold": fallback.distances["hold"],
        "blend": fallback.distances["blend"],
        "hold_psnr": psnr(anchors[fallback.held], truth),
        "blend_psnr": psnr(rounded(anchor_blend([frames[2], frames[4]], [0.0, 1.0], 0.5)), truth),
        "network_psnr": psnr(image, truth),
    }


def collect(interpolator: Interpolator, windows: list[Window]) -> list[dict[str, float]]:
    """Records for every window and N (see :func:`measure`)."""
    return [measure(interpolator, frames, n) for _, frames in windows for n in (2, 4)]


def chosen_psnr(records: list[dict[str, float]], margin: float) -> np.ndarray:
    """Real PSNR of the fallback :func:`prefers_hold` picks at ``margin``, per record."""
    return np.array([r["hold_psnr"] if prefers_hold(r, margin) else r["blend_psnr"] for r in records])


def summary(label: str, records: list[dict[str, float]], margin: float) -> str:
    hold = np.array([r["hold_psnr"] for r in records])
    blend = np.array([r["blend_psnr"] for r in records])
    picked = np.array([prefers_hold(r, margin) for r in records])
    return (
        f"| {label} ({len(records)}) | {np.mean(picked):.0%} | {np.mean(picked == (hold > blend)):.0%} "
        f"| {chosen_psnr(records, margin).mean():.2f} | {blend.mean():.2f} | {hold.mean():.2f} "
        f"| {np.maximum(hold, blend).mean():.2f} | {np.mean([r['network_psnr'] for r in records]):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", default="../shared/data/train", help="training videos and frames")
    parser.add_argument("--val", default="../shared/data/val/septuplets", help="validation septuplets")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--per_video", type=int, default=2, help="natural windows per source and stride")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    interpolator = Interpolator.from_checkpoint(args.checkpoint, device="cpu")
    records = {}
    for split, windows in (
        ("train", list(training_windows(Path(args.data_root), args.per_video, [1, 2, 3], 448))),
        ("val", list(validation_windows(Path(args.val)))),
    ):
        records[f"{split} natural"] = collect(interpolator, windows)
        records[f"{split} cut"] = collect(interpolator, list(cut_windows(first_per_source(iter(windows)))))
        print(f"{split}: {len(windows)} windows measured", flush=True)
    for margin in MARGINS:
        means = [chosen_psnr(records[f"train {kind}"], margin).mean() for kind in ("natural", "cut")]
        print(f"margin {margin:.1f}: training natural {means[0]:.3f} dB, cut {means[1]:.3f} dB")
    best = max(
        MARGINS, key=lambda m: np.mean([chosen_psnr(records[f"train {k}"], m).mean() for k in ("natural", "cut")])
    )
    print(f"\nchosen margin {best:.1f} (training windows)\n")
    columns = ["hold picked", "right", "PSNR picked", "always blend", "always hold", "best of both", "network"]
    print("| windows (targets, N=2 and N=4) | " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rows in records.items():
        print(summary(label, rows, best))


if __name__ == "__main__":
    main()
