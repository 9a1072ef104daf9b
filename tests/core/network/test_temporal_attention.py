"""Deformable sampling fast path vs its readable reference; correlation; entropy."""

import math

import pytest
import torch
import torch.nn.functional as F

from tempo_core.network.correlation import (
    correlation_levels,
    correlation_pyramid,
    local_correlation,
    local_correlation_reference,
    tiled_correlation,
    unfolded_correlation,
)
from tempo_core.network.sampling import identity_grid, warp
from tempo_core.network.temporal_attention import (
    DeformableTemporalAttention,
    deformable_sample,
    deformable_sample_reference,
    normalized_entropy,
)


def test_fast_deformable_sampling_matches_reference():
    B, N, C, H, W, heads, points = 2, 3, 8, 9, 11, 2, 3
    values = torch.randn(B, N, C, H, W)
    offsets = torch.randn(B, N, heads, points, 2, H, W) * 3
    weights = torch.rand(B, N, heads, points, H, W)
    fast = deformable_sample(values, offsets, weights)
    reference = deformable_sample_reference(values, offsets, weights)
    assert torch.allclose(fast, reference, atol=1e-5)


def test_integer_offsets_sample_exact_pixels():
    values = torch.arange(2 * 5 * 7, dtype=torch.float32).view(1, 1, 2, 5, 7)
    offsets = torch.zeros(1, 1, 1, 1, 2, 5, 7)
    offsets[:, :, :, :, 0] = 1.0  # one pixel to the right
    weights = torch.ones(1, 1, 1, 1, 5, 7)
    out = deformable_sample(values, offsets, weights)
    assert torch.allclose(out[0, :, :, :-1], values[0, 0, :, :, 1:], atol=1e-4)


def test_warp_by_a_constant_shift():
    image = torch.rand(1, 3, 8, 8)
    offsets = torch.zeros(1, 2, 8, 8)
    offsets[:, 1] = 2.0  # sample two rows below
    assert torch.allclose(warp(image, offsets)[:, :, :6], image[:, :, 2:], atol=1e-6)


def test_correlation_peaks_at_the_true_displacement():
    key = torch.randn(1, 16, 24, 24)
    query = torch.roll(key, shifts=(1, -2), dims=(2, 3))  # query[y, x] = key[y - 1, x + 2]
    corr = local_correlation(query, key, radius=3).view(1, 7, 7, 24, 24)
    dy, dx = divmod(int(corr[0, :, :, 12, 12].argmax()), 7)
    assert (dy - 3, dx - 3) == (-1, 2)
    pyramid = correlation_pyramid(query, key, levels=4, radius=2)
    assert pyramid.shape == (1, 4 * 25, 24, 24)


def test_entropy_bounds():
    uniform = torch.full((1, 2, 1, 4, 3, 3), 1 / 8)
    peaked = torch.zeros(1, 2, 1, 4, 3, 3)
    peaked[:, 0, :, 0] = 1.0
    assert torch.allclose(normalized_entropy(uniform), torch.ones(1, 1, 3, 3))
    assert torch.allclose(normalized_entropy(peaked), torch.zeros(1, 1, 3, 3), atol=1e-6)
    assert math.isclose(float(normalized_entropy(uniform).max()), 1.0, rel_tol=1e-6)


def test_unfolded_correlation_matches_the_loop_and_has_gradients():
    query = torch.randn(2, 6, 9, 13, requires_grad=True)
    key = torch.randn(2, 6, 9, 13, requires_grad=True)
    # the GPU path (unfolded keys) against the loop that a CPU runs, values and gradients
    fast = unfolded_correlation(query, key, radius=2)
    loop = local_correlation(query, key, radius=2)
    assert torch.allclose(fast, loop, atol=1e-5) and torch.allclose(loop, local_correlation_reference(query, key, 2))
    fast.square().sum().backward()
    unfolded_grads = query.grad.clone(), key.grad.clone()
    query.grad = key.grad = None
    loop.square().sum().backward()
    assert torch.allclose(query.grad, unfolded_grads[0], atol=1e-4) and key.grad.abs().sum() > 0
    assert torch.allclose(key.grad, unfolded_grads[1], atol=1e-4)


