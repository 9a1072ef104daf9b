"""``tempo eval``: PSNR / SSIM of a model (and of a blend baseline) on triplets or septuplets.

Examples::

    tempo eval --data ../shared/data/val/septuplets --layout septuplet --n 2 --baseline blend
    tempo eval --data vimeo_triplet --layout triplet --checkpoint my.safetensors --json out.json

Protocols (times are what the model is given; the target is always at t = 0.5):

* ``septuplet``, ``--n 2``: im3, im5 at t = 0, 1 -> im4.
* ``septuplet``, ``--n 4``: im1, im3, im5, im7 at t = -1, 0, 1, 2 -> im4 (same targets as N=2,
  so the two rows compare directly).
* ``triplet`` (N=2 only): im1, im3 at t = 0, 1 -> im2.

Sequences are found either through a Vimeo-90K list file under ``--data``
(``sep_testlist.txt`` / ``tri_testlist.txt`` naming ``sequences/<clip>/<seq>``) or, without one,
by searching ``--data`` for folders of ``im<k>.png`` frames, e.g. ``<root>/<clip>/<seq>/im*.png``
(a septuplet folder also serves as a triplet: im1, im3 -> im2); see
:mod:`tempo_core.evaluation.targets`. A target needs only the images its protocol reads (with
``--n 2`` a missing im6 is fine); a folder lacking one is left out, counted and named in the
report (``incomplete``). The *clip* of a sequence is its path relative to the root without the
last part (``blocks/00016`` -> ``blocks``).

Metrics (see :mod:`tempo_core.evaluation.metrics`): the prediction is quantized to uint8 and compared at
full frame size. ``psnr`` is capped at 99 dB (an exact prediction scores 99, not inf). ``ssim``
is the first variant of ``--ssim`` (default ``matlab3d``, the RIFE / EMA-VFI Gaussian
11 x 11, sigma 1.5 SSIM); every variant asked for is also reported as ``ssim_<variant>``
(``skimage7`` is the variant of the baseline table in ``../shared/data/README.md``). For a model
that returns a confidence map: ``spearman`` (rank correlation of 1 - confidence with the
per-pixel error, higher is better), ``ause`` (area under the sparsification error curve above
the oracle, lower is better) and ``ause_random`` (the AUSE of an uninformative confidence), each
the mean over targets. The blend baseline is the linear-in-time blend of the two anchors around
the target (at t = 0.5 the average of im3 and im5), rounded half to even. The prior baseline is
the model's parameter-free motion prior alone, without the network: what the learned part adds.

JSON written by ``--json`` (and returned by :func:`evaluate`)::

    {
      "data": str, "layout": "septuplet" | "triplet", "n": int, "count": int,
      "incomplete": [{"name": str, "missing": [str, ...]}],   # left out: lack an image N reads
      "target_time": 0.5, "anchor_times": [float, ...], "psnr_cap": 99.0,
      "ssim_variants": [str, ...],            # "ssim" below is the first
      "model": {"checkpoint": str, "config": {...TempoConfig...}, "parameters": int,
                "device": str, "precision": str} | null,   # null with --baseline-only (blend)
      "methods": {
        "<method>": {                         # "tempo", "blend" and/or "prior"
          "psnr": float, "ssim": float, "ssim_<variant>": float, ...,
          "spearman": float | null, "ause": float | null, "ause_random": float | null,
          "seconds_per_target": float,
          "clips": {"<clip>": {"count": int, "psnr": float, "ssim": float, ...}},
          "targets": [{"name": str, "clip": str, "psnr": float, "ssim": float, ...}]
        }
      },
      "seconds": float
    }

Confidence keys are null for methods without a confidence map (the blend) and NaN values are
written as null.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tempo_core.errors import InputError, MediaError, describe
from tempo_core.evaluation import metrics
from tempo_core.evaluation.targets import (
    LAYOUTS,
    PROTOCOLS,
    TARGET_TIME,
    EvalSample,
    IncompleteTarget,
    discover_samples,
    find_sequences,
    find_targets,
    incomplete_line,
    protocol,
)
from tempo_core.inference.settings import PRECISION_NAMES
from tempo_core.reporting import ProgressBar, check_json_target, write_json
from tempo_core.video.safety_net import anchor_blend, rounded

__all__ = [
    "LAYOUTS",
    "PROTOCOLS",
    "TARGET_TIME",
    "EvalSample",
    "blend_predictor",
    "discover_samples",
    "evaluate",
    "find_sequences",
    "prior_predictor",
    "read_rgb",
]
Predictor = Callable[[list[np.ndarray], list[float], float], Any]


def read_rgb(path: Path) -> np.ndarray:
    """A PNG as uint8 ``H x W x 3`` (plain error if missing or unreadable)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as err:
        raise MediaError(f"Could not read the image {path} ({describe(err)}).") from None


