"""Whether a change to the network keeps its outputs: synthesized frames against saved ones.

Real frames from three training videos (``--videos``, default ``../shared/data/train/videos``;
``--clips`` names them), resized to ``--size`` (default 448x256),
N=2 (t = 0, 1, target 0.5) and N=4 (t = -1, 0, 1, 2, target 0.5 and 0.25), through
``Interpolator.interpolate`` with the bundled model on the CPU. ``--save`` writes the references;
without it the script compares and prints the largest absolute difference of the float RGB
(``Synthesis.rgb``, [0, 1]) and of the confidence, and exits 1 above ``--tolerance``.

    python benchmarks/output_identity.py --save [--out FILE]   # before the change
    python benchmarks/output_identity.py [--out FILE]          # after it (same --videos, --clips, --size)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from tempo_core.inference import Interpolator

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train" / "videos"
CLIPS = ("apple.mp4", "backpack.mp4", "animated_landscape.mp4")


def clip_frames(path: Path, count: int = 7, stride: int = 2, size: tuple[int, int] = (256, 448)) -> list[np.ndarray]:
    """The first ``count`` frames ``stride`` apart of a video, each uint8 ``[H, W, 3]`` resized to ``size``."""
    frames = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % stride == 0:
                rgb = torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)[None].float()
                resized = F.interpolate(rgb, size=size, mode="area")[0].round().clamp(0, 255)
                frames.append(resized.permute(1, 2, 0).to(torch.uint8).numpy())
            if len(frames) == count:
                break
    return frames


def outputs(
    interpolator: Interpolator, videos: Path, clips: Sequence[str], size: tuple[int, int]
) -> dict[str, np.ndarray]:
    """RGB and confidence of every case, by name; ``size`` is (H, W)."""
    results = {}
    for clip in clips:
        frames = clip_frames(videos / clip, size=size)
        cases = {
            "n2": (frames[2:5:2], [0.0, 1.0], 0.5),
            "n4_half": (frames[0:7:2], [-1.0, 0.0, 1.0, 2.0], 0.5),
            "n4_quarter": (frames[0:7:2], [-1.0, 0.0, 1.0, 2.0], 0.25),
        }
        for name, (anchors, times, target) in cases.items():
            synthesis = interpolator.interpolate(anchors, times, target)
            results[f"{clip}_{name}_rgb"] = synthesis.rgb
            results[f"{clip}_{name}_confidence"] = synthesis.confidence
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Save (``--save``) or compare; 0 when saved or within the tolerance, 1 above it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write the references instead of comparing")
    parser.add_argument("--out", default="/tmp/tempo_output_identity.npz", help="reference file")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest absolute difference allowed")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of the clips")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), help="file names in --videos, 13 frames or longer")
    parser.add_argument("--size", default="448x256", help="WxH the frames are resized to")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    torch.manual_seed(0)
    current = outputs(Interpolator.from_checkpoint(None, device="cpu"), args.videos, args.clips, (height, width))
    if args.save:
        np.savez(args.out, **current)
        print(f"saved {len(current)} outputs to {args.out}")
        return 0
    reference = np.load(args.out)
    worst = 0.0
    for name, values in current.items():
        difference = float(np.abs(values - reference[name]).max())
        worst = max(worst, difference)
        print(f"{difference:.3g}  {name}")
    print(f"largest difference {worst:.3g} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
