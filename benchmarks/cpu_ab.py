"""Same-session CPU A/B of one interpolation: this checkout against another, turn by turn.

A shared machine's speed drifts by tens of percent within minutes, so two separate runs of
``tempo bench`` compare the machine more than the code. This script starts one worker process per
checkout (``--before`` is the root of another checkout, e.g. a ``git worktree`` of an older
commit; both use this interpreter) and asks them in turn - before, after, before - for one
interpolation each: ``Interpolator.interpolate`` on two uint8 frames at ``--size`` (N=2, target
halfway, the bundled model of each checkout), timed inside the worker as process CPU time and
wall time. Each "after" is divided by the mean of the "before" runs around it; the median of those
ratios is the figure to quote. One thread by default (``--threads``), so CPU time is the work done.

    git worktree add /tmp/before 3eac9fc
    python benchmarks/cpu_ab.py --before /tmp/before --pairs 8 [--size 1280x720] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

WORKER = """
import sys, time
import numpy as np, torch
from tempo_core.inference import Interpolator
torch.set_num_threads(int(sys.argv[1]))
width, height = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
coarse = rng.integers(0, 256, size=(2, height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
frames = [np.ascontiguousarray(np.repeat(np.repeat(c, 16, 0), 16, 1)[:height, :width]) for c in coarse]
interpolator = Interpolator.from_checkpoint(None, device="cpu")
interpolator.interpolate(frames, [0.0, 1.0], 0.5)
print("ready", flush=True)
for _ in sys.stdin:
    cpu, wall = time.process_time(), time.perf_counter()
    interpolator.interpolate(frames, [0.0, 1.0], 0.5)
    print(f"{1000 * (time.process_time() - cpu):.1f} {1000 * (time.perf_counter() - wall):.1f}", flush=True)
"""


def start(root: Path, threads: int, width: int, height: int) -> subprocess.Popen:
    """A worker interpolating with the checkout at ``root``, ready for requests."""
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS=str(threads))
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(threads), str(width), str(height)],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if worker.stdout.readline().strip() != "ready":
        raise SystemExit(f"the worker for {root} did not start")
    return worker


def once(worker: subprocess.Popen) -> tuple[float, float]:
    """One interpolation: (CPU ms, wall ms)."""
    worker.stdin.write("go\n")
    worker.stdin.flush()
    cpu, wall = worker.stdout.readline().split()
    return float(cpu), float(wall)


def main(argv: Sequence[str] | None = None) -> list[float]:
    """Print the pairs and the summary; return the ratios after / before."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="root of the checkout to compare against")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size", default="1280x720", help="WxH of the frames (padded to 32 as for video)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    after_root = Path(__file__).resolve().parents[1]
    before = start(args.before.resolve(), args.threads, width, height)
    after = start(after_root, args.threads, width, height)
    ratios, after_ms, before_ms = [], [], []
    previous = once(before)
    for pair in range(args.pairs):
        now = once(after)
        following = once(before)
        reference = (previous[0] + following[0]) / 2
        ratios.append(now[0] / reference)
        after_ms.append(now[0])
        before_ms.append(reference)
        times = f"before {previous[0]:.0f} / {following[0]:.0f} ms, after {now[0]:.0f} ms"
        print(f"pair {pair}: {times} -> {ratios[-1]:.3f}")
        previous = following
    for worker in (before, after):
        worker.stdin.close()
        worker.wait()
    print(
        f"{args.size}, N=2, {args.threads} thread(s), CPU ms per interpolation: "
        f"before {statistics.median(before_ms):.0f}, after {statistics.median(after_ms):.0f}; "
        f"ratio after / before: median {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f}-{max(ratios):.3f}, {args.pairs} pairs)"
    )
    return ratios


if __name__ == "__main__":
    main()
