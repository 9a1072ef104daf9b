"""CPU time of two primitives of a synthesis, each against the PyTorch call it replaced.

* Box means of the motion prior (:func:`tempo_core.network.filters.box_mean`, running sums since
  issue 18: the Lucas-Kanade moments, the block-matching and propagation costs; and the 3 x 3
  neighbour sums of the Jacobi sweeps as shifted slices) against ``F.avg_pool2d``.
* The local correlation (:func:`tempo_core.network.correlation.local_correlation`: without
  gradients one tiled matrix product since issue 18, with gradients a loop over displacements on
  a CPU) against the unfold-and-einsum path a GPU takes for training: at inference, and
  forward + backward at training shapes. The figures in docs/benchmarks.md predate issue 18.

Shapes are those of a ``--size`` frame (default 1280x720, ``xs`` preset, N=2), and for training a
batch of 4 crops of 160 x 160 with N=4 (16 observations). Prints the median of ``--repeats``
timings in ms and the ratio, measured in one process, in turn.

    python benchmarks/cpu_primitives.py [--threads 2] [--repeats 7] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from tempo_core.network.correlation import local_correlation, local_correlation_reference, unfolded_correlation
from tempo_core.network.filters import box_mean, replicate_sum3


def median_ms(function: Callable[[], torch.Tensor], repeats: int) -> float:
    function()  # warm-up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def report(name: str, new: Callable[[], torch.Tensor], old: Callable[[], torch.Tensor], repeats: int) -> float:
    """Print and return the ratio of the replaced call's time to TEMPO's."""
    new_ms, old_ms = [], []
    for _ in range(2):  # in turn, twice: the machine's load changes
        new_ms.append(median_ms(new, repeats))
        old_ms.append(median_ms(old, repeats))
    ratio = statistics.mean(old_ms) / statistics.mean(new_ms)
    print(f"{name:44s} {statistics.mean(new_ms):8.1f} ms  {statistics.mean(old_ms):8.1f} ms  {ratio:5.1f}x")
    return ratio


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print the table; return each row's ratio (replaced / TEMPO) by name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", default="1280x720", help="WxH of the frame whose shapes are timed")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    print(f"{f'what ({width}x{height} shapes)':44s} {'TEMPO':>11s}  {'replaced':>11s}  ratio")
    box_cases = [
        ("LK moments, full size, 7 x 7", (1, 5, height, width), 7),
        ("LK moments, 1/2, 7 x 7", (1, 5, height // 2, width // 2), 7),
        ("propagation cost, 1/2, 9 x 9", (1, 1, height // 2, width // 2), 9),
        ("block matching, 1/4, 49 costs", (1, 49, height // 4, width // 4), 7),
    ]
    ratios = {}
    for name, shape, size in box_cases:
        values = torch.rand(shape)
        ratios[name] = report(
            name,
            lambda values=values, size=size: box_mean(values, size),
            lambda values=values, size=size: F.avg_pool2d(values, size, 1, size // 2, count_include_pad=False),
            args.repeats,
        )
    velocity = torch.rand(1, 2, height, width)
    padded = F.pad(velocity, (1, 1, 1, 1), mode="replicate")
    ratios["Jacobi neighbour mean, full size, 3 x 3"] = report(
        "Jacobi neighbour mean, full size, 3 x 3",
        lambda: replicate_sum3(velocity) / 9,
        lambda: F.avg_pool2d(padded, 3, stride=1),
        args.repeats,
    )
    with torch.no_grad():
        for scale, channels in enumerate([24, 48, 96]):
            shape = (2, channels, height // 4 // 2**scale, width // 4 // 2**scale)
            query, key = torch.rand(shape), torch.rand(shape)
            name = f"correlation 1/{4 * 2**scale} (C={channels}), radius 3"
            ratios[name] = report(
                name,
                lambda query=query, key=key: local_correlation(query, key, 3),
                lambda query=query, key=key: unfolded_correlation(query, key, 3),
                args.repeats,
            )
            assert torch.allclose(local_correlation(query, key, 3), local_correlation_reference(query, key, 3))
    for scale, (size, channels) in enumerate([(40, 24), (20, 48), (10, 96)]):
        query = torch.rand(16, channels, size, size, requires_grad=True)
        key = torch.rand(16, channels, size, size, requires_grad=True)
        name = f"training 1/{4 * 2**scale} (C={channels}), forward + backward"
        ratios[name] = report(
            name,
            lambda query=query, key=key: local_correlation(query, key, 3).square().sum().backward(),
            lambda query=query, key=key: unfolded_correlation(query, key, 3).square().sum().backward(),
            args.repeats,
        )
    return ratios


if __name__ == "__main__":
    main()
