"""Train only the confidence parameters of a model to predict its per-pixel error. Training data only.

The map is ``sigmoid(scale * (1 - entropy) + bias + correction)`` (``TempoNet.synthesize``): the
attention entropy at the finest scale, two scalars (``confidence_scale``, ``confidence_bias``) and a
correction read from the last 1 x 1 convolution of the synthesis residual (its output channels
48..63 become the fourth channel after the ``PixelShuffle(4)``; channels 0..47 are the colour
residual and are left untouched), averaged per 4 x 4 block and upsampled bilinearly. Only those two
scalars and those 16 rows (and biases) are trained, so the synthesized images stay bit-identical.

1. **collect**: every training window of ``confidence_ranking.training_windows`` (N=2 and N=4, the
   ``tempo eval`` protocols) runs through the frozen model once; the input of that convolution
   (``[24, H/4, W/4]``), the entropy (``[H, W]``) and the per-pixel error of the uint8 output
   (``metrics.pixel_error``, ``[H, W]`` in [0, 1]) are cached. The script checks that its own
   formula reproduces the model's map (to 1e-4) and stops if the network has changed it.
2. **fit**: Adam on those parameters, the loss of ``tempo train`` (``losses.confidence_loss``: the
   map should equal ``exp(-error / tau)``) for each ``--taus``. Every fourth source (sorted by
   name) is held out; the tau whose map gives the best frame-level ranking there (Spearman of the
   best ``share >= threshold`` score with the real PSNR, mean over N=2 and N=4) is refitted on
   all sources.
3. **write** ``--out``: the input model with only those parameters replaced (fp16 if ``--fp16``),
   then check that it synthesizes bit-identical images on the first training windows.

    python benchmarks/train_confidence.py --data_root ../shared/data/train --out runs/conf.safetensors \
        --fp16 [--checkpoint FILE] [--features runs/conf_features.pt]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from confidence_ranking import THRESHOLDS, rank, training_windows

from tempo_core.checkpoint import default_model_path, load_model, read_metadata, save_weights
from tempo_core.evaluation.evaluate import PROTOCOLS, TARGET_TIME
from tempo_core.evaluation.metrics import pixel_error, psnr
from tempo_core.frame_score import share_at_least
from tempo_core.inference import Interpolator, tensor_to_image
from tempo_core.network import TempoNet
from tempo_core.training.losses import confidence_loss

COLOUR_CHANNELS = 48  # 3 colour channels x 4 x 4 sub-pixels come first in the residual's last conv


def confidence_rows(model: TempoNet) -> torch.nn.Conv2d:
    """The synthesis residual's last 1 x 1 convolution (rows 48..63 feed the confidence)."""
    return model.synthesis.residual[-2]


def confidence_from(params: dict[str, torch.Tensor], hidden: torch.Tensor, entropy: torch.Tensor) -> torch.Tensor:
    """The model's confidence formula: ``hidden [B, C, h, w]``, ``entropy [B, 1, H, W]`` -> ``[B, 1, H, W]``."""
    correction = F.pixel_shuffle(F.conv2d(hidden, params["rows_weight"], params["rows_bias"]), 4)
    correction = F.interpolate(F.avg_pool2d(correction, 4), size=entropy.shape[-2:], mode="bilinear")
    return torch.sigmoid(params["scale"] * (1.0 - entropy) + params["bias"] + correction)


def model_params(model: TempoNet) -> dict[str, torch.Tensor]:
    """The trainable copies: scale, bias and the confidence rows of :func:`confidence_rows`."""
    conv = confidence_rows(model)
    return {
        "scale": model.confidence_scale.detach().float().clone(),
        "bias": model.confidence_bias.detach().float().clone(),
        "rows_weight": conv.weight[COLOUR_CHANNELS:].detach().float().clone(),
        "rows_bias": conv.bias[COLOUR_CHANNELS:].detach().float().clone(),
    }


