"""The motion prior: observation weights, block matching, and the local-global (Lucas-Kanade) polish."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

import tempo_core.network.filters as filters
from tempo_core.network.filters import box_mean, median_filter, replicate_sum3
from tempo_core.network.layers import OBSERVATION_SHARPNESS, time_proximity
from tempo_core.network.motion import BilateralMotionPrior, counting_observations, image_pyramid, nearest_observations
from tempo_core.network.motion_refinement import (
    _weighted_moments,
    lucas_kanade_step,
    polish,
    polish_and_propagate,
    propagate,
    with_gradient_channels,
)
from tempo_core.network.prior_config import PriorConfig
from tempo_core.network.sampling import upsample_velocity, warp

CONFIG = PriorConfig()


def observation_weights(dt: torch.Tensor) -> torch.Tensor:
    return time_proximity(dt, OBSERVATION_SHARPNESS)


PAIR = torch.tensor([[-0.5, 0.5]])
PAIR_WEIGHTS = observation_weights(PAIR)


def shifted_texture(
    velocity: tuple[float, float], dts: list[float], size: int = 96, flat_from: int | None = None
) -> torch.Tensor:
    """A smooth texture seen at ``dts``: observation i is the target moved by ``velocity * dt_i``.

    Returns ``[1, N, 3, size, size]``; the target (dt = 0) is the texture itself, grey from column
    ``flat_from`` on when it is given.
    """
    torch.manual_seed(0)
    texture = F.interpolate(torch.rand(1, 3, size // 6, size // 6), size=(size, size), mode="bicubic")
    texture = texture.clamp(0, 1)
    if flat_from is not None:
        texture[..., flat_from:] = 0.5
    frames = []
    for dt in dts:
        # observation i shows at p + v * dt what the target shows at p: out(p + v dt) = target(p)
        offsets = -torch.tensor(velocity).view(1, 2, 1, 1) * dt * torch.ones(1, 2, size, size)
        frames.append(warp(texture, offsets))
    return torch.stack(frames, dim=1)


def test_observation_weights_favour_the_nearest_and_sum_to_one():
    dt = torch.tensor([[-0.5, -1 / 6, 1 / 6, 0.5], [-0.5, 0.5, 0.1, -0.2]])
    weights = observation_weights(dt)
    assert torch.allclose(weights.sum(dim=1), torch.ones(2))
    assert weights[0, 1] == weights[0, 2] and weights[0, 1] > 3 * weights[0, 0]
    assert weights[1].argmax() == 2
    symmetric_pair = observation_weights(torch.tensor([[-0.5, 0.5]]))
    assert torch.allclose(symmetric_pair, torch.full((1, 2), 0.5))


def test_lucas_kanade_recovers_a_subpixel_motion():
    true_velocity = (2.6, -1.3)  # pixels per unit time
    dts = [-0.5, 0.5]
    frames = shifted_texture(true_velocity, dts)
    dt = torch.tensor([dts])
    start = torch.zeros(1, 2, 96, 96)
    velocity = start
    for _ in range(4):
        velocity = polish(frames, velocity, dt, observation_weights(dt), CONFIG)
    inner = velocity[..., 16:-16, 16:-16]
    assert abs(inner[:, 0].median() - true_velocity[0]) < 0.1
    assert abs(inner[:, 1].median() - true_velocity[1]) < 0.1


def test_lucas_kanade_step_is_bounded_and_leaves_flat_images_alone():
    flat = torch.full((1, 2, 3, 32, 32), 0.5)
    step = lucas_kanade_step(flat, torch.zeros(1, 2, 32, 32), PAIR, PAIR_WEIGHTS, CONFIG)
    assert torch.equal(step, torch.zeros_like(step))
    noise = torch.rand(1, 2, 3, 32, 32)
    step = lucas_kanade_step(noise, torch.zeros(1, 2, 32, 32), PAIR, PAIR_WEIGHTS, CONFIG)
    assert step.abs().max() <= 1.0 and torch.isfinite(step).all()


@pytest.mark.parametrize("refine", [polish, polish_and_propagate])
def test_refinement_keeps_the_gradient_path_of_the_velocity(refine):
    frames = shifted_texture((1.0, 0.0), [-0.5, 0.5], size=32)
    velocity = torch.zeros(1, 2, 32, 32, requires_grad=True)
    refine(frames, velocity, PAIR, PAIR_WEIGHTS, CONFIG).sum().backward()
    assert torch.equal(velocity.grad, torch.ones_like(velocity))


def test_upsample_velocity_rescales_units():
    velocity = torch.ones(1, 2, 8, 16)
    up = upsample_velocity(velocity, (32, 32))
    assert up.shape == (1, 2, 32, 32)
    assert torch.allclose(up[:, 0], torch.full((1, 32, 32), 2.0))
    assert torch.allclose(up[:, 1], torch.full((1, 32, 32), 4.0))


def test_prior_finds_large_motion_and_refines_it_at_full_resolution():
    true_velocity = (14.4, 5.2)
    dts = [-0.5, -1 / 6, 1 / 6, 0.5]
    frames = shifted_texture(true_velocity, dts, size=128)
    dt = torch.tensor([dts])
    prior = BilateralMotionPrior()
    with torch.no_grad():
        velocity = prior.velocities(image_pyramid(frames), dt)[0]
        full = prior.full_resolution(frames, dt, velocity)
    assert full.shape == (1, 2, 128, 128)
    inner = full[..., 24:-24, 24:-24]
    coarse_error = (velocity[..., 6:-6, 6:-6] * 4 - torch.tensor(true_velocity).view(1, 2, 1, 1)).abs().mean()
    fine_error = (inner - torch.tensor(true_velocity).view(1, 2, 1, 1)).abs().mean()
    assert fine_error < 0.25
    assert fine_error <= coarse_error + 1e-3


def test_smoothness_steadies_the_estimate_and_carries_it_into_a_flat_region():
    true_velocity = (1.5, 0.0)
    frames = shifted_texture(true_velocity, [-0.5, 0.5], size=64, flat_from=40)  # no data term on the right
    dt = torch.tensor([[-0.5, 0.5]])
    velocity = torch.zeros(1, 2, 64, 64)
    for _ in range(8):
        velocity = polish(frames, velocity, dt, PAIR_WEIGHTS, CONFIG, median=False)
    column_medians = velocity[0, 0, 8:-8].median(dim=0).values  # (64,)
    assert (column_medians[8:32] - true_velocity[0]).abs().max() < 0.1
    assert column_medians[46] > 0.5 * true_velocity[0]  # 3 pixels past the reach of the data term


def test_median_filter_removes_an_outlier_and_keeps_a_motion_edge():
    clean = torch.zeros(1, 2, 16, 16)
    clean[..., 8:] = 3.0  # two regions moving differently, the edge between columns 7 and 8
    noisy = clean.clone()
    noisy[0, 0, 4, 3] = 50.0  # one wrong vector
    assert torch.equal(median_filter(noisy, 5), clean)


def test_gradient_channels_follow_the_grey_level():
    ramp = torch.linspace(0, 1, 8).expand(1, 2, 3, 8, 8)
    features = with_gradient_channels(ramp, CONFIG)
    assert features.shape == (1, 2, 5, 8, 8)
    assert torch.equal(features[:, :, :3], ramp)
    assert torch.allclose(features[:, :, 3, :, 1:-1], torch.full((1, 2, 8, 6), 1 / 7))
    assert torch.allclose(features[:, :, 4], torch.zeros(1, 2, 8, 8))


def test_propagation_replaces_a_wrong_region_by_its_neighbours_motion():
    true_velocity = torch.tensor([2.0, -1.0]).view(1, 2, 1, 1)
    frames = shifted_texture((2.0, -1.0), [-0.5, 0.5], size=64)
    dt = torch.tensor([[-0.5, 0.5]])
    velocity = true_velocity.expand(1, 2, 64, 64).clone()
    velocity[..., 24:36, 20:32] = torch.tensor([-3.0, 2.0]).view(1, 2, 1, 1)  # a wrong 12 x 12 region
    propagated = propagate(frames, velocity, dt, PAIR_WEIGHTS, CONFIG)
    assert torch.equal(propagated, true_velocity.expand(1, 2, 64, 64))
    assert torch.equal(propagate(frames, velocity, dt, PAIR_WEIGHTS, CONFIG, distances=(8, 4, 2, 1)), propagated)
    assert torch.equal(propagate(frames, velocity, dt, PAIR_WEIGHTS, CONFIG, distances=()), velocity)  # none


def test_prior_reaches_as_far_between_the_bracketing_pair_with_four_observations():
    # 120 pixels between the bracketing frames: in normalized time the N=4 span is three gaps, and
    # a search in those units reaches only a third as far as with N=2 (see pair_gap); it missed
    # this motion by 26 pixels on average
    pair_motion = (120.0, 24.0)
    prior = BilateralMotionPrior()
    for dts in ([-0.5, 0.5], [-1.5, -0.5, 0.5, 1.5]):
        dt = torch.tensor([dts]) / (dts[-1] - dts[0])
        frames = shifted_texture(pair_motion, dts, size=256)
        with torch.no_grad():
            velocity = prior.full_resolution(frames, dt, prior.velocities(image_pyramid(frames), dt)[0])
        found = velocity[..., 64:-64, 64:-64] * (dt[0, -1] - dt[0, 0]) / (dts[-1] - dts[0])  # per gap
        error = (found - torch.tensor(pair_motion).view(1, 2, 1, 1)).abs().mean()
        assert error < 0.5, f"N={len(dts)}: mean error {error:.2f} px"


def test_the_prior_leaves_out_only_observations_that_weigh_nothing():
    anchors = torch.tensor([[-1.0, 0.0, 1.0, 2.0]])
    assert counting_observations(anchors - 0.5).tolist() == [[False, True, True, False]]  # far ones a gap out
    assert counting_observations(anchors - 0.125).tolist() == [[True, True, True, False]]  # -1: a quarter gap
    assert counting_observations(torch.tensor([[0.0, 1.0]]) - 0.3).tolist() == [[True, True]]
    # the prior keeps the nearest three (a fixed number: no wait on the device), in time order
    dt, (kept,) = nearest_observations(anchors - 0.125, [torch.arange(4.0).view(1, 4)])
    assert kept.tolist() == [[0.0, 1.0, 2.0]] and torch.equal(dt, anchors[:, :3] - 0.125)


def test_far_observations_left_out_do_not_change_the_velocity():
    # N=4 at -1, 0, 1, 2 with the target midway: the far two weigh e^-8 and are not even looked at,
    # so replacing them by noise changes nothing (and costs no time)
    dts = [-1.5, -0.5, 0.5, 1.5]
    frames = shifted_texture((6.0, 2.0), dts, size=64)
    noisy = frames.clone()
    noisy[:, [0, 3]] = torch.rand_like(noisy[:, [0, 3]])
    dt = torch.tensor([dts]) / 3
    prior = BilateralMotionPrior()
    with torch.no_grad():
        results = []
        for observed in (frames, noisy):
            quarter = prior.velocities(image_pyramid(observed), dt)[0]
            results.append(prior.full_resolution(observed, dt, quarter))
    assert torch.equal(results[0], results[1])


@pytest.mark.parametrize(("height", "width"), [(9, 13), (4, 5), (1, 1)])
@pytest.mark.parametrize("size", [1, 3, 7, 9])
def test_box_mean_equals_average_pooling_over_the_covered_pixels(height, width, size):
    # the slice sums replace avg_pool2d (faster on a CPU); a block past the border averages what it covers
    values = torch.randn(2, 3, height, width)
    expected = F.avg_pool2d(values, size, stride=1, padding=size // 2, count_include_pad=False)
    torch.testing.assert_close(box_mean(values, size), expected)
    if min(height, width) >= 2:  # the CPU's slices (maps of thousands of pixels) against a padded pooling
        padded = F.pad(values, (1, 1, 1, 1), mode="replicate")
        torch.testing.assert_close(replicate_sum3(values) / 9, F.avg_pool2d(padded, 3, stride=1))


def test_box_mean_made_first_under_inference_mode_still_serves_autograd():
    # its border counts are cached per size: a copy first made during the app's synthesis
    # (inference mode) must still work in a later training step
    with torch.inference_mode():
        box_mean(torch.rand(1, 1, 11, 6), 5)
    values = torch.rand(1, 1, 11, 6, requires_grad=True)
    box_mean(values, 5).sum().backward()
    assert values.grad is not None and torch.isfinite(values.grad).all()
    # the cached counts themselves are normal tensors (an inference tensor cannot be saved for
    # backward by any later use that multiplies it with a tensor that needs a gradient)
    cached = filters._inverse_block_area(11, 6, 5, values.device, values.dtype)
    assert not cached.is_inference()


def test_the_prior_settings_are_one_frozen_config_that_studies_replace():
    frames = shifted_texture((3.0, 1.0), [-0.5, 0.5], size=64)
    dt = torch.tensor([[-0.5, 0.5]])
    prior = BilateralMotionPrior()
    with pytest.raises(dataclasses.FrozenInstanceError):
        prior.config.lk_iterations = 1  # type: ignore[misc]
    default = PriorConfig()
    with torch.no_grad():
        tuned = prior.synthesize_alone(frames, dt)
        prior.config = dataclasses.replace(prior.config, lk_iterations=0, propagation_distances=())
        plain = prior.synthesize_alone(frames, dt)
    assert PriorConfig() == default and prior.config != default  # a copy changed, not the defaults
    assert not torch.equal(tuned, plain)


def test_the_two_observation_moments_equal_the_general_ones():
    # N=2 takes a shortcut (w0 w1 times the products of the difference); a third observation of
    # weight 0 takes the general path and must give the same moments
    torch.manual_seed(0)
    components = torch.randn(2, 2, 5, 3, 6, 7)
    weights = torch.tensor([[0.3, 0.7], [0.5, 0.5]])
    outer, spread = _weighted_moments(components, weights)
    padded = torch.cat([components, torch.randn(2, 1, 5, 3, 6, 7)], dim=1)
    general = _weighted_moments(padded, torch.cat([weights, torch.zeros(2, 1)], dim=1))
    torch.testing.assert_close(outer, general[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(spread, general[1], atol=1e-5, rtol=1e-5)
    assert outer.shape == (2, 5, 6, 7) and spread.shape == (2, 1, 6, 7)


@pytest.mark.parametrize("observations", [2, 3])
def test_the_cpu_slice_paths_give_the_numbers_of_the_single_operation_paths(monkeypatch, observations):
    # on a CPU's large maps the filters and products run as slices and per-pair sums (faster
    # there); both paths must compute the same step
    torch.manual_seed(1)
    images = torch.rand(1, observations, 5, 20, 24)
    velocity = torch.randn(1, 2, 20, 24)
    dt = torch.tensor([[-0.5, 0.5, 1.5][:observations]])
    weights = observation_weights(dt)
    looked_up = torch.rand(2, observations, 5, 20, 24)
    monkeypatch.setattr(filters, "SLICE_SUMS_FROM", 10**9)
    single = (
        filters.gradients_and_values(looked_up),
        lucas_kanade_step(images, velocity, dt, weights, CONFIG),
        _weighted_moments(filters.gradients_and_values(looked_up), weights[:1].expand(2, -1)),
    )
    monkeypatch.setattr(filters, "SLICE_SUMS_FROM", 0)
    sliced = (
        filters.gradients_and_values(looked_up),
        lucas_kanade_step(images, velocity, dt, weights, CONFIG),
        _weighted_moments(filters.gradients_and_values(looked_up), weights[:1].expand(2, -1)),
    )
    assert torch.equal(single[0], sliced[0])  # halving is exact: the same bits
    torch.testing.assert_close(sliced[1], single[1], atol=1e-5, rtol=1e-5)
    for one, other in zip(single[2], sliced[2], strict=True):
        torch.testing.assert_close(other, one, atol=1e-5, rtol=1e-5)
    assert single[1].abs().max() > 1e-3  # a real step, not zeros on both sides


def test_the_forgetful_median_is_the_median(monkeypatch):
    torch.manual_seed(2)
    for count in (1, 3, 9, 25):
        values = [torch.randn(3, 4) for _ in range(count)]
        assert torch.equal(filters.forgetful_median(values), torch.stack(values).median(dim=0).values), count
    velocity = torch.randn(1, 2, 30, 40)
    monkeypatch.setattr(filters, "SLICE_SUMS_FROM", 0)
    sliced = median_filter(velocity, 5)
    monkeypatch.setattr(filters, "SLICE_SUMS_FROM", 10**9)
    assert torch.equal(sliced, median_filter(velocity, 5))
    assert not torch.equal(sliced, velocity)


def test_the_gradient_channels_are_the_same_on_the_cpu_slice_path(monkeypatch):
    images = torch.rand(1, 2, 3, 20, 24)
    config = dataclasses.replace(CONFIG, gradient_weight=0.5)
    monkeypatch.setattr(filters, "SLICE_SUMS_FROM", 10**9)
    single = with_gradient_channels(images, config)
    monkeypatch.setattr(filters, "SLICE_SUMS_FROM", 0)
    sliced = with_gradient_channels(images, config)
    assert sliced.shape == (1, 2, 5, 20, 24) and torch.equal(sliced, single)
    assert sliced[:, :, 3:].abs().max() > 0.01  # gradients, not zeros


@pytest.mark.parametrize("slices_from", [0, 10**9])
def test_no_jacobi_sweeps_is_no_step_on_either_path(monkeypatch, slices_from):
    # the CPU's component sweeps and the single-operation sweeps agree on the edge case too
    monkeypatch.setattr(filters, "SLICE_SUMS_FROM", slices_from)
    images = shifted_texture((1.5, -0.5), [-0.5, 0.5], size=32)
    config = dataclasses.replace(CONFIG, smoothness_sweeps=0)
    step = lucas_kanade_step(
        with_gradient_channels(images, config), torch.zeros(1, 2, 32, 32), PAIR, PAIR_WEIGHTS, config
    )
    assert torch.equal(step, torch.zeros(1, 2, 32, 32))


def test_frames_above_the_pixel_budget_take_the_half_size_velocity_upsampled():
    """``full_size_max_pixels``: a larger frame gets no full-size step, exactly as with
    ``full_size_iterations=0``; a frame of that size or smaller gets it. ``large_frame_pixels``: a
    larger frame gets the cheaper 1/2 size."""
    frames = shifted_texture((3.2, -1.6), [-0.5, 0.5], size=64)
    dt = torch.tensor([[-0.5, 0.5]])
    prior = BilateralMotionPrior()

    def full_size(**changes) -> torch.Tensor:
        prior.config = dataclasses.replace(CONFIG, **changes)
        return prior.full_resolution(frames, dt, quarter)

    with torch.no_grad():
        quarter = prior.velocities(image_pyramid(frames), dt)[0]
        at_budget = full_size(full_size_max_pixels=64 * 64)
        over_budget = full_size(full_size_max_pixels=64 * 64 - 1)
        no_step = full_size(full_size_iterations=0)
        cheaper_half_size = full_size(full_size_max_pixels=64 * 64 - 1, large_frame_pixels=64 * 64 - 1)
        assert torch.equal(full_size(large_frame_pixels=64 * 64), at_budget)  # not over it: unchanged
    assert torch.equal(over_budget, no_step)
    assert not torch.allclose(at_budget, no_step)
    # a larger frame's cheaper 1/2 size (one step, a short propagation) finds the motion as well
    truth = torch.tensor([3.2, -1.6]).view(1, 2, 1, 1)
    error = {
        name: (v - truth)[..., 8:-8, 8:-8].abs().mean().item()
        for name, v in (("full", no_step), ("cheaper", cheaper_half_size))
    }
    assert error["cheaper"] < 0.1 and error["cheaper"] < error["full"] + 0.02, error


def test_single_operation_filters_give_a_cpu_the_gpu_paths_and_the_same_numbers():
    # benchmarks/op_count.py counts a GPU's operations on a CPU within it
    large = torch.rand(1, 2, 200, 200)  # 40,000 pixels: slices on a CPU
    looked_up = torch.rand(2, 2, 5, 200, 200)
    sliced = filters.gradients_and_values(looked_up)
    assert filters.sums_by_slices(large)
    with filters.single_operation_filters():
        assert not filters.sums_by_slices(large)
        single = filters.gradients_and_values(looked_up)
    assert filters.sums_by_slices(large)  # restored on leaving
    assert torch.equal(single, sliced)


def test_the_prior_asks_between_stages_after_each_scale_and_between_its_full_size_steps():
    """A cancel reaches the prior's long stages (block matching per scale, the 1/2-size steps)."""
    prior = BilateralMotionPrior()
    frames = torch.rand(1, 2, 3, 64, 96)
    dt = torch.tensor([[-0.5, 0.5]])
    asked: list[str] = []
    quarter = prior.velocities(image_pyramid(frames), dt, lambda: asked.append("scale"))[0]
    prior.full_resolution(frames, dt, quarter, lambda: asked.append("full size"))
    assert asked.count("scale") == 4 and asked.count("full size") >= 1
    assert torch.equal(prior.full_resolution(frames, dt, quarter), prior.full_resolution(frames, dt, quarter, None))