@pytest.mark.parametrize(("height", "width", "radius"), [(9, 13, 2), (16, 24, 3), (1, 1, 3), (5, 40, 1)])
def test_tiled_correlation_matches_the_loop_at_any_size(height, width, radius):
    # inference (no gradient) runs in blocks of 8 x 8 query pixels, one batched product
    query, key = torch.randn(2, 6, height, width), torch.randn(2, 6, height, width)
    expected = local_correlation_reference(query, key, radius)
    torch.testing.assert_close(tiled_correlation(query, key, radius), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tiled_correlation(query, key, radius, tile=3), expected, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(local_correlation(query, key, radius), expected, atol=1e-5, rtol=1e-5)


def test_warp_constants_are_made_once_and_work_with_autograd_after_inference_mode():
    # the pixel grid and the grid_sample scale are cached per size, so the prior's hundreds of
    # warps per frame make no host-to-device copies; a copy first made under inference_mode
    # (the app's synthesis) must still serve a later training step
    images = torch.rand(1, 3, 8, 12)
    with torch.inference_mode():
        warp(images, torch.zeros(1, 2, 8, 12))
        assert identity_grid(8, 12, images.device, torch.float32) is identity_grid(8, 12, images.device, torch.float32)
    offsets = torch.full((1, 2, 8, 12), 0.5, requires_grad=True)
    warp(images, offsets).sum().backward()
    assert offsets.grad is not None and torch.isfinite(offsets.grad).all()


def test_the_context_of_the_levels_is_the_convolution_of_the_stacked_pyramid():
    # the attention projects each correlation level at its pooled size and upsamples the projection;
    # both steps are linear, so it must equal the 1 x 1 convolution of the upsampled, stacked pyramid
    torch.manual_seed(0)
    B, N, C, H, W, radius = 1, 2, 8, 20, 28, 2
    attention = DeformableTemporalAttention(C, 16, 4 * (2 * radius + 1) ** 2, heads=2, points=2, offset_scale=1.0)
    query, features, keys = torch.randn(B, C, H, W), torch.randn(B, N, C, H, W), torch.randn(B * N, C, H, W)
    per_frame_query = query[:, None].expand(B, N, C, H, W).flatten(0, 1)
    with torch.no_grad():
        projected = attention.project_features(features)
        context = attention._context(query, projected, correlation_levels(per_frame_query, keys, 4, radius))
        stacked = torch.cat(
            [per_frame_query, features.flatten(0, 1), correlation_pyramid(per_frame_query, keys, 4, radius)], 1
        )
        expected = attention.context(stacked).view(B, N, -1, H, W)
    torch.testing.assert_close(context, expected, atol=1e-4, rtol=1e-4)
    assert expected.abs().max() > 0.1


@pytest.mark.parametrize("size", [(24, 40), (20, 36), (6, 10)])
def test_correlation_levels_pool_each_level_from_the_full_map_up_to_rounding(size):
    """Levels pooled from the level before (where the blocks divide the map) equal the direct
    ceil-mode pooling of the full maps; (20, 36) divides by 4, not 8; (6, 10) ends at one pixel."""
    torch.manual_seed(0)
    query, key = torch.randn(2, 8, *size), torch.randn(2, 8, *size)
    height, width = size
    for level, volume in enumerate(correlation_levels(query, key, levels=4, radius=2)):
        factor = 2**level if min(height, width) // 2**level >= 1 else min(height, width)
        q = F.avg_pool2d(query, factor, ceil_mode=True) if factor > 1 else query
        k = F.avg_pool2d(key, factor, ceil_mode=True) if factor > 1 else key
        assert torch.allclose(volume, local_correlation(q, k, radius=2), atol=1e-5)