def collect(model: TempoNet, root: Path, per_video: int, strides: list[int]) -> list[dict[str, object]]:
    """Cached inputs of the confidence for every training window and N (see the module doc)."""
    interpolator = Interpolator(model, device="cpu")
    captured: list[torch.Tensor] = []
    hook = confidence_rows(model).register_forward_hook(lambda _m, args, _o: captured.append(args[0].detach()))
    params, samples = model_params(model), []
    try:
        for name, frames in training_windows(root, per_video, strides, 448):
            for n in (2, 4):
                numbers, times, target_number = PROTOCOLS[("septuplet", n)]
                anchors = torch.from_numpy(np.stack([frames[i - 1] for i in numbers])).permute(0, 3, 1, 2)
                captured.clear()
                rgb, aux = interpolator.run_tensors(
                    anchors.float()[None] / 255,
                    torch.tensor([times], dtype=torch.float64),
                    torch.tensor([TARGET_TIME], dtype=torch.float64),
                )
                truth, image = frames[target_number - 1], tensor_to_image(rgb[0])
                sample = {"name": name, "source": name.split("/")[0], "n": n, "psnr": psnr(image, truth)}
                sample["anchor_psnr"] = psnr(frames[2], frames[4])  # the motion proxy: im3 vs im5
                sample["hidden"], sample["entropy"] = captured[-1].half(), aux["entropy"].half()
                sample["error"] = torch.from_numpy(pixel_error(image, truth)).half()[None, None]
                mine = confidence_from(params, captured[-1].float(), aux["entropy"])
                if (mine - aux["confidence"]).abs().max() > 1e-4:
                    raise SystemExit("The network computes its confidence differently now; update confidence_from.")
                samples.append(sample)
            print(f"  {name}: PSNR N=2 {samples[-2]['psnr']:.2f}", flush=True)
    finally:
        hook.remove()
    return samples


