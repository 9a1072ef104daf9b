"""Image quality and confidence-quality metrics, computed the way the Vimeo-90K literature does.

All image metrics take **uint8 RGB arrays ``H x W x 3`` at full frame size** (no crop, no
resize); a float prediction must first be quantized with :func:`to_uint8` (round half up), so a
model is scored on exactly the pixels it would write to disk.

PSNR (:func:`psnr`)
    ``10 * log10(255**2 / MSE)`` with the MSE over all pixels *and* channels of the quantized
    images (equivalently ``-10 log10(MSE)`` on ``x / 255``), as in RIFE / EMA-VFI / AMT.
    Identical images would give infinity; the value is **capped at 99 dB** (:data:`PSNR_CAP`)
    so that means and JSON stay finite.

SSIM (:func:`ssim`)
    Wang et al. 2004 with an 11 x 11 Gaussian window of sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``,
    dynamic range ``L = 255``, population (not sample) statistics. Two variants:

    * ``"matlab3d"`` (default) -- the ``ssim_matlab`` of the RIFE benchmark code, which
      EMA-VFI, AMT, IFRNet and most Vimeo-90K tables since 2021 reuse: the RGB image is treated
      as one ``3 x H x W`` volume, filtered with a separable 11 x 11 x 11 Gaussian (sigma 1.5)
      after edge-replicate padding of 5 on every axis (so the channel axis is blurred too),
      and the SSIM map is averaged over the full ``3 x H x W`` output. This is the variant that
      reproduces the blend baseline of ``../shared/data/README.md`` (see docs/benchmarks.md).
    * ``"rgb"`` -- per-channel 2-D SSIM with "valid" filtering (no padding, the border of 5
      pixels is dropped), averaged over R, G, B: ``skimage.metrics.structural_similarity(...,
      channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
      data_range=255)``, also what ``pytorch_msssim.ssim`` gives.

    One more variant is *not* Gaussian but is provided because the baseline table of
    ``../shared/data/README.md`` was computed with it:

    * ``"skimage7"`` -- scikit-image's defaults, ``structural_similarity(..., channel_axis=-1,
      data_range=255)``: a 7 x 7 uniform window, sample covariance (``N / (N - 1)``, N = 49),
      "valid" per channel, averaged over R, G, B. It gives lower values than the Gaussian
      variants (blend on the val set: 0.7759 vs 0.8652 for ``matlab3d``).

Confidence quality (:func:`confidence_quality`)
    The per-pixel error is the mean absolute difference over R, G, B of the uint8 images,
    divided by 255. The uncertainty is ``1 - confidence``. Reported per target (then averaged
    over targets by :mod:`tempo_core.evaluation.evaluate`):

    * ``spearman``: Spearman rank correlation between uncertainty and error (ties get their
      average rank). 1 = the confidence ranks the errors perfectly, 0 = no relation; ``nan``
      when either is constant.
    * ``ause``: area under the sparsification error curve minus the oracle curve (Ilg et al.
      2018). Remove the fraction ``f`` of most uncertain pixels, take the mean error of the rest;
      the oracle removes the pixels with the largest true error. Both curves are divided by the
      mean error over all pixels, sampled at ``f = 0, 1/steps, ..., (steps-1)/steps`` (default
      20 steps) and the difference is integrated with the trapezoid rule. 0 is perfect; a
      confidence with no information scores about the area under the oracle curve's gap
      (reported as ``ause_random``). Pixels of equal confidence are removed as a group in random
      order, i.e. each gets their group's mean error, so a constant confidence is ``random``.

Only numpy is used (no scipy, no scikit-image).
"""

from __future__ import annotations

import math

import numpy as np

PSNR_CAP = 99.0
SSIM_VARIANTS = ("matlab3d", "rgb", "skimage7")
_WINDOW = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantize a float image in [0, 1] to uint8: clip, scale by 255, round half to even.

    Half-to-even is what ``torch.round`` / ``np.round`` do, i.e. what RIFE-style evaluation
    scripts and :func:`tempo_core.inference.tensor_to_image` do.
    """
    if image.dtype == np.uint8:
        return image
    return np.rint(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def _check_pair(pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 RGB images, got shape {pred.shape}")
    if pred.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError("metrics take uint8 images; quantize with to_uint8 first")


def psnr(pred: np.ndarray, target: np.ndarray, cap: float = PSNR_CAP) -> float:
    """PSNR in dB of two uint8 ``H x W x 3`` images, capped at ``cap`` (identical -> ``cap``)."""
    _check_pair(pred, target)
    diff = pred.astype(np.float64) - target.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float(cap)
    return float(min(cap, 10.0 * math.log10(255.0**2 / mse)))


def gaussian_window(size: int = _WINDOW, sigma: float = _SIGMA) -> np.ndarray:
    """Normalized 1-D Gaussian taps (sum 1), centred."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    taps = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return taps / taps.sum()


