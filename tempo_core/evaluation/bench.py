"""``tempo bench``: synthesis speed and memory, the way a user of the inference API feels them.

Examples::

    tempo bench --device cuda --precision bf16 --preset b
    tempo bench --device cpu --preset xs --sizes 256p,480p --n 2 --repeats 3 --json bench.json

What is measured, for every frame size and anchor count N (smallest size first):

* **the first frame**: the wall time of the very first interpolation of each size, which also
  pays for one-off work: filling caches and, on the compiled path (``--engine compiled``, the
  default on CUDA), compiling and capturing the synthesis graph for that frame size.
* **ms per synthesized frame**: one :meth:`Interpolator.interpolate` call on uint8 frames
  (encode the N anchors, synthesize one frame at the middle, back to uint8): the median over
  ``--repeats`` runs after ``--warmup`` runs that are not timed. Wall-clock time is what a user
  waits; the **CPU time** of the process (all its threads, ``time.process_time``) is reported
  beside it because on a shared machine the wall time mostly measures the other processes.
* **peak memory** of those runs above the level before them: on CPU the growth of the peak
  resident set size (``VmHWM`` in ``/proc/self/status``, reset through
  ``/proc/self/clear_refs`` before each size; without Linux /proc it is not reported), on CUDA
  ``torch.cuda.max_memory_allocated`` above the memory allocated before.
* **slow motion x8**: the 7 frames between two anchor groups, synthesized from one encoding
  (``encode`` once + 7 ``synthesize``) against 7 separate full passes; both as ms per
  synthesized frame (medians) and their ratio. The single-frame runs have already warmed up
  these shapes, so this part runs no extra warm-up, except one slow-motion run on the compiled
  path, whose re-timing graph (the shared motion) is a graph of its own.

Sizes are ``256p`` (456 x 256), ``480p`` (854 x 480), ``720p`` (1280 x 720), ``1080p``
(1920 x 1080) or explicit ``WxH``; the wrapper pads them to multiples of 32 as it does for real
video. Frame content does not change the cost, so the frames are smooth random images. The
weights do not change the cost either: ``--preset`` times a randomly initialised network of that
size; without it the bundled default model (or ``--checkpoint``) is timed.

JSON written by ``--json``::

    {"torch": str, "device": str, "device_name": str, "precision": str, "threads": int,
     "model": str, "config": {...}, "parameters": int, "warmup": int, "repeats": int,
     "memory_kind": "rss" | "cuda_allocated" | null,
     "results": [{"size": str, "width": int, "height": int, "n": int,
                  "first_frame_ms": float, "ms_per_frame": float, "cpu_ms_per_frame": float,
                  "ms_runs": [float, ...], "cpu_ms_runs": [float, ...],
                  "peak_memory_mb": float | null,
                  "slowmo_x8": {"encode_once_ms_per_frame": float, "separate_ms_per_frame": float,
                                "speedup": float, "encode_once_cpu_ms_per_frame": float,
                                "separate_cpu_ms_per_frame": float, "cpu_speedup": float} | null}]}
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tempo_core.errors import InputError
from tempo_core.inference.settings import PRECISION_NAMES, SCALE_CHOICES
from tempo_core.reporting import check_json_target, write_json
from tempo_core.video.limits import check_frame_size, export_bytes_per_pixel

NAMED_SIZES = {"256p": (456, 256), "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
SLOWMO_FACTOR = 8
ANCHOR_TIMES = {2: (0.0, 1.0), 4: (-1.0, 0.0, 1.0, 2.0)}  # target 0.5, as in the septuplets


def parse_size(text: str) -> tuple[str, int, int]:
    """``"720p"`` or ``"64x48"`` -> (label, width, height)."""
    key = text.strip().lower()
    if key in NAMED_SIZES:
        return key, *NAMED_SIZES[key]
    parts = key.split("x")
    if len(parts) == 2 and all(p.isdigit() and int(p) > 0 for p in parts):
        return key, int(parts[0]), int(parts[1])
    raise InputError(f"Unknown frame size {text!r}; use 256p, 480p, 720p, 1080p or WxH.")


def _anchor_times(n: int) -> tuple[float, ...]:
    if n in ANCHOR_TIMES:
        return ANCHOR_TIMES[n]
    if n < 2:
        raise InputError(f"TEMPO needs at least 2 anchor frames; got N={n}.")
    return tuple(float(i) - (n // 2 - 1) for i in range(n))  # ... -1, 0 | 1, 2 ...


def smooth_frames(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` uint8 ``H x W x 3`` frames of smooth noise (upsampled random colours)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, max(2, height // 16), max(2, width // 16), generator=generator)
    full = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear")
    return list((full * 255).round().byte().permute(0, 2, 3, 1).numpy())


# ----------------------------------------------------------------------------- memory
def _proc_status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class PeakMemory:
    """Peak memory growth during a block: RSS on CPU (Linux /proc), allocated bytes on CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind: str | None = "cuda_allocated" if device.type == "cuda" else "rss"
        if self.kind == "rss" and _proc_status_kb("VmHWM") is None:
            self.kind = None
        self._before = 0

    def start(self) -> None:
        gc.collect()
        if self.kind == "cuda_allocated":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._before = torch.cuda.memory_allocated(self.device)
        elif self.kind == "rss":
            try:  # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
                with open("/proc/self/clear_refs", "w") as refs:
                    refs.write("5")
            except OSError:
                pass
            self._before = (_proc_status_kb("VmRSS") or 0) * 1024

    def peak_mb(self) -> float | None:
        if self.kind == "cuda_allocated":
            torch.cuda.synchronize(self.device)
            return (torch.cuda.max_memory_allocated(self.device) - self._before) / 2**20
        if self.kind == "rss":
            peak = _proc_status_kb("VmHWM")
            return None if peak is None else max(0, peak * 1024 - self._before) / 2**20
        return None