def fit(samples: list[dict[str, object]], start: dict[str, torch.Tensor], tau: float, epochs: int) -> dict:
    """Adam on the confidence parameters, one sample per step, ``losses.confidence_loss``."""
    params = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    optimizer = torch.optim.Adam(params.values(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        for index in rng.permutation(len(samples)):
            sample = samples[index]
            confidence = confidence_from(params, sample["hidden"].float(), sample["entropy"].float())
            error = sample["error"].float()
            # confidence_loss compares pred and target; give it the error as |pred - 0| (3 equal channels)
            loss = confidence_loss(confidence, error.expand(-1, 3, -1, -1), torch.zeros_like(error), tau)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return {k: v.detach() for k, v in params.items()}


def frame_ranking(samples: list[dict[str, object]], params: dict[str, torch.Tensor]) -> tuple[float, float]:
    """Best mean Spearman (over N) of a ``share >= threshold`` score with the real PSNR, and its threshold."""
    with torch.no_grad():
        maps = [confidence_from(params, s["hidden"].float(), s["entropy"].float()) for s in samples]
    best = (-2.0, 0.0)
    for threshold in THRESHOLDS:
        values = [float(share_at_least(m, threshold)) for m in maps]
        best = max(best, (mean_over_n(samples, values), threshold))
    return best


def mean_over_n(samples: list[dict[str, object]], values: list[float]) -> float:
    """Spearman of ``values`` with the real PSNR, within N=2 and within N=4, averaged."""
    rhos = []
    for n in (2, 4):
        index = [i for i, s in enumerate(samples) if s["n"] == n]
        rhos.append(rank([samples[i] for i in index], [values[i] for i in index]))
    return float(np.mean(rhos))


def describe(label: str, samples: list[dict[str, object]], params: dict[str, torch.Tensor]) -> str:
    """One line: the map's best frame ranking on ``samples`` beside the anchor-difference proxy."""
    spearman, threshold = frame_ranking(samples, params)
    proxy = mean_over_n(samples, [s["anchor_psnr"] for s in samples])
    return f"{label}: score Spearman {spearman:+.3f} (share >= {threshold:.2f}), anchor difference {proxy:+.3f}"


def write(
    model: TempoNet, params: dict[str, torch.Tensor], out: Path, fp16: bool, metadata: dict[str, str], note: dict
) -> None:
    """Replace only the confidence parameters of ``model`` and save it (``metadata`` kept, ``note`` added)."""
    with torch.no_grad():
        model.confidence_scale.copy_(params["scale"])
        model.confidence_bias.copy_(params["bias"])
        conv = confidence_rows(model)
        conv.weight[COLOUR_CHANNELS:] = params["rows_weight"]
        conv.bias[COLOUR_CHANNELS:] = params["rows_bias"]
    save_weights(model, out, fp16=fp16, metadata={**metadata, "tempo.confidence_training": json.dumps(note)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", default="../shared/data/train")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--out", required=True, help="where to write the model with the new confidence")
    parser.add_argument("--fp16", action="store_true", help="store the weights in fp16 (as the shipped file)")
    parser.add_argument("--features", help="cache of the collected inputs (.pt): reused if it exists")
    parser.add_argument("--per_video", type=int, default=3)
    parser.add_argument("--strides", default="1,2,3")
    parser.add_argument("--taus", default="0.01,0.02,0.05,0.1", help="error scales of the target to try")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint).float().eval()
    cache = Path(args.features) if args.features else None
    if cache is not None and cache.exists():
        samples = torch.load(cache, weights_only=False)
    else:
        samples = collect(model, Path(args.data_root), args.per_video, [int(s) for s in args.strides.split(",")])
        if cache is not None:
            torch.save(samples, cache)
    sources = sorted({s["source"] for s in samples})
    held_out = set(sources[::4])
    fit_set = [s for s in samples if s["source"] not in held_out]
    test_set = [s for s in samples if s["source"] in held_out]
    start = model_params(model)
    print(f"held out: {', '.join(sorted(held_out))}; mean over N=2 and N=4")
    print(describe("shipped map, held-out windows", test_set, start))
    print(describe("shipped map, all training windows", samples, start))
    results = {}
    for tau in [float(t) for t in args.taus.split(",")]:
        results[tau] = frame_ranking(test_set, fit(fit_set, start, tau, args.epochs))
        print(f"tau {tau}: held-out windows: score Spearman {results[tau][0]:+.3f} (share >= {results[tau][1]:.2f})")
    tau = max(results, key=lambda t: results[t][0])
    final = fit(samples, start, tau, args.epochs)
    print(describe(f"tau {tau} refitted on all, all training windows (fitted on them)", samples, final))
    note = {"tau": tau, "epochs": args.epochs, "script": "benchmarks/train_confidence.py"}
    original = load_model(args.checkpoint).float().eval()
    write(model, final, Path(args.out), args.fp16, kept_metadata(args.checkpoint), note)
    check_images(original, Path(args.out), Path(args.data_root))
    print(f"wrote {args.out}")


def check_images(original: TempoNet, out: Path, root: Path, count: int = 3) -> None:
    """Stop unless the written model synthesizes bit-identical images on the first training windows."""
    before, after = Interpolator(original, device="cpu"), Interpolator(load_model(out).float(), device="cpu")
    numbers, times, _ = PROTOCOLS[("septuplet", 2)]
    for index, (name, frames) in enumerate(training_windows(root, 1, [1], 448)):
        if index == count:
            break
        anchors = [frames[i - 1] for i in numbers]
        images = [it.interpolate(anchors, list(times), TARGET_TIME).image for it in (before, after)]
        if not np.array_equal(*images):
            raise SystemExit(f"The images changed on {name}; the written model is not the same synthesis.")
    print(f"images bit-identical to the input model on the first {count} training windows (N=2)")


def kept_metadata(checkpoint: str | None) -> dict[str, str]:
    """The input file's metadata (step, source, ...) less what ``save_weights`` writes itself."""
    metadata = read_metadata(checkpoint or default_model_path())
    return {k: v for k, v in metadata.items() if k not in ("tempo.format", "tempo.config")}


if __name__ == "__main__":
    main()
