"""Everything a short GPU loan should measure, in one run and one table (issue 18, item 5).

1. the CUDA tests (``tests/core/test_cuda.py``: compiled against eager, reduced precisions);
2. ``tempo bench`` figures, eager against the compiled path (one graph per frame size), at
   480p / 720p / 1080p, N = 2 and 4, fp32 / bf16 / fp16: ms per frame (median) and the first
   frame's cost (compilation);
3. ``tempo train`` for ``--train_seconds`` on synthetic frames (preset xs, batch 16, crop 256):
   steps per second.

Goals on an H100 / H200: 1080p N=2 at most 33 ms per frame, and at least 8 training steps/s.
The compiled rows compile once per (size, N, precision), tens of seconds each, so they are
measured in order of importance and left out (said in the table) once ``--budget`` runs out.
With ``--device cpu`` everything is shrunk to run in about a minute (it tests this script).

    python benchmarks/gpu_check.py [--device cuda|cpu] [--budget 420]
    bash benchmarks/gpu_check.sh [--device cpu]     # installs what is missing first
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tempo_core.evaluation.bench import NAMED_SIZES, bench_config
from tempo_core.inference import Interpolator

ROOT = Path(__file__).resolve().parent.parent
PLANS = {
    "cuda": {
        "sizes": ["480p", "720p", "1080p"],
        "n": [2, 4],
        "precisions": ["fp32", "bf16", "fp16"],
        "compiled": [("1080p", 2, "fp32"), ("1080p", 2, "bf16"), ("720p", 2, "fp32"), ("480p", 2, "fp32"),
                     ("1080p", 4, "fp32"), ("1080p", 2, "fp16")],
        "repeats": 5,
        "train": ["--preset", "xs", "--batch_size", "16", "--crop", "256", "--num_workers", "4"],
        "train_seconds": 60,
        "frame_side": 512,
    },
    "cpu": {
        "sizes": ["96x64"],
        "n": [2],
        "precisions": ["fp32", "bf16"],
        "compiled": [],
        "repeats": 1,
        "train": ["--preset", "tiny", "--batch_size", "2", "--crop", "64", "--num_workers", "0"],
        "train_seconds": 8,
        "frame_side": 96,
    },
}  # fmt: skip


def run_tests(device: str) -> str:
    """``pytest`` on the CUDA tests (skipped without a GPU): its summary line."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "tests/core/test_cuda.py"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    summaries = re.findall(r"^=* ?(\d+ (?:passed|failed|skipped|error).*?) ?=*$", result.stdout, re.MULTILINE)
    return summaries[-1] if summaries else f"pytest exited {result.returncode}"


def bench_rows(device: str, plan: dict, deadline: float) -> list[tuple[str, int, str, str, str, str]]:
    """(size, N, precision, engine, ms per frame, first frame ms) for every planned configuration."""
    rows = []
    for precision in plan["precisions"]:
        interpolator = Interpolator.from_checkpoint(None, device=device, precision=precision, compiled=False)
        for size in plan["sizes"]:
            width, height = NAMED_SIZES.get(size) or map(int, size.split("x"))
            for n in plan["n"]:
                row = bench_config(interpolator, size, width, height, n, plan["repeats"], 1, slowmo=False)
                rows.append((size, n, precision, "eager", f"{row['ms_per_frame']:.1f}", f"{row['first_frame_ms']:.0f}"))
    for size, n, precision in plan["compiled"]:
        if time.monotonic() > deadline:
            rows.append((size, n, precision, "compiled", "not run (budget)", "-"))
            continue
        interpolator = Interpolator.from_checkpoint(None, device=device, precision=precision, compiled=True)
        width, height = NAMED_SIZES[size]
        row = bench_config(interpolator, size, width, height, n, plan["repeats"], 1, slowmo=False)
        engine = "compiled" if not interpolator.compiled.failed else "compiled (failed: eager)"
        rows.append((size, n, precision, engine, f"{row['ms_per_frame']:.1f}", f"{row['first_frame_ms']:.0f}"))
    return rows


def synthetic_frames(root: Path, side: int, clips: int = 2, count: int = 24) -> Path:
    """``clips`` folders of ``count`` PNG frames of a smooth texture moving 3 pixels a frame."""
    generator = np.random.default_rng(0)
    for clip in range(clips):
        folder = root / f"clip{clip}"
        folder.mkdir(parents=True)
        coarse = torch.from_numpy(generator.random((1, 3, side // 8 + 4, side // 8 + 4 + count), dtype=np.float32))
        texture = torch.nn.functional.interpolate(coarse, scale_factor=8, mode="bicubic").clamp(0, 1)[0]
        for index in range(count):
            crop = texture[:, :side, 3 * index : 3 * index + side]
            image = (crop * 255).round().byte().permute(1, 2, 0).numpy()
            Image.fromarray(np.ascontiguousarray(image)).save(folder / f"{index:04d}.png")
    return root


def train_rate(device: str, plan: dict) -> str:
    """Steps per second of ``tempo train`` (the last logged rate) on synthetic frames."""
    with tempfile.TemporaryDirectory() as folder:
        data = synthetic_frames(Path(folder) / "frames", plan["frame_side"])
        command = [
            sys.executable, "-m", "tempo_core", "train", "--data_root", str(data), "--device", device,
            "--runs_dir", str(Path(folder) / "runs"), "--time_budget", str(plan["train_seconds"]),
            "--log_every", "5", *plan["train"],
        ]  # fmt: skip
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    rates = re.findall(r"([0-9.]+) it/s", result.stdout)
    if result.returncode != 0 or not rates:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"failed: {tail[0][:100]}"
    return f"{float(rates[-1]):.2f} steps/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the whole check")
    args = parser.parse_args()
    started = time.monotonic()
    plan = PLANS[args.device]
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    tests = run_tests(args.device)
    train = train_rate(args.device, plan)
    rows = bench_rows(args.device, plan, started + args.budget)
    print(f"gpu_check on {device_name}, torch {torch.__version__}, {time.monotonic() - started:.0f} s")
    print(f"tests (tests/core/test_cuda.py): {tests}")
    print(f"train ({' '.join(plan['train'])}, {plan['train_seconds']} s): {train}")
    print(f"{'size':<8}{'N':>3}  {'precision':<10}{'engine':<26}{'ms/frame':>18}{'1st ms':>9}")
    for size, n, precision, engine, ms, first in rows:
        print(f"{size:<8}{n:>3}  {precision:<10}{engine:<26}{ms:>18}{first:>9}")


if __name__ == "__main__":
    main()