def _filter_valid(volume: np.ndarray, taps: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Separable 'valid' correlation of ``volume`` with ``taps`` along each of ``axes``."""
    out = volume
    for axis in axes:
        length = out.shape[axis] - len(taps) + 1
        acc = np.zeros(out.shape[:axis] + (length,) + out.shape[axis + 1 :], dtype=np.float64)
        for k, weight in enumerate(taps):  # shifted adds: no 11x window copy of a 1080p frame
            acc += weight * np.take(out, np.arange(k, k + length), axis=axis)
        out = acc
    return out


def _ssim_map(
    x: np.ndarray, y: np.ndarray, axes: tuple[int, ...], taps: np.ndarray, sample_cov: bool = False
) -> np.ndarray:
    mu_x = _filter_valid(x, taps, axes)
    mu_y = _filter_valid(y, taps, axes)
    var_x = _filter_valid(x * x, taps, axes) - mu_x * mu_x
    var_y = _filter_valid(y * y, taps, axes) - mu_y * mu_y
    cov = _filter_valid(x * y, taps, axes) - mu_x * mu_y
    if sample_cov:
        count = len(taps) ** len(axes)
        correction = count / (count - 1.0)
        var_x, var_y, cov = var_x * correction, var_y * correction, cov * correction
    c1 = (_K1 * 255.0) ** 2
    c2 = (_K2 * 255.0) ** 2
    num = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return num / den


def ssim(pred: np.ndarray, target: np.ndarray, variant: str = "matlab3d") -> float:
    """SSIM of two uint8 ``H x W x 3`` images (see the module docstring for the variants)."""
    _check_pair(pred, target)
    x = pred.astype(np.float64).transpose(2, 0, 1)  # (3, H, W)
    y = target.astype(np.float64).transpose(2, 0, 1)
    if variant == "matlab3d":
        pad = _WINDOW // 2
        x = np.pad(x, pad, mode="edge")
        y = np.pad(y, pad, mode="edge")
        return float(_ssim_map(x, y, (0, 1, 2), gaussian_window()).mean())
    if variant in ("rgb", "skimage7"):
        size = _WINDOW if variant == "rgb" else 7
        if min(x.shape[1:]) < size:
            raise ValueError(f"images must be at least {size} pixels on each side for {variant} SSIM")
        taps = gaussian_window() if variant == "rgb" else np.full(7, 1.0 / 7.0)
        return float(_ssim_map(x, y, (1, 2), taps, sample_cov=variant == "skimage7").mean())
    raise ValueError(f"unknown SSIM variant {variant!r}; choose one of {', '.join(SSIM_VARIANTS)}")


def pixel_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pixel error ``H x W`` in [0, 1]: mean absolute RGB difference of uint8 images / 255."""
    _check_pair(pred, target)
    diff = np.abs(pred.astype(np.float64) - target.astype(np.float64))
    return diff.mean(axis=2) / 255.0


def rank_average(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties sharing their average rank (as scipy's rankdata)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)  # rank of the last member of each group of equal values
    avg_rank = last_rank - (counts - 1) / 2.0
    return avg_rank[inverse.ravel()]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equally sized arrays; ``nan`` if either is constant."""
    ra = rank_average(a)
    rb = rank_average(b)
    if ra.shape != rb.shape:
        raise ValueError("spearman needs arrays of the same size")
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float(np.dot(ra, ra)) * float(np.dot(rb, rb)))
    if denom == 0.0:
        return float("nan")
    return float(np.dot(ra, rb) / denom)


def _remaining_mean_curve(errors_sorted: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Mean error left after removing the first ``round(f * n)`` entries of a sorted array."""
    n = errors_sorted.size
    suffix = np.concatenate([np.cumsum(errors_sorted[::-1])[::-1], [0.0]])
    removed = np.minimum(np.round(fractions * n).astype(np.int64), n - 1)
    return suffix[removed] / (n - removed)


def sparsification_curves(
    error: np.ndarray, uncertainty: np.ndarray, steps: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fractions, curve, oracle)``, both curves normalized by the mean error.

    ``curve`` removes the most uncertain pixels first (equal uncertainties as a group, each
    counting their group's mean error); ``oracle`` removes the largest errors first.
    """
    err = np.asarray(error, dtype=np.float64).ravel()
    unc = np.asarray(uncertainty, dtype=np.float64).ravel()
    if err.shape != unc.shape:
        raise ValueError("error and uncertainty maps must have the same size")
    fractions = np.arange(steps, dtype=np.float64) / steps
    total = err.mean()
    if total == 0.0:
        flat = np.zeros_like(fractions)
        return fractions, flat, flat
    order = np.argsort(-unc, kind="stable")
    unc_sorted = unc[order]
    err_sorted = err[order]
    # Tied uncertainties carry no ranking: give every member its group's mean error.
    _, starts, counts = np.unique(-unc_sorted, return_index=True, return_counts=True)
    group_means = np.add.reduceat(err_sorted, starts) / counts
    err_sorted = np.repeat(group_means, counts)
    oracle_sorted = np.sort(err)[::-1]
    curve = _remaining_mean_curve(err_sorted, fractions) / total
    oracle = _remaining_mean_curve(oracle_sorted, fractions) / total
    return fractions, curve, oracle


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def ause(error: np.ndarray, uncertainty: np.ndarray, steps: int = 20) -> float:
    """Area between the sparsification curve and the oracle's (0 = perfect ranking)."""
    fractions, curve, oracle = sparsification_curves(error, uncertainty, steps)
    return _trapezoid(curve - oracle, fractions)


def confidence_quality(
    pred: np.ndarray, target: np.ndarray, confidence: np.ndarray, steps: int = 20
) -> dict[str, float]:
    """Spearman and AUSE of ``1 - confidence`` against the per-pixel error of ``pred``.

    ``confidence`` is ``H x W`` in [0, 1]. Also returns ``ause_random``: the AUSE of a
    confidence without information (the oracle gap of a flat curve), for scale.
    """
    error = pixel_error(pred, target)
    conf = np.asarray(confidence, dtype=np.float64)
    if conf.shape != error.shape:
        raise ValueError(f"confidence {conf.shape} does not match the image {error.shape}")
    uncertainty = 1.0 - conf
    fractions, curve, oracle = sparsification_curves(error, uncertainty, steps)
    return {
        "spearman": spearman(uncertainty, error),
        "ause": _trapezoid(curve - oracle, fractions),
        "ause_random": _trapezoid(np.ones_like(oracle) - oracle, fractions) if error.mean() > 0 else 0.0,
    }
