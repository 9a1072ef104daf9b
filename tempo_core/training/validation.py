"""Validation during training: PSNR per septuplet protocol, how well the confidence ranks the error,
and whether a score improves on the best so far (which decides ``best.pt``).

PSNR is measured on the 8-bit rounded output, as a saved frame would be. The score that picks
``best.pt`` is ``val_psnr`` (N=2, higher is better) or, without ``--val_root``, the epoch's mean
``train_charbonnier`` (lower is better: the total loss changes scale when the schedule adds terms).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from tempo_core.training.datasets import SeptupletValDataset


def pad32(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """Replicate-pad the last two dims to multiples of 32; returns the padded tensor, H, W."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % 32, (-w) % 32
    if ph or pw:
        shape = x.shape
        x = F.pad(x.reshape(-1, *shape[-3:]), (0, pw, 0, ph), mode="replicate")
        x = x.reshape(*shape[:-2], h + ph, w + pw)
    return x, h, w


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman correlation of two 1-D tensors (ties broken by order); NaN if one is flat."""
    ranks = [
        torch.empty_like(x, dtype=torch.float64).scatter_(0, x.argsort(), torch.arange(len(x), dtype=torch.float64))
        for x in (a, b)
    ]
    ra, rb = (r - r.mean() for r in ranks)
    denominator = float(ra.norm() * rb.norm())
    return float((ra * rb).sum()) / denominator if denominator > 0 else float("nan")


@torch.no_grad()
def validate_model(
    model: torch.nn.Module,
    val_sets: dict[int, SeptupletValDataset],
    device: torch.device,
    amp_dtype: torch.dtype,
    amp_enabled: bool,
) -> dict[str, float]:
    """Mean PSNR on the septuplets per N (``val_psnr`` for N=2, ``val_psnr_n{N}`` for others) and,
    for N=2, the Spearman correlation of 1 - confidence vs. per-pixel error (``val_conf_spearman``).

    Puts ``model`` in eval mode and leaves it there.
    """
    results: dict[str, float] = {}
    model.eval()
    for n, val_set in val_sets.items():
        psnrs, rank_corrs = [], []
        for index in range(len(val_set)):
            sample = val_set[index]
            frames, height, width = pad32(sample["frames"][None].to(device))
            with torch.autocast(device.type, amp_dtype, enabled=amp_enabled):
                out, aux = model(
                    frames,
                    sample["timestamps"][None].to(device),
                    sample["target_time"].to(device),
                )
            out = (out[0, :, :height, :width].float().clamp(0, 1).cpu() * 255).round() / 255
            mse = float(((out - sample["target"]) ** 2).mean())
            psnrs.append(10 * math.log10(1.0 / max(mse, 1e-10)))
            if n == 2 and "confidence" in aux:
                error = (out - sample["target"]).abs().mean(0).flatten()
                confidence = aux["confidence"][0, 0, :height, :width].float().cpu().flatten()
                rank_corrs.append(rank_correlation(1 - confidence, error))
        key = "val_psnr" if n == 2 else f"val_psnr_n{n}"
        results[key] = float(np.mean(psnrs))
        if rank_corrs:
            results["val_conf_spearman"] = float(np.nanmean(rank_corrs))
    return results


def improves(metric: float, best: float | None, metric_name: str) -> bool:
    """Whether ``metric`` beats ``best`` (none yet: it does); ``val_psnr`` rises, losses fall."""
    if best is None:
        return True
    return metric > best if metric_name == "val_psnr" else metric < best


def validation_line(step: int, metric: float, best: float, best_step: int, extra: dict[str, float]) -> str:
    """The log line of a validation: N=2 PSNR, the best so far, then the other scores."""
    more = "".join(f", {k} {v:.3f}" for k, v in extra.items())
    return f"validation step {step}: PSNR {metric:.2f} dB (best {best:.2f} at step {best_step}){more}"