def blend_predictor(frames: list[np.ndarray], times: list[float], target_time: float):
    """The classical baseline: blend the two anchors around the target, linearly in time (the
    safety net's blend, :func:`tempo_core.video.safety_net.anchor_blend`), rounded to uint8."""
    return rounded(anchor_blend(frames, times, target_time))


def prior_predictor(interpolator: Any) -> Predictor:
    """The model's parameter-free motion prior alone (no network), as a predictor.

    Shows what the learned part adds: see :meth:`BilateralMotionPrior.synthesize_alone`.
    """
    import torch

    from tempo_core.inference import image_to_tensor, pad_to_multiple, tensor_to_image
    from tempo_core.network import normalize_times

    prior, device = interpolator.model.motion_prior, interpolator.device

    def predict(frames: list[np.ndarray], times: list[float], target_time: float) -> np.ndarray:
        height, width = frames[0].shape[:2]
        padded = pad_to_multiple(torch.stack([image_to_tensor(frame) for frame in frames])).to(device)
        anchor_times, center, span = normalize_times(torch.tensor([times]))
        dt = (anchor_times - float((target_time - center) / span)).to(device)
        return tensor_to_image(prior.synthesize_alone(padded[None], dt)[0, :, :height, :width])

    return predict


def _as_prediction(result: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Accept a Synthesis, an (image, confidence) pair or a bare image."""
    if hasattr(result, "image"):
        return np.asarray(result.image), getattr(result, "confidence", None)
    if isinstance(result, tuple):
        image, confidence = result
        return np.asarray(image), confidence
    return np.asarray(result), None


def _predictor_of(model: Any) -> Predictor:
    if hasattr(model, "interpolate"):  # an Interpolator
        return lambda frames, times, target: model.interpolate(frames, times, target)
    if callable(model):
        return model
    raise TypeError("evaluate() needs an Interpolator or a callable(frames, times, target_time)")


def _mean(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _score_method(
    predictor: Predictor,
    samples: Sequence[EvalSample],
    ssim_variants: Sequence[str],
    label: str,
    progress: bool,
) -> dict[str, Any]:
    bar = ProgressBar(len(samples), label, progress)
    targets: list[dict[str, Any]] = []
    predict_seconds = 0.0
    for index, sample in enumerate(samples):
        frames = [read_rgb(path) for path in sample.inputs]
        truth = read_rgb(sample.target)
        started = time.perf_counter()
        image, confidence = _as_prediction(predictor(frames, list(sample.times), sample.target_time))
        predict_seconds += time.perf_counter() - started
        if image.dtype != np.uint8:
            image = metrics.to_uint8(image)
        if image.shape != truth.shape:
            raise InputError(f"The prediction for {sample.name} is {image.shape}, the target {truth.shape}.")
        row: dict[str, Any] = {"name": sample.name, "clip": sample.clip}
        row["psnr"] = metrics.psnr(image, truth)
        for variant in ssim_variants:
            row[f"ssim_{variant}"] = metrics.ssim(image, truth, variant)
        row["ssim"] = row[f"ssim_{ssim_variants[0]}"]
        if confidence is not None:
            row.update(metrics.confidence_quality(image, truth, np.asarray(confidence)))
        targets.append(row)
        bar.update(index + 1, f"PSNR {np.mean([t['psnr'] for t in targets]):.2f} dB")
    return _summarize(targets, ssim_variants, predict_seconds / max(1, len(samples)))


def _summarize(
    targets: list[dict[str, Any]], ssim_variants: Sequence[str], seconds_per_target: float
) -> dict[str, Any]:
    image_keys = ["psnr", "ssim", *(f"ssim_{v}" for v in ssim_variants)]
    confidence_keys = ["spearman", "ause", "ause_random"]
    summary: dict[str, Any] = {k: _mean([t[k] for t in targets]) for k in image_keys}
    for key in confidence_keys:
        summary[key] = _mean([t.get(key) for t in targets])
    summary["seconds_per_target"] = seconds_per_target
    clips: dict[str, dict[str, Any]] = {}
    for clip in dict.fromkeys(t["clip"] for t in targets):
        rows = [t for t in targets if t["clip"] == clip]
        clips[clip] = {"count": len(rows), **{k: _mean([r[k] for r in rows]) for k in image_keys}}
    summary["clips"] = clips
    summary["targets"] = targets
    return summary


def evaluate(
    model: Any | None,
    samples: Sequence[EvalSample],
    *,
    baseline: str | None = None,
    ssim_variants: Sequence[str] = ("matlab3d", "skimage7"),
    progress: bool = False,
    model_name: str = "tempo",
    score_model: bool = True,
) -> dict[str, Any]:
    """Score ``model`` (an Interpolator or ``callable(frames, times, target_time)``) on samples.

    The callable gets uint8 ``H x W x 3`` frames, their times and the target time and returns
    a :class:`~tempo_core.inference.Synthesis`, an ``(image, confidence)`` pair or an image
    (uint8, or float in [0, 1]). ``model=None`` with ``baseline="blend"`` scores the baseline
    only. ``baseline="prior"`` scores the model's motion prior alone and needs an Interpolator;
    ``score_model=False`` then leaves out the model itself. Returns the ``"methods"`` part of the
    JSON plus ``"count"``.
    """
    if not samples:
        raise InputError("There is nothing to evaluate: no samples.")
    unknown = [v for v in ssim_variants if v not in metrics.SSIM_VARIANTS]
    if unknown or not ssim_variants:
        raise InputError(
            f"Unknown SSIM variant {', '.join(unknown) or '(none)'}; choose from {', '.join(metrics.SSIM_VARIANTS)}."
        )
    if baseline not in (None, "blend", "prior"):
        raise InputError(f"Unknown baseline {baseline!r}; choose blend or prior.")
    if model is None and baseline != "blend":
        raise InputError("Nothing to evaluate: give a model or --baseline blend.")
    if baseline == "prior" and not hasattr(model, "model"):
        raise InputError("The prior baseline needs a TEMPO model (an Interpolator).")
    methods: dict[str, Any] = {}
    if model is not None and score_model:
        methods[model_name] = _score_method(_predictor_of(model), samples, ssim_variants, model_name, progress)
    if baseline == "blend":
        methods["blend"] = _score_method(blend_predictor, samples, ssim_variants, "blend", progress)
    if baseline == "prior":
        methods["prior"] = _score_method(prior_predictor(model), samples, ssim_variants, "prior", progress)
    return {"count": len(samples), "methods": methods}


# ----------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="root of the triplets / septuplets")
    parser.add_argument("--layout", choices=tuple(LAYOUTS), default="septuplet")
    parser.add_argument("--n", type=int, choices=(2, 4), default=2, help="anchor frames")
    parser.add_argument("--checkpoint", default=None, help="model file (default: bundled model)")
    parser.add_argument(
        "--baseline",
        choices=("blend", "prior"),
        default=None,
        help="also score this: blend (of the two nearest frames) or prior (the model's motion prior alone)",
    )
    parser.add_argument("--baseline-only", action="store_true", help="score only the baseline (no model)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best)")
    parser.add_argument("--precision", choices=PRECISION_NAMES, default="fp32")
    parser.add_argument("--tile", type=int, default=None, help="synthesize in tiles of this size")
    parser.add_argument("--limit", type=int, default=0, help="only the first K targets")
    parser.add_argument(
        "--ssim",
        default="matlab3d,skimage7",
        help="SSIM variants, comma separated; the first is 'ssim' "
        f"({', '.join(metrics.SSIM_VARIANTS)}; default matlab3d,skimage7)",
    )
    parser.add_argument("--json", default=None, help="write all results to this JSON file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(report: dict[str, Any]) -> None:
    variants = report["ssim_variants"]
    print(
        f"{report['count']} {report['layout']} targets, N={report['n']} "
        f"(anchors at t={', '.join(f'{t:g}' for t in report['anchor_times'])}, target 0.5), "
        f"{report['data']}"
    )
    if report["incomplete"]:
        print(incomplete_line([IncompleteTarget(t["name"], tuple(t["missing"])) for t in report["incomplete"]]))
    if report["model"]:
        m = report["model"]
        print(f"model: {m['checkpoint']} ({m['parameters'] / 1e6:.2f}M parameters) on {m['device']}, {m['precision']}")
    header = f"{'method':<8}{'PSNR':>8}" + "".join(f"{'SSIM ' + v:>16}" for v in variants)
    print(header + f"{'Spearman':>10}{'AUSE':>8}{'random':>8}{'s/frame':>9}")
    for name, result in report["methods"].items():
        print(
            f"{name:<8}{_fmt(result['psnr'], 2):>8}"
            + "".join(f"{_fmt(result['ssim_' + v], 4):>16}" for v in variants)
            + f"{_fmt(result['spearman'], 3):>10}{_fmt(result['ause'], 3):>8}"
            + f"{_fmt(result['ause_random'], 3):>8}{result['seconds_per_target']:>9.3f}"
        )
    names = list(report["methods"])
    print(f"per clip (PSNR / SSIM {variants[0]}):")
    print(f"  {'clip':<20}{'count':>6}" + "".join(f"{n:>18}" for n in names))
    first = report["methods"][names[0]]["clips"]
    for clip, row in first.items():
        cells = []
        for name in names:
            c = report["methods"][name]["clips"][clip]
            cells.append(f"{_fmt(c['psnr'], 2)} / {_fmt(c['ssim'], 4)}")
        print(f"  {clip:<20}{row['count']:>6}" + "".join(f"{c:>18}" for c in cells))
    print(
        "PSNR in dB on uint8 RGB at full size (capped at 99). Confidence quality: Spearman rank "
        "correlation of 1 - confidence with the per-pixel error (higher is better) and AUSE, "
        "the area between its sparsification error curve and the oracle's (lower is better; "
        "'random' is the AUSE of a confidence without information)."
    )


def run(args: argparse.Namespace) -> int:
    variants = [v.strip() for v in args.ssim.split(",") if v.strip()]
    _, times, _ = protocol(args.layout, args.n)
    targets = find_targets(args.data, args.layout, args.n, args.limit)
    samples = targets.samples
    inputs = _input_files(args, samples)
    check_json_target(args.json, overwrite=args.overwrite, inputs=inputs)  # before the long part
    model_info = None
    model = None
    if args.baseline_only and args.baseline is None:
        args.baseline = "blend"
    if not args.baseline_only or args.baseline == "prior":
        from tempo_core.checkpoint import default_model_path
        from tempo_core.inference import Interpolator
        from tempo_core.network import count_parameters

        model = Interpolator.from_checkpoint(
            args.checkpoint, device=args.device, precision=args.precision, tile=args.tile
        )
        model_info = {
            "checkpoint": str(args.checkpoint or default_model_path()),
            "config": model.model.config.to_dict(),
            "parameters": count_parameters(model.model),
            "device": model.device_name,
            "precision": model.precision,
        }
    started = time.perf_counter()
    results = evaluate(
        model,
        samples,
        baseline=args.baseline,
        ssim_variants=variants,
        progress=not args.quiet,
        score_model=not args.baseline_only,
    )
    report = {
        "data": str(args.data),
        "layout": args.layout,
        "n": args.n,
        "count": results["count"],
        "incomplete": [{"name": t.name, "missing": list(t.missing)} for t in targets.incomplete],
        "target_time": TARGET_TIME,
        "anchor_times": list(times),
        "psnr_cap": metrics.PSNR_CAP,
        "ssim_variants": variants,
        "model": model_info,
        "methods": results["methods"],
        "seconds": time.perf_counter() - started,
    }
    print_report(report)
    if args.json:
        write_json(args.json, report, overwrite=args.overwrite, inputs=inputs)
        print(f"wrote {args.json}")
    return 0


def _input_files(args: argparse.Namespace, samples: list[EvalSample]) -> list[Path]:
    """Every file the evaluation reads (the model, anchors, ground truth): never written."""
    from tempo_core.checkpoint import default_model_path

    files = [Path(args.checkpoint) if args.checkpoint else default_model_path()]
    for sample in samples:
        files.extend([*sample.inputs, sample.target])
    return files
