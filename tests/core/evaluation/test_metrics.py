"""PSNR / SSIM / confidence metrics against hand-computed values and plain reference code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tempo_core.evaluation import metrics


def _random_image(rng: np.random.Generator, height: int = 16, width: int = 20) -> np.ndarray:
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _ssim_matlab_torch(a: np.ndarray, b: np.ndarray) -> float:
    """RIFE's ``ssim_matlab`` written with torch.conv3d, as in its benchmark code."""
    taps = torch.tensor(metrics.gaussian_window(11, 1.5))
    window = (taps[:, None, None] * taps[None, :, None] * taps[None, None, :])[None, None]

    def volume(x: np.ndarray) -> torch.Tensor:  # (1, 1, 3, H, W) in [0, 1], replicate-padded
        t = torch.from_numpy(x.astype(np.float64) / 255.0).permute(2, 0, 1)[None, None]
        return F.pad(t, (5, 5, 5, 5, 5, 5), mode="replicate")

    x, y = volume(a), volume(b)
    mu1, mu2 = F.conv3d(x, window), F.conv3d(y, window)
    s11 = F.conv3d(x * x, window) - mu1**2
    s22 = F.conv3d(y * y, window) - mu2**2
    s12 = F.conv3d(x * y, window) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(ssim_map.mean())


def _ssim_skimage7_loops(a: np.ndarray, b: np.ndarray) -> float:
    """scikit-image's default SSIM (7x7 uniform, sample covariance), window by window."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    height, width, _ = a.shape
    values = []
    for channel in range(3):
        for top in range(height - 6):
            for left in range(width - 6):
                pa = a[top : top + 7, left : left + 7, channel].astype(np.float64).ravel()
                pb = b[top : top + 7, left : left + 7, channel].astype(np.float64).ravel()
                va, vb = pa.var(ddof=1), pb.var(ddof=1)
                cov = np.cov(pa, pb, ddof=1)[0, 1]
                mu_a, mu_b = pa.mean(), pb.mean()
                values.append(((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_psnr_hand_computed_and_capped() -> None:
    pred = np.zeros((8, 8, 3), np.uint8)
    target = np.full((8, 8, 3), 10, np.uint8)
    assert metrics.psnr(pred, target) == pytest.approx(10 * math.log10(255**2 / 100.0))
    assert metrics.psnr(target, target) == metrics.PSNR_CAP == 99.0
    one_off = target.copy()
    one_off[0, 0, 0] = 11  # MSE = 1 / 192: 70.9 dB, below the cap
    assert metrics.psnr(one_off, target) == pytest.approx(10 * math.log10(255**2 * 192))


@pytest.mark.parametrize("variant", metrics.SSIM_VARIANTS)
def test_ssim_of_identical_images_is_one(variant: str) -> None:
    image = _random_image(np.random.default_rng(0))
    assert metrics.ssim(image, image, variant) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("variant", metrics.SSIM_VARIANTS)
def test_ssim_of_flat_images_is_the_luminance_term(variant: str) -> None:
    # No variance anywhere: SSIM = (2ab + C1) / (a^2 + b^2 + C1) in every window.
    a, b = 100.0, 130.0
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    pred = np.full((16, 16, 3), a, np.uint8)
    target = np.full((16, 16, 3), b, np.uint8)
    assert metrics.ssim(pred, target, variant) == pytest.approx(expected, rel=1e-12)


def test_ssim_matlab3d_matches_rife_conv3d_reference() -> None:
    rng = np.random.default_rng(1)
    a = _random_image(rng, 14, 19)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    assert metrics.ssim(a, b, "matlab3d") == pytest.approx(_ssim_matlab_torch(a, b), abs=1e-10)


def test_ssim_skimage7_matches_window_loops() -> None:
    rng = np.random.default_rng(2)
    a = _random_image(rng, 10, 11)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    assert metrics.ssim(a, b, "skimage7") == pytest.approx(_ssim_skimage7_loops(a, b), abs=1e-10)


def test_metrics_refuse_float_or_mismatched_images() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError):
        metrics.psnr(image.astype(np.float32), image)
    with pytest.raises(ValueError):
        metrics.ssim(image, np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError):
        metrics.ssim(image, image, "nope")


def test_to_uint8_clips_and_rounds_half_to_even() -> None:
    values = np.array([-0.2, 0.0, 0.5 / 255, 1.5 / 255, 1.0, 1.3]).reshape(1, 2, 3)
    assert metrics.to_uint8(values).ravel().tolist() == [0, 0, 0, 2, 255, 255]


def test_spearman_with_ties_hand_computed() -> None:
    # ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): r = 4.5 / sqrt(4.5 * 5)
    value = metrics.spearman(np.array([1, 2, 2, 3]), np.array([10, 20, 30, 40]))
    assert value == pytest.approx(4.5 / math.sqrt(22.5))
    assert metrics.spearman(np.arange(5), np.arange(5) ** 3) == pytest.approx(1.0)
    assert metrics.spearman(np.arange(5), -np.arange(5)) == pytest.approx(-1.0)
    assert math.isnan(metrics.spearman(np.ones(5), np.arange(5)))


def test_ause_hand_computed() -> None:
    error = np.array([0.0, 0.0, 1.0, 1.0])
    # Worst ranking, 2 steps (f = 0, 0.5): curve (1, 2), oracle (1, 0) -> area 0.5 * 2 / 2.
    assert metrics.ause(error, 1.0 - error, steps=2) == pytest.approx(0.5)
    assert metrics.ause(error, error, steps=2) == pytest.approx(0.0)
    # A constant uncertainty removes pixels at random: its curve is flat at 1.
    _, curve, _ = metrics.sparsification_curves(error, np.zeros(4), steps=2)
    assert curve.tolist() == pytest.approx([1.0, 1.0])


def test_confidence_quality_of_a_perfect_confidence() -> None:
    rng = np.random.default_rng(3)
    target = _random_image(rng)
    pred = np.clip(target.astype(int) + rng.integers(-50, 50, target.shape), 0, 255).astype(np.uint8)
    error = metrics.pixel_error(pred, target)
    perfect = metrics.confidence_quality(pred, target, 1.0 - error)
    assert perfect["spearman"] == pytest.approx(1.0)
    assert perfect["ause"] == pytest.approx(0.0, abs=1e-12)
    flat = metrics.confidence_quality(pred, target, np.full(error.shape, 0.7))
    assert flat["ause"] == pytest.approx(flat["ause_random"])
    assert flat["ause_random"] > 0
