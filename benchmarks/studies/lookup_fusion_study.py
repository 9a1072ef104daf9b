"""Can a small learned fusion of the full-size look-ups beat the shipped blend? Training data only.

The shipped network blends its per-observation look-ups with weights computed at 1/4 resolution
from features; it never sees the look-ups themselves, so it cannot tell where they disagree (an
occlusion, a wrong motion). This study freezes the shipped model, caches its look-ups
(``PixelSynthesisHead.look_ups``), blend weights and residual on random training crops, and trains
a small fusion network on top: per observation it sees the look-up, its difference from the
blend, its log weight and its time offset, exchanges information across observations (mean over
N, so any N works) at 1/2 resolution, and outputs a weight-logit correction and a colour
correction (zero at the start, so it starts as the shipped model).

Held out by video: every fourth training source (sorted by name) gives the test windows
(septuplets at strides 1-3, two per video and stride, 448 wide, like the validation protocol);
the others give the training crops. Validation data is never read. Prints the held-out PSNR of
the shipped model and of shipped + fusion, for N=2 (frames 2, 4 of 7) and N=4 (0, 2, 4, 6) after
every epoch.

    python benchmarks/studies/lookup_fusion_study.py --cache runs/cache --crops 1000 --epochs 2
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from motion_prior_study import _resized, to_uint8, video_windows
from torch import nn

from tempo_core.checkpoint import load_model
from tempo_core.evaluation.metrics import psnr

ANCHORS = {2: [2, 4], 4: [0, 2, 4, 6]}  # indices into a 7-frame window; the target is frame 3


class LookUpFusion(nn.Module):
    """Look-ups ``[B, N, 3, H, W]`` + weights ``[B, N, H, W]`` + residual -> rgb ``[B, 3, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        self.full = nn.Sequential(nn.Conv2d(12, c, 3, padding=1), nn.GELU())
        self.down = nn.Sequential(nn.Conv2d(c, c, 3, stride=2, padding=1), nn.GELU())
        self.mix1 = nn.Sequential(
            nn.Conv2d(2 * c, c, 3, padding=1), nn.GELU(), nn.Conv2d(c, c, 3, padding=1), nn.GELU()
        )
        self.mix2 = nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.GELU())
        self.out = nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.GELU(), nn.Conv2d(c, 4, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    @staticmethod
    def _with_mean(features: torch.Tensor, n: int) -> torch.Tensor:
        """``[B*N, c, h, w]`` -> ``[B*N, 2c, h, w]``: each observation beside the mean over N."""
        per_item = features.view(-1, n, *features.shape[1:])
        mean = per_item.mean(dim=1, keepdim=True).expand_as(per_item)
        return torch.cat([per_item, mean], dim=2).flatten(0, 1)

    def forward(
        self, looked: torch.Tensor, weights: torch.Tensor, residual: torch.Tensor, dt: torch.Tensor
    ) -> torch.Tensor:
        B, N, _, H, W = looked.shape
        blend = (looked * weights[:, :, None]).sum(dim=1)
        log_weights = weights.clamp_min(1e-6).log()
        time_offset = dt[:, :, None, None, None].expand(B, N, 1, H, W)
        inputs = torch.cat(
            [
                looked,
                looked - blend[:, None],
                log_weights[:, :, None],
                time_offset.abs(),
                time_offset.sign(),
                blend[:, None].expand(B, N, 3, H, W),
            ],
            dim=2,
        ).flatten(0, 1)
        full = self.full(inputs)
        half = self.mix2(self._with_mean(self.mix1(self._with_mean(self.down(full), N)), N))
        half = F.interpolate(half, size=(H, W), mode="bilinear", align_corners=False)
        out = self.out(torch.cat([full, half], dim=1)).view(B, N, 4, H, W)
        new_weights = (log_weights + out[:, :, 0]).softmax(dim=1)
        colour = (out[:, :, 1:] * new_weights[:, :, None]).sum(dim=1)
        return ((looked * new_weights[:, :, None]).sum(dim=1) + residual + colour).clamp(0, 1)


class ShippedParts:
    """Runs the frozen model on a 7-frame window and keeps what the fusion needs (fp16)."""

    def __init__(self, checkpoint: str | None) -> None:
        self.model = load_model(checkpoint).float().eval()
        self.inputs: tuple = ()
        self.model.synthesis.register_forward_hook(self._keep_inputs)

    def _keep_inputs(self, module: nn.Module, inputs: tuple, output: object) -> None:
        self.inputs = inputs

    @torch.no_grad()
    def __call__(self, window: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
        times = torch.tensor([ANCHORS[n]], dtype=torch.float32)
        rgb, _ = self.model(window[ANCHORS[n]][None], times, torch.tensor([3.0]))
        looked, weights = self.model.synthesis.look_ups(*self.inputs)
        residual = self.model.synthesis.residual(self.inputs[1])[:, :3]
        return {
            "looked": looked[0].half(),
            "weights": weights[0].half(),
            "residual": residual[0].half(),
            "dt": (times[0] - 3) / 2,
            "rgb": rgb[0].half(),
            "target": window[3].half(),
        }


def training_crop(videos: dict[str, np.ndarray], names: list[str], crop: int, width: int) -> torch.Tensor:
    """A random ``[7, 3, crop, crop]`` window (stride 1, 1 or 2), flipped in x and time at random."""
    video = videos[random.choice(names)]
    stride = random.choice([1, 1, 2])
    start = random.randrange(0, len(video) - 6 * stride)
    window = _resized(video[start : start + 6 * stride + 1 : stride], width)
    top = random.randrange(0, window.shape[2] - crop + 1)
    left = random.randrange(0, window.shape[3] - crop + 1)
    window = window[:, :, top : top + crop, left : left + crop]
    if random.random() < 0.5:
        window = window.flip(-1)
    if random.random() < 0.5:
        window = window.flip(0)
    return window


def test_windows(videos: dict[str, np.ndarray], names: list[str]) -> list[torch.Tensor]:
    """Two septuplets per held-out video and stride 1-3, 448 wide."""
    return [window for stride in (1, 2, 3) for name in names for window in video_windows(videos[name], 2, stride, 448)]


def stacked(items: list[dict[str, torch.Tensor]]) -> list[torch.Tensor]:
    keys = ("looked", "weights", "residual", "dt", "target")
    return [torch.stack([item[key].float() for item in items]) for key in keys]


@torch.no_grad()
def held_out_psnr(fusion: LookUpFusion, test: list[dict[str, torch.Tensor]]) -> str:
    scores: dict[int, list[tuple[float, float]]] = {2: [], 4: []}
    for item in test:
        looked, weights, residual, dt, target = stacked([item])
        fused = fusion(looked, weights, residual, dt)[0]
        truth = to_uint8(target)
        shipped_rgb = to_uint8(item["rgb"][None].float())
        scores[len(dt[0])].append((psnr(shipped_rgb, truth), psnr(to_uint8(fused[None]), truth)))
    return "  ".join(
        f"N={n}: shipped {np.mean([s[0] for s in pairs]):.3f} fused {np.mean([s[1] for s in pairs]):.3f}"
        for n, pairs in scores.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="the decoded-frame cache of a training run")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--crops", type=int, default=1000, help="training windows (each at N=2 and N=4)")
    parser.add_argument("--crop", type=int, default=192)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(0)
    torch.manual_seed(0)

    sources = sorted(args.cache.glob("*.source"))
    videos = {path.name.rsplit("-", 1)[0]: np.load(path.with_suffix(".npy"), mmap_mode="r") for path in sources}
    names = sorted(videos)
    held_out = names[1::4]
    print(f"held out: {', '.join(held_out)}", flush=True)
    shipped = ShippedParts(args.checkpoint)
    started = time.time()
    train_names = [name for name in names if name not in held_out]
    groups: dict[int, list[dict[str, torch.Tensor]]] = {2: [], 4: []}
    for _ in range(args.crops):
        window = training_crop(videos, train_names, args.crop, 448)
        for n in (2, 4):
            groups[n].append(shipped(window, n))
    test = [shipped(window, n) for window in test_windows(videos, held_out) for n in (2, 4)]
    print(f"cached {args.crops} crops and {len(test)} test items in {time.time() - started:.0f} s", flush=True)

    fusion = LookUpFusion(args.channels)
    optimizer = torch.optim.AdamW(fusion.parameters(), lr=args.lr)
    print(f"fusion parameters: {sum(p.numel() for p in fusion.parameters())}")
    print(f"epoch 0: {held_out_psnr(fusion, test)}", flush=True)
    for epoch in range(1, args.epochs + 1):
        batches = [(n, i) for n in (2, 4) for i in range(0, len(groups[n]), args.batch_size)]
        random.shuffle(batches)
        for n, i in batches:
            looked, weights, residual, dt, target = stacked(groups[n][i : i + args.batch_size])
            loss = torch.sqrt((fusion(looked, weights, residual, dt) - target) ** 2 + 1e-6).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: {held_out_psnr(fusion, test)}", flush=True)


if __name__ == "__main__":
    main()
