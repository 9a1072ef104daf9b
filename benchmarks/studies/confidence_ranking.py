"""Does a frame-level confidence score rank the targets by their real PSNR? Chosen on training data.

For every target the model synthesizes im4 of a septuplet (the ``tempo eval`` protocols: N=2 from
im3, im5 at t = 0, 1; N=4 from im1, im3, im5, im7 at t = -1, 0, 1, 2; target t = 0.5) and the
script records its PSNR against the truth, its confidence map and, as references that need no
network, the frame difference of the two anchors around the target (their PSNR against each
other: small motion, high value) and a constant. Each candidate score is then correlated with the
real PSNR over the targets (Spearman; a constant ranks nothing: 0). Candidates: the mean
confidence, low percentiles of the map, and the share of pixels at or above a threshold.

* ``train``: windows cut from ``--data_root`` (the 14 training videos decoded with the longest side
  480 like ``tempo train``, and the street_fair frames): ``--per_video`` evenly spaced 7-frame
  windows per source and stride, resized to 448 wide (``motion_prior_study.video_windows``). The
  candidate with the best mean Spearman over N=2 and N=4 here is the one chosen.
* ``val``: ``--val`` (``../shared/data/val/septuplets``), only reported.

Also reported: the PSNR of the blend of the two anchors against the truth (a reference that needs
the truth, so no score can use it), the same correlations within each clip (the order an editor
meets on one timeline), the real PSNR of the training targets by band of the chosen score, and how
well each map ranks its own pixels' errors (``metrics.confidence_quality``: Spearman of
``1 - confidence`` with the per-pixel error, AUSE beside an uninformative map's; mean over targets).

    python benchmarks/studies/confidence_ranking.py --data_root ../shared/data/train \
        --val ../shared/data/val/septuplets [--checkpoint FILE] [--records runs/conf_rank.pt]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from motion_prior_study import video_windows

from tempo_core.evaluation.evaluate import PROTOCOLS, TARGET_TIME, discover_samples, read_rgb
from tempo_core.evaluation.metrics import confidence_quality, psnr, spearman
from tempo_core.frame_score import share_at_least
from tempo_core.inference import Interpolator, tensor_to_image
from tempo_core.training.clips import decode_video, find_clip_sources, list_images, read_image
from tempo_core.video.safety_net import anchor_blend, rounded

MAX_SIDE = 480  # the decode size of the shipped model's training (MODEL_CARD.md)
THRESHOLDS = [round(0.05 * k, 2) for k in range(1, 20)]
PERCENTILES = [1, 2, 5, 10, 20, 30, 50]
Window = tuple[str, np.ndarray]  # name, uint8 [7, H, W, 3]


def training_windows(root: Path, per_video: int, strides: list[int], width: int) -> Iterator[Window]:
    """7-frame windows ``[7, H, W, 3]`` uint8 of every training source (see the module doc)."""
    for source in find_clip_sources(root):
        if source.is_dir():
            video = np.stack([read_image(path, MAX_SIDE) for path in list_images(source)])
        else:
            video = decode_video(source, MAX_SIDE)[0]
        for stride in strides:
            for index, window in enumerate(video_windows(video, per_video, stride, width)):
                frames = (window.permute(0, 2, 3, 1) * 255).round().byte().numpy()
                yield f"{source.stem}/s{stride}/{index}", frames


def validation_windows(root: Path) -> Iterator[Window]:
    """The validation septuplets as ``[7, H, W, 3]`` uint8 (found as ``tempo eval`` finds them)."""
    for sample in discover_samples(root, "septuplet", 2):
        folder = sample.target.parent
        yield sample.name, np.stack([read_rgb(folder / f"im{i}.png") for i in range(1, 8)])


def measure(interpolator: Interpolator, frames: np.ndarray, n: int) -> dict[str, object]:
    """Synthesize im4 of one septuplet ``[7, H, W, 3]`` with N anchors; PSNR, map and references."""
    numbers, times, target_number = PROTOCOLS[("septuplet", n)]
    anchors = [frames[i - 1] for i in numbers]
    truth = frames[target_number - 1]
    tensors = torch.from_numpy(np.stack(anchors)).permute(0, 3, 1, 2).contiguous().float()[None] / 255
    rgb, aux = interpolator.run_tensors(
        tensors, torch.tensor([times], dtype=torch.float64), torch.tensor([TARGET_TIME], dtype=torch.float64)
    )
    image = tensor_to_image(rgb[0])
    confidence = aux["confidence"][0, 0].numpy()
    early, late = frames[2], frames[4]  # im3, im5: the pair around the target in both protocols
    quality = confidence_quality(image, truth, confidence)
    return {
        "psnr": psnr(image, truth),
        "pixel_spearman": quality["spearman"],
        "pixel_ause": quality["ause"],
        "pixel_ause_random": quality["ause_random"],
        "confidence": confidence.astype(np.float16),
        "anchor_psnr": psnr(early, late),
        "blend_psnr": psnr(rounded(anchor_blend([early, late], [0.0, 1.0], 0.5)), truth),
    }


def collect(interpolator: Interpolator, windows: Iterator[Window]) -> dict[int, list[dict[str, object]]]:
    """Records per N for every window (see :func:`measure`)."""
    records: dict[int, list[dict[str, object]]] = {2: [], 4: []}
    for name, frames in windows:
        for n in records:
            records[n].append({"name": name, **measure(interpolator, frames, n)})
        print(f"  {name}: PSNR N=2 {records[2][-1]['psnr']:.2f}", flush=True)
    return records


def candidates() -> dict[str, Callable[[np.ndarray], float]]:
    """Candidate frame scores of a confidence map ``[H, W]`` (higher = more trusted)."""
    scores: dict[str, Callable[[np.ndarray], float]] = {"mean": lambda c: float(c.astype(np.float64).mean())}
    for q in PERCENTILES:
        scores[f"percentile {q}"] = lambda c, q=q: float(np.percentile(c.astype(np.float32), q))
    for threshold in THRESHOLDS:
        scores[f"share >= {threshold:.2f}"] = lambda c, t=threshold: float(share_at_least(c, t))
    return scores


def rank(records: list[dict[str, object]], values: list[float]) -> float:
    """Spearman of ``values`` with the real PSNR over the records (0 when ``values`` is constant)."""
    rho = spearman(np.asarray(values), np.asarray([r["psnr"] for r in records]))
    return 0.0 if np.isnan(rho) else rho


def within_clips(records: list[dict[str, object]], values: list[float]) -> float:
    """Mean over clips (the name before the first "/") of the Spearman within each clip."""
    clips: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        clips.setdefault(str(record["name"]).split("/")[0], []).append(index)
    return float(np.mean([rank([records[i] for i in group], [values[i] for i in group]) for group in clips.values()]))


def table(data: dict[str, dict[int, list[dict[str, object]]]], chosen: str, per_clip: bool = False) -> list[str]:
    """Markdown rows: the chosen score, the mean, the anchor-difference proxy, the constant (and the
    blend's PSNR against the truth). ``per_clip``: the mean Spearman within each clip instead."""
    score = candidates()
    rows = {
        f"score ({chosen})": lambda r: score[chosen](r["confidence"]),
        "mean confidence": lambda r: score["mean"](r["confidence"]),
        "anchor difference (PSNR of im3 vs im5)": lambda r: r["anchor_psnr"],
        "constant": lambda r: 0.0,
        "blend PSNR vs truth (needs the truth)": lambda r: r["blend_psnr"],
    }
    correlate = within_clips if per_clip else rank
    columns = [(split, n) for split in data for n in (2, 4)]
    lines = ["| frame score | " + " | ".join(f"{s} N={n} ({len(data[s][n])})" for s, n in columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for label, value in rows.items():
        cells = [f"{correlate(data[s][n], [value(r) for r in data[s][n]]):+.3f}" for s, n in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def pixel_lines(data: dict[str, dict[int, list[dict[str, object]]]]) -> list[str]:
    """Markdown rows: per-pixel Spearman and AUSE of the maps (mean over targets), per split and N."""
    lines = ["| split | N | targets | pixel Spearman | AUSE | AUSE of an uninformative map |", "|---" * 6 + "|"]
    for split, by_n in data.items():
        for n, records in by_n.items():
            if records and "pixel_spearman" in records[0]:
                values = [
                    np.nanmean([r[key] for r in records])
                    for key in ("pixel_spearman", "pixel_ause", "pixel_ause_random")
                ]
                lines.append(
                    f"| {split} | {n} | {len(records)} | {values[0]:+.3f} | {values[1]:.3f} | {values[2]:.3f} |"
                )
    return lines


def band_lines(records: list[dict[str, object]], chosen: str, edges: list[float]) -> list[str]:
    """Median and lowest real PSNR of the targets in each band of the chosen score (what a score means)."""
    score = candidates()[chosen]
    values = np.array([score(r["confidence"]) for r in records])
    psnrs = np.array([r["psnr"] for r in records])
    lines = []
    for low, high in zip([0.0, *edges], [*edges, 1.01], strict=True):
        inside = psnrs[(values >= low) & (values < high)]
        if inside.size:
            lines.append(
                f"score {low:.2f}-{min(high, 1.0):.2f}: {inside.size:3d} targets, PSNR median {np.median(inside):.2f}, "
                f"lowest {inside.min():.2f}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", default="../shared/data/train", help="training videos and frames")
    parser.add_argument("--val", default="../shared/data/val/septuplets", help="validation septuplets")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--per_video", type=int, default=3, help="windows per source and stride")
    parser.add_argument("--strides", default="1,2,3", help="frame strides of the training windows")
    parser.add_argument("--width", type=int, default=448, help="training windows resized to this width")
    parser.add_argument("--records", help="cache of the measured records (.pt): reused if it exists")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache = Path(args.records) if args.records else None
    if cache is not None and cache.exists():
        data = torch.load(cache, weights_only=False)
    else:
        interpolator = Interpolator.from_checkpoint(args.checkpoint, device="cpu")
        strides = [int(s) for s in args.strides.split(",")]
        windows = training_windows(Path(args.data_root), args.per_video, strides, args.width)
        data = {"train": collect(interpolator, windows), "val": collect(interpolator, validation_windows(args.val))}
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save(data, cache)
    score = candidates()
    train = {
        name: np.mean([rank(data["train"][n], [f(r["confidence"]) for r in data["train"][n]]) for n in (2, 4)])
        for name, f in score.items()
    }
    for name, value in sorted(train.items(), key=lambda item: -item[1]):
        print(f"train mean Spearman {value:+.3f}  {name}")
    chosen = max(train, key=train.get)
    print(f"\nchosen on training windows: {chosen}\n")
    print("\n".join(table(data, chosen)))
    print("\nwithin each clip (training source or validation clip), mean over clips:")
    print("\n".join(table(data, chosen, per_clip=True)))
    print("\nper-pixel ranking of the error by each map (mean over targets):")
    print("\n".join(pixel_lines(data)))
    for n in (2, 4):
        print(f"\ntraining windows, N={n}, by score band:")
        print("\n".join(band_lines(data["train"][n], chosen, [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98])))


if __name__ == "__main__":
    main()