# ----------------------------------------------------------------------------- timing
def time_runs(
    work: Callable[[], Any], repeats: int, warmup: int, sync: Callable[[], None]
) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds of ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        work()
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        work()
        sync()
        wall.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.process_time() - cpu_started) * 1000.0)
    return wall, cpu


def bench_config(
    interpolator,
    label: str,
    width: int,
    height: int,
    n: int,
    repeats: int,
    warmup: int,
    slowmo: bool = True,
) -> dict[str, Any]:
    """Time one (size, N) configuration; see the module docstring for what is measured."""
    device = interpolator.device
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    frames = smooth_frames(n, width, height)
    times = list(_anchor_times(n))
    middle = (times[n // 2 - 1] + times[n // 2]) / 2.0
    memory = PeakMemory(device)
    memory.start()
    first_wall, _ = time_runs(lambda: interpolator.interpolate(frames, times, middle), 1, 0, sync)
    wall, cpu = time_runs(lambda: interpolator.interpolate(frames, times, middle), repeats, max(0, warmup - 1), sync)
    peak = memory.peak_mb()
    row: dict[str, Any] = {
        "size": label,
        "width": width,
        "height": height,
        "n": n,
        "first_frame_ms": first_wall[0],
        "ms_per_frame": statistics.median(wall),
        "cpu_ms_per_frame": statistics.median(cpu),
        "ms_runs": wall,
        "cpu_ms_runs": cpu,
        "peak_memory_mb": peak,
        "slowmo_x8": None,
    }
    if slowmo:
        step = (times[n // 2] - times[n // 2 - 1]) / SLOWMO_FACTOR
        targets = [times[n // 2 - 1] + k * step for k in range(1, SLOWMO_FACTOR)]

        def encode_once() -> None:
            interpolator.synthesize(interpolator.encode(frames, times), targets)

        def separate() -> None:
            for target in targets:
                interpolator.interpolate(frames, times, target)

        # the compiled path builds its re-timing graphs (per batch shape) on the first slow motion
        once_warmup = 1 if getattr(interpolator, "compiled", None) is not None else 0
        once_wall, once_cpu = time_runs(encode_once, repeats, once_warmup, sync)
        apart_wall, apart_cpu = time_runs(separate, repeats, 0, sync)
        per_frame = [statistics.median(r) / len(targets) for r in (once_wall, apart_wall)]
        per_frame_cpu = [statistics.median(r) / len(targets) for r in (once_cpu, apart_cpu)]
        row["slowmo_x8"] = {
            "encode_once_ms_per_frame": per_frame[0],
            "separate_ms_per_frame": per_frame[1],
            "speedup": per_frame[1] / per_frame[0],
            "encode_once_cpu_ms_per_frame": per_frame_cpu[0],
            "separate_cpu_ms_per_frame": per_frame_cpu[1],
            "cpu_speedup": per_frame_cpu[1] / max(per_frame_cpu[0], 1e-9),
        }
    return row


# ----------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tempo_core.network import preset_names

    parser.add_argument("--device", default=None, help="cpu or cuda (default: the best present)")
    parser.add_argument("--precision", choices=PRECISION_NAMES, default="fp32")
    parser.add_argument("--preset", choices=preset_names(), default=None, help="time a network of this size")
    parser.add_argument("--checkpoint", default=None, help="time this model file instead")
    parser.add_argument("--sizes", default="256p,480p,720p,1080p", help="comma separated: 256p, ..., 1080p, WxH")
    parser.add_argument("--n", default="2,4", help="anchor counts, comma separated (default 2,4)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first")
    parser.add_argument("--no-slowmo", action="store_true", help="skip the slow motion x8 test")
    parser.add_argument("--tile", type=int, default=None, help="synthesize in tiles of this size")
    parser.add_argument(
        "--engine",
        choices=("auto", "eager", "compiled"),
        default="auto",
        help="the synthesis as one compiled graph per size, or eager (auto: compiled on CUDA)",
    )
    parser.add_argument(
        "--scale",
        choices=SCALE_CHOICES,
        default="auto",
        help="processing scale as tempo interpolate's (auto: half size for frames over 0.6 megapixels)",
    )
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")


def _build_interpolator(args: argparse.Namespace):
    from tempo_core.checkpoint import default_model_path, load_model
    from tempo_core.inference import Interpolator
    from tempo_core.network import TempoNet, preset_config

    if args.preset and args.checkpoint:
        raise InputError("Give either --preset or --checkpoint, not both.")
    if args.preset:
        model, name = TempoNet(preset_config(args.preset)), f"preset {args.preset} (random weights)"
    else:
        model = load_model(args.checkpoint)
        name = str(args.checkpoint or default_model_path())
    compiled = {"auto": None, "eager": False, "compiled": True}[args.engine]
    interpolator = Interpolator(
        model, device=args.device, precision=args.precision, tile=args.tile, compiled=compiled, scale=args.scale
    )
    return interpolator, name


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def run(args: argparse.Namespace) -> int:
    from tempo_core.network import count_parameters

    sizes = sorted((parse_size(s) for s in args.sizes.split(",") if s.strip()), key=lambda s: s[1] * s[2])
    try:
        counts = [int(v) for v in args.n.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--n takes comma separated integers, not {args.n!r}.") from None
    if not sizes or not counts:
        raise InputError("Nothing to measure: give at least one size and one N.")
    if args.repeats < 1 or args.warmup < 0:
        raise InputError("--repeats must be at least 1 and --warmup at least 0.")
    for n in counts:
        _anchor_times(n)
    for label, width, height in sizes:  # before any allocation: 100000x100000 is a sentence
        check_frame_size(f"--sizes {label}", width, height, export_bytes_per_pixel(max(counts)))
    check_json_target(args.json, overwrite=args.overwrite, inputs=[args.checkpoint] if args.checkpoint else [])
    interpolator, model_name = _build_interpolator(args)
    parameters = count_parameters(interpolator.model)
    print(f"model: {model_name}")
    print(f"parameters: {parameters:,} ({parameters / 1e6:.2f}M)")
    print(
        f"device: {interpolator.device_name} ({interpolator.device.type}), {args.precision}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{'compiled' if interpolator.compiled is not None else 'eager'} synthesis, processing scale {args.scale}; "
        f"warm-up {args.warmup}, median of {args.repeats}"
    )
    memory_kind = PeakMemory(interpolator.device).kind
    memory_label = {"rss": "peak RSS +MB", "cuda_allocated": "peak alloc MB"}.get(memory_kind or "", "peak MB")
    print(
        f"{'size':<7}{'W x H':>10}{'N':>3}{'1st ms':>9}{'ms/frame':>10}{'CPU ms':>9}{memory_label:>14}"
        f"{'x8 once':>9}{'x8 sep.':>9}{'speed-up':>9}{'CPU s-up':>9}"
    )
    results = []
    for label, width, height in sizes:
        for n in counts:
            row = bench_config(interpolator, label, width, height, n, args.repeats, args.warmup, not args.no_slowmo)
            results.append(row)
            slowmo = row["slowmo_x8"] or {}
            print(
                f"{label:<7}{f'{width}x{height}':>10}{n:>3}{_fmt(row['first_frame_ms'], 0):>9}"
                + f"{_fmt(row['ms_per_frame']):>10}"
                + f"{_fmt(row['cpu_ms_per_frame'], 0):>9}{_fmt(row['peak_memory_mb']):>14}"
                + f"{_fmt(slowmo.get('encode_once_ms_per_frame'), 0):>9}"
                + f"{_fmt(slowmo.get('separate_ms_per_frame'), 0):>9}"
                + f"{_fmt(slowmo.get('speedup'), 2) + 'x' if slowmo else '-':>9}"
                + f"{_fmt(slowmo.get('cpu_speedup'), 2) + 'x' if slowmo else '-':>9}",
                flush=True,
            )
    print(
        "1st ms: the first interpolation of the size (caches, compilation); "
        "ms/frame: one interpolation (encode N anchors + synthesize 1 frame), median wall time; "
        "CPU ms: the same in process CPU time (all threads). x8: the 7 in-between frames of slow "
        "motion x8 from one encoding (once) vs 7 separate passes (sep.), wall ms per synthesized "
        "frame, and the ratio in wall and in CPU time."
    )
    if args.json:
        report = {
            "torch": torch.__version__,
            "device": interpolator.device.type,
            "device_name": interpolator.device_name,
            "precision": args.precision,
            "scale": args.scale,
            "engine": "compiled" if interpolator.compiled is not None else "eager",
            "threads": torch.get_num_threads(),
            "model": model_name,
            "config": interpolator.model.config.to_dict(),
            "parameters": parameters,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "memory_kind": memory_kind,
            "results": results,
        }
        write_json(Path(args.json), report, overwrite=args.overwrite)
        print(f"wrote {args.json}")
    return 0
