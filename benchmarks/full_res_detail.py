"""Does full-resolution detail reach the output? A measurement, not an argument.

TEMPO's features start at 1/4 resolution. Its last step samples the *input pixels* at full
resolution (tempo_core/network/synthesis.py). This script measures, on a septuplet set (N=2 protocol):

* ``tempo``: PSNR of the model's output;
* ``tempo_quarter``: the same output reduced to 1/4 resolution (area) and brought back (bicubic),
  i.e. what a network that paints at its feature resolution could show at best of *our* frame;
* ``target_quarter``: the ground truth itself through the same 1/4 round trip, the ceiling of any
  prediction made at 1/4 resolution, however perfect.

If ``tempo`` beats ``target_quarter``, the output carries detail no 1/4-resolution synthesis could.

    python benchmarks/full_res_detail.py --data ../shared/data/val/septuplets [--checkpoint FILE]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
from PIL import Image

from tempo_core.evaluation.evaluate import discover_samples, read_rgb
from tempo_core.evaluation.metrics import psnr
from tempo_core.inference import Interpolator


def quarter_round_trip(image: np.ndarray) -> np.ndarray:
    """uint8 ``[H, W, 3]`` -> 1/4 size (box filter) -> back to ``H x W`` (bicubic)."""
    height, width = image.shape[:2]
    small = Image.fromarray(image).resize((max(1, width // 4), max(1, height // 4)), Image.BOX)
    return np.asarray(small.resize((width, height), Image.BICUBIC))


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print the mean PSNRs; return them by name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="septuplet folder")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)

    interpolator = Interpolator.from_checkpoint(args.checkpoint, device="cpu")
    scores: dict[str, list[float]] = {"tempo": [], "tempo_quarter": [], "target_quarter": []}
    for sample in discover_samples(args.data, "septuplet", 2, args.limit):
        frames = [read_rgb(path) for path in sample.inputs]
        target = read_rgb(sample.target)
        output = interpolator.interpolate(frames, list(sample.times), sample.target_time).image
        scores["tempo"].append(psnr(output, target))
        scores["tempo_quarter"].append(psnr(quarter_round_trip(output), target))
        scores["target_quarter"].append(psnr(quarter_round_trip(target), target))
    print(f"{len(scores['tempo'])} targets from {args.data} (N=2), mean PSNR in dB:")
    means = {name: float(np.mean(values)) for name, values in scores.items()}
    for name, mean in means.items():
        print(f"  {name:<15} {mean:6.2f}")
    return means


if __name__ == "__main__":
    main()
