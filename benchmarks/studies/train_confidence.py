"""Fit only the confidence parameters of a model so its frame score ranks frames by error. Training data only.

The map is ``sigmoid(scale * (1 - entropy) + bias + correction + weight * disagreement)``
(``TempoNet.synthesize``): the attention entropy at the finest scale, two scalars
(``confidence_scale``, ``confidence_bias``), a correction read from the last 1 x 1 convolution of
the synthesis residual (its output channels 48..63, the fourth channel after the
``PixelShuffle(4)``, averaged per 4 x 4 block and upsampled bilinearly) and the disagreement of the
full-size look-ups, ``log(spread + 1e-3)`` (``aux["disagreement"]``), with its weight
``confidence_disagreement`` (0 in a model from before it). The script sets the weight and fits the
two scalars; the correction rows and everything else stay, so the synthesized images stay
bit-identical.

1. **collect**: every training window of ``confidence_ranking.training_windows`` (N=2 and N=4, the
   ``tempo eval`` protocols) runs through the frozen model once; the input of that convolution
   (``[24, H/4, W/4]``), the entropy and the disagreement (``[H, W]``) and the per-pixel error of
   the uint8 output (``metrics.pixel_error``, ``[H, W]`` in [0, 1]) are cached. The script checks
   that its own formula reproduces the model's map (to 1e-4) and stops if the network has changed it.
2. **fit**: for each disagreement weight of ``--weights`` and each tau of ``--taus``, ``scale`` and
   ``bias`` minimise the loss of ``tempo train`` (``losses.confidence_loss``: the map should equal
   ``exp(-error / tau)``) over every ``--pixel_step``-th pixel of the windows (L-BFGS, full batch).
   The weight itself is not left to that loss, which calibrates pixels: the ranking chooses it.
3. **choose** on held-out sources: the sources (sorted by name) are split into 4 folds (every
   fourth source, from each of the first four); each fold is held out in turn and the fit is made
   on the rest. The (weight, tau, frame score) with the best mean over the folds of the held-out
   Spearman with the real PSNR (mean of N=2 and N=4; frame scores as in
   ``confidence_ranking.candidates``) wins and is refitted on all sources.
4. **write** ``--out``: the input model with only those three parameters replaced (fp16 if
   ``--fp16``), then check that it synthesizes bit-identical images on the first training windows.

    python benchmarks/studies/train_confidence.py --data_root ../shared/data/train --out runs/conf.safetensors \
        --fp16 [--checkpoint FILE] [--features runs/conf_features.pt]

The validation figures come from ``confidence_ranking.py --checkpoint`` with the written file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from confidence_ranking import candidates, rank, training_windows

from tempo_core.checkpoint import default_model_path, load_model, read_metadata, save_weights
from tempo_core.evaluation.evaluate import PROTOCOLS, TARGET_TIME
from tempo_core.evaluation.metrics import pixel_error, psnr
from tempo_core.inference import Interpolator, tensor_to_image
from tempo_core.network import TempoNet
from tempo_core.training.losses import confidence_loss

COLOUR_CHANNELS = 48  # 3 colour channels x 4 x 4 sub-pixels come first in the residual's last conv
FOLDS = 4
Sample = dict[str, object]
Params = dict[str, torch.Tensor]


def confidence_rows(model: TempoNet) -> torch.nn.Conv2d:
    """The synthesis residual's last 1 x 1 convolution (rows 48..63 feed the confidence)."""
    return model.synthesis.residual[-2]


