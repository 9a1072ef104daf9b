"""Slow motion from one motion search: the prior re-timed from the gap's middle against searched
per target. Training data only.

For each septuplet of ``motion_prior_study.py`` (cut from the decoded training videos), frames 0
and 4 are the anchors (N=2) and frames 1, 2, 3 the targets (t = 0.25, 0.5, 0.75 of the gap).
``searched``: the network as usual (the prior searched at every target time); ``re-timed``: the
prior searched once at t = 0.5 (:meth:`TempoNet.anchor_motion`) and re-timed to each target
(:func:`tempo_core.network.model.retime`). Prints the mean PSNR per target time.

    python benchmarks/studies/retime_study.py --cache runs/cache [--per_video 1] [--strides 1,2] [--threads 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from motion_prior_study import septuplets, to_uint8

from tempo_core.checkpoint import load_model
from tempo_core.evaluation.metrics import psnr

ANCHORS, TARGETS = [0, 4], [1, 2, 3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="the decoded-frame cache of a training run")
    parser.add_argument("--per_video", type=int, default=1)
    parser.add_argument("--strides", default="1,2")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(None).float().eval()
    data = septuplets(Path(args.cache), args.per_video, [int(s) for s in args.strides.split(",")], 448)
    scores: dict[str, list[float]] = {}
    with torch.no_grad():
        for window in data:
            frames = window[ANCHORS][None]
            encoded = model.encode(frames, torch.tensor([ANCHORS], dtype=torch.float64))
            motion = model.anchor_motion(encoded, torch.tensor([2.0]))
            for target in TARGETS:
                time = torch.tensor([float(target)])
                truth = to_uint8(window[target][None])
                searched, _ = model.synthesize(encoded, time)
                retimed, _ = model.synthesize(encoded, time, motion=motion)
                scores.setdefault(f"searched t={target / 4:.2f}", []).append(psnr(to_uint8(searched), truth))
                scores.setdefault(f"re-timed t={target / 4:.2f}", []).append(psnr(to_uint8(retimed), truth))
    print(f"{len(data)} septuplets from {args.cache} (strides {args.strides}), anchors 0 and 4")
    for name, values in sorted(scores.items(), key=lambda item: item[0][-4:]):
        print(f"{np.mean(values):7.3f}  {name}")


if __name__ == "__main__":
    main()
