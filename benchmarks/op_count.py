"""How many tensor operations one interpolation launches, and from where.

On a GPU each operation is at least one kernel launch, and a small one costs the launch (some
microseconds of host time) whatever its size. When the count is in the thousands, the GPU waits on
the host and the time per frame no longer grows with the frame size. This script counts the
operations of encode and synthesize on the CPU and names the lines of ``tempo_core`` that issue
the most. Views and other metadata-only operations are left out: they launch nothing.

On a CPU's large maps the filters run as slice additions (more, cheaper operations). By default
the count is taken within :func:`tempo_core.network.filters.single_operation_filters`, the paths a
GPU takes, so it is a GPU's; ``--cpu_paths`` counts what a CPU runs.

    python benchmarks/op_count.py [--checkpoint FILE] [--n 2] [--size 256x448] [--top 15] [--cpu_paths]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import traceback
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tempo_core.inference import Interpolator
from tempo_core.network.filters import single_operation_filters

METADATA_ONLY = (
    "view", "_unsafe_view", "reshape", "expand", "permute", "slice", "select", "unsqueeze",
    "squeeze", "alias", "t", "transpose", "as_strided", "split", "unbind", "detach", "narrow", "unfold",
)  # fmt: skip


class OperationCounter(TorchDispatchMode):
    """Counts the non-view operations dispatched inside it, by the ``tempo_core`` line that issued them."""

    def __init__(self) -> None:
        super().__init__()
        self.by_line: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ not in METADATA_ONLY:
            ours = [f for f in traceback.extract_stack() if "tempo_core" in f.filename]
            where = f"{ours[-1].filename.rsplit('/', 1)[-1]}:{ours[-1].lineno} {ours[-1].name}" if ours else "?"
            self.by_line[where] += 1
        return func(*args, **(kwargs or {}))


def main(argv: Sequence[str] | None = None) -> tuple[int, int]:
    """Print the counts; return (encode operations, synthesis operations)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--n", type=int, default=2, help="anchors")
    parser.add_argument("--size", default="256x448", help="HxW of the frames")
    parser.add_argument("--top", type=int, default=15, help="lines to list")
    parser.add_argument(
        "--cpu_paths", action="store_true", help="count the CPU's paths of the filters (slice additions)"
    )
    parser.add_argument("--prior", default="", help="PriorConfig changes, e.g. 'lk_iterations=5;smoothness_sweeps=10'")
    args = parser.parse_args(argv)
    height, width = (int(v) for v in args.size.lower().split("x"))
    interpolator = Interpolator.from_checkpoint(args.checkpoint, device="cpu")
    prior = interpolator.model.motion_prior
    changes = {k.strip(): ast.literal_eval(v.strip()) for k, v in (kv.split("=") for kv in args.prior.split(";") if kv)}
    prior.config = dataclasses.replace(prior.config, **changes)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(args.n)]
    times = [float(i - (args.n - 2) // 2) for i in range(args.n)]
    target = times[args.n // 2 - 1] + 0.5
    paths = contextlib.nullcontext() if args.cpu_paths else single_operation_filters()  # a GPU's by default
    with paths:
        interpolator.interpolate(frames, times, target)  # warm-up: caches filled
        with torch.no_grad(), OperationCounter() as encode_ops:
            anchors = interpolator.encode(frames, times)
        with torch.no_grad(), OperationCounter() as synthesis_ops:
            interpolator.synthesize(anchors, [target])

    encoded, synthesized = sum(encode_ops.by_line.values()), sum(synthesis_ops.by_line.values())
    which = "a CPU's paths" if args.cpu_paths else "a GPU's paths"
    print(f"N={args.n}, {width}x{height} ({which}): encode {encoded} operations, synthesize {synthesized}")
    print(f"synthesize, the {args.top} lines issuing the most:")
    for where, count in synthesis_ops.by_line.most_common(args.top):
        print(f"{count:7d}  {where}")
    return encoded, synthesized


if __name__ == "__main__":
    main()