def correction_from(model: TempoNet, hidden: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The confidence correction ``[B, 1, H, W]`` from the input ``[B, C, h, w]`` of :func:`confidence_rows`."""
    conv = confidence_rows(model)
    rows = F.conv2d(hidden, conv.weight[COLOUR_CHANNELS:].float(), conv.bias[COLOUR_CHANNELS:].float())
    return F.interpolate(F.avg_pool2d(F.pixel_shuffle(rows, 4), 4), size=size, mode="bilinear")


def confidence_from(params: Params, sample: Sample) -> torch.Tensor:
    """The model's confidence formula on a sample's cached inputs (``[B, 1, H, W]``, or ``[P]`` for
    the pixel subsets of :func:`pixel_subset`)."""
    logit = params["scale"] * sample["goodness"].float() + params["bias"] + sample["correction"].float()
    return torch.sigmoid(logit + params["weight"] * sample["disagreement"].float())


def model_params(model: TempoNet) -> Params:
    """The parameters this script sets: scale, bias and the disagreement weight."""
    return {
        "scale": model.confidence_scale.detach().float().clone(),
        "bias": model.confidence_bias.detach().float().clone(),
        "weight": model.confidence_disagreement.detach().float().clone(),
    }


def collect(model: TempoNet, root: Path, per_video: int, strides: list[int]) -> list[Sample]:
    """Cached inputs of the confidence for every training window and N (see the module doc)."""
    interpolator = Interpolator(model, device="cpu")
    captured: list[torch.Tensor] = []
    hook = confidence_rows(model).register_forward_hook(lambda _m, args, _o: captured.append(args[0].detach()))
    params, samples = model_params(model), []
    try:
        for name, frames in training_windows(root, per_video, strides, 448):
            for n in (2, 4):
                numbers, times, target_number = PROTOCOLS[("septuplet", n)]
                anchors = torch.from_numpy(np.stack([frames[i - 1] for i in numbers])).permute(0, 3, 1, 2).contiguous()
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
                sample["disagreement"] = aux["disagreement"].half()
                sample["error"] = torch.from_numpy(pixel_error(image, truth)).half()[None, None]
                mine = confidence_from(params, with_terms(model, sample))
                if (mine - aux["confidence"]).abs().max() > 1e-3:
                    raise SystemExit("The network computes its confidence differently now; update confidence_from.")
                samples.append(sample)
            print(f"  {name}: PSNR N=2 {samples[-2]['psnr']:.2f}", flush=True)
    finally:
        hook.remove()
    return samples


def with_terms(model: TempoNet, sample: Sample) -> Sample:
    """``sample`` with ``goodness`` (1 - entropy) and the model's ``correction`` added (``[1, 1, H, W]``)."""
    entropy = sample["entropy"].float()
    correction = correction_from(model, sample["hidden"].float(), tuple(entropy.shape[-2:]))
    return {**sample, "goodness": 1.0 - entropy, "correction": correction}


def pixel_subset(sample: Sample, step: int) -> Sample:
    """Every ``step``-th pixel of a sample's maps, flattened to ``[P]`` (the rest of the sample kept)."""
    maps = ("goodness", "correction", "disagreement", "error")
    return {
        **{k: v for k, v in sample.items() if k not in maps},
        **{k: sample[k].float().flatten()[::step] for k in maps},
    }


def fit(samples: list[Sample], start: Params, weight: float, tau: float) -> Params:
    """``scale`` and ``bias`` minimising ``losses.confidence_loss`` over the pixel subsets, ``weight`` fixed."""
    joined = {k: torch.cat([s[k] for s in samples]) for k in ("goodness", "correction", "disagreement", "error")}
    error = joined["error"][None, None, None].expand(1, 3, 1, -1)
    params = {"scale": start["scale"].clone(), "bias": start["bias"].clone(), "weight": torch.tensor(weight)}
    free = [params["scale"].requires_grad_(True), params["bias"].requires_grad_(True)]
    optimizer = torch.optim.LBFGS(free, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        confidence = confidence_from(params, joined)[None, None, None]
        # confidence_loss compares pred and target; give it the error as |pred - 0| (3 equal channels)
        loss = confidence_loss(confidence, error, torch.zeros_like(error), tau)
        loss.backward()
        return loss

    optimizer.step(closure)
    return {k: v.detach() for k, v in params.items()}


def frame_scores(samples: list[Sample], params: Params) -> dict[str, list[float]]:
    """Every candidate frame score (``confidence_ranking.candidates``) of every sample's map."""
    with torch.no_grad():
        maps = [confidence_from(params, s).reshape(1, -1).numpy() for s in samples]  # [1, P]: an H x W map
    return {name: [score(m) for m in maps] for name, score in candidates().items()}


def mean_over_n(samples: list[Sample], values: list[float]) -> float:
    """Spearman of ``values`` with the real PSNR, within N=2 and within N=4, averaged."""
    rhos = []
    for n in (2, 4):
        index = [i for i, s in enumerate(samples) if s["n"] == n]
        rhos.append(rank([samples[i] for i in index], [values[i] for i in index]))
    return float(np.mean(rhos))


def folds(samples: list[Sample]) -> list[set[str]]:
    """The held-out source sets: every ``FOLDS``-th source (sorted by name), from each of the first ``FOLDS``."""
    sources = sorted({s["source"] for s in samples})
    return [set(sources[fold::FOLDS]) for fold in range(FOLDS)]


def held_out_proxy(samples: list[Sample]) -> float:
    """The anchor-difference proxy's Spearman on each fold's held-out sources, averaged (for comparison)."""
    tests = [[s for s in samples if s["source"] in held] for held in folds(samples)]
    return float(np.mean([mean_over_n(test, [s["anchor_psnr"] for s in test]) for test in tests]))


def held_out_ranking(samples: list[Sample], start: Params, weight: float, tau: float) -> dict[str, float]:
    """Per candidate frame score: mean over the folds of the held-out Spearman (fit on the other folds)."""
    totals: dict[str, list[float]] = {}
    for held in folds(samples):
        params = fit([s for s in samples if s["source"] not in held], start, weight, tau)
        test = [s for s in samples if s["source"] in held]
        for name, values in frame_scores(test, params).items():
            totals.setdefault(name, []).append(mean_over_n(test, values))
    return {name: float(np.mean(values)) for name, values in totals.items()}


def choose(samples: list[Sample], start: Params, weights: list[float], taus: list[float]) -> tuple[float, float, str]:
    """The (weight, tau, frame score) with the best held-out ranking (module doc, step 3); prints each."""
    best = (-2.0, 0.0, 0.0, "")
    for weight in weights:
        for tau in taus:
            ranking = held_out_ranking(samples, start, weight, tau)
            name = max(ranking, key=ranking.get)
            print(f"weight {weight:+.2f} tau {tau}: held-out Spearman {ranking[name]:+.3f} ({name})", flush=True)
            best = max(best, (ranking[name], weight, tau, name))
    return best[1], best[2], best[3]


def describe(label: str, samples: list[Sample], params: Params, score: str) -> str:
    """One line: a frame score's ranking on ``samples`` beside the anchor-difference proxy."""
    spearman = mean_over_n(samples, frame_scores(samples, params)[score])
    proxy = mean_over_n(samples, [s["anchor_psnr"] for s in samples])
    return f"{label}: {score} Spearman {spearman:+.3f}, anchor difference {proxy:+.3f}"


def write(model: TempoNet, params: Params, out: Path, fp16: bool, metadata: dict[str, str], note: dict) -> None:
    """Replace only the confidence parameters of ``model`` and save it (``metadata`` kept, ``note`` added)."""
    with torch.no_grad():
        model.confidence_scale.copy_(params["scale"])
        model.confidence_bias.copy_(params["bias"])
        model.confidence_disagreement.copy_(params["weight"])
    save_weights(model, out, fp16=fp16, metadata={**metadata, "tempo.confidence_training": json.dumps(note)})


def cached(path: str | None, make: Callable[[], list[Sample]]) -> list[Sample]:
    """The samples of the cache at ``path`` if it exists, else ``make()`` (saved there when given)."""
    cache = Path(path) if path else None
    if cache is not None and cache.exists():
        return torch.load(cache, weights_only=False)
    samples = make()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(samples, cache)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", default="../shared/data/train")
    parser.add_argument("--checkpoint", help="model file (default: the bundled model)")
    parser.add_argument("--out", required=True, help="where to write the model with the new confidence")
    parser.add_argument("--fp16", action="store_true", help="store the weights in fp16 (as the shipped file)")
    parser.add_argument("--features", help="cache of the collected inputs (.pt): reused if it exists")
    parser.add_argument("--per_video", type=int, default=3)
    parser.add_argument("--strides", default="1,2,3")
    parser.add_argument("--weights", default="0,-0.5,-1,-1.5,-2,-2.5", help="disagreement weights to try")
    parser.add_argument("--taus", default="0.02,0.05,0.1", help="error scales of the loss's target to try")
    parser.add_argument("--pixel_step", type=int, default=3, help="fit on every this-many-th pixel")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint).float().eval()
    strides = [int(s) for s in args.strides.split(",")]
    samples = cached(args.features, lambda: collect(model, Path(args.data_root), args.per_video, strides))
    with torch.no_grad():
        samples = [pixel_subset(with_terms(model, s), args.pixel_step) for s in samples]
    start = model_params(model)
    print(f"{len(samples)} targets from {len({s['source'] for s in samples})} sources; mean over N=2 and N=4")
    print(f"anchor difference, held-out sources: Spearman {held_out_proxy(samples):+.3f}")
    weights = [float(w) for w in args.weights.split(",")]
    weight, tau, score = choose(samples, start, weights, [float(t) for t in args.taus.split(",")])
    final = fit(samples, start, weight, tau)
    print(f"chosen: weight {weight:+.2f}, tau {tau}, frame score {score}; refitted on all: "
          f"scale {float(final['scale']):.3f}, bias {float(final['bias']):.3f}")  # fmt: skip
    print(describe("input model, all training windows", samples, start, score))
    print(describe("refitted, all training windows (fitted on them)", samples, final, score))
    note = {"weight": weight, "tau": tau, "score": score, "script": "benchmarks/studies/train_confidence.py"}
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
