"""Large frames through the network at half size, their pixels looked up at full size."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tempo_test_clips import as_uint8_images, moving_texture

from tempo_core.errors import Cancelled, InputError
from tempo_core.evaluation.metrics import psnr
from tempo_core.inference import Interpolator
from tempo_core.inference.anchors import HalfSize, Tiled
from tempo_core.inference.half_size import choose_scale
from tempo_core.network import AnchorMotion, halve, halve_motion
from tempo_core.network.half_size import finish_at_full_size


def test_auto_halves_720p_and_larger_on_a_cpu_only():
    assert choose_scale(720, 1280) == 0.5 and choose_scale(1080, 1920) == 0.5
    assert choose_scale(540, 960) == 1.0 and choose_scale(480, 854) == 1.0 and choose_scale(256, 448) == 1.0
    assert choose_scale(1080, 1920, "auto", "cuda") == 1.0  # a GPU's time is its launches, not its pixels
    assert choose_scale(720, 1280, "1") == 1.0 and choose_scale(240, 320, 0.5) == 0.5


def test_an_unknown_scale_is_refused_plainly(interpolator):
    with pytest.raises(InputError, match="processing scale"):
        choose_scale(100, 100, "0.3")
    with pytest.raises(InputError, match="choose auto, 1 or 0.5"):
        Interpolator(interpolator.model, device="cpu", scale="half")


def test_halve_takes_the_mean_of_every_two_by_two_block():
    frames = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).view(1, 2, 3, 4, 6)
    halved = halve(frames)
    assert halved.shape == (1, 2, 3, 2, 3)
    torch.testing.assert_close(halved[..., 1, 2], frames[..., 2:4, 4:6].mean(dim=(-2, -1)))


def test_the_full_size_prior_becomes_the_half_size_prior():
    """A uniform motion of u full-size pixels per unit time is u / 2**(s + 2) at the full size's
    scale s and u / 2 at the half size: every scale and the full size keep their meaning."""
    u = 12.0
    full = AnchorMotion(
        [torch.full((1, 2, 64 // 2**s, 96 // 2**s), u / 2 ** (s + 2)) for s in range(4)],
        torch.full((1, 2, 256, 384), u),
        torch.tensor([0.0]),
    )
    halved = halve_motion(full)
    for s, velocity in enumerate(halved.velocities):
        assert velocity.shape[-2:] == (32 // 2**s, 48 // 2**s)
        torch.testing.assert_close(velocity, torch.full_like(velocity, u / 2 / 2 ** (s + 2)))
    assert halved.full.shape[-2:] == (128, 192)
    torch.testing.assert_close(halved.full, torch.full_like(halved.full, u / 2))


def half_size_aux() -> dict[str, torch.Tensor]:
    """A half-size (8 x 16) synthesis that shows the first anchor, with confidence 0.7."""
    weights = torch.zeros(1, 2, 8, 16)
    weights[:, 0] = 1.0
    return {"weights": weights, "residual": torch.zeros(1, 3, 8, 16), "confidence": torch.full((1, 1, 8, 16), 0.7)}


def test_the_last_look_ups_are_made_at_full_size_along_the_full_size_velocity():
    torch.manual_seed(0)
    frames = torch.rand(1, 2, 3, 16, 32)  # noise: detail that no half-size image holds
    dt = torch.tensor([[-0.5, 0.5]])
    still = torch.zeros(1, 2, 16, 32)
    rgb, confidence = finish_at_full_size(frames, half_size_aux(), still, dt)
    assert rgb.shape == (1, 3, 16, 32) and confidence.shape == (1, 1, 16, 32)
    torch.testing.assert_close(rgb, frames[:, 0])
    torch.testing.assert_close(confidence, torch.full_like(confidence, 0.7))
    velocity = torch.zeros(1, 2, 16, 32)
    velocity[:, 0] = -4.0  # -4 px per unit time, at dt -0.5: the first anchor looked up 2 px to the right
    moved, _ = finish_at_full_size(frames, half_size_aux(), velocity, dt)
    torch.testing.assert_close(moved[..., :-2], frames[:, 0, :, :, 2:])
    with_residual = half_size_aux()
    with_residual["residual"] += 2.0
    brightened, _ = finish_at_full_size(frames, with_residual, still, dt)
    assert torch.equal(brightened, torch.ones_like(brightened))  # added, then clamped to [0, 1]


def frames_of(count: int, height: int, width: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def test_half_size_processing_gives_full_size_frames_of_any_size(interpolator):
    anchors = frames_of(3, 75, 101)
    halving = Interpolator(interpolator.model, device="cpu", scale=0.5)
    result = halving.interpolate(anchors, [0.0, 1.0, 2.0], 0.5)
    assert result.image.shape == (75, 101, 3) and result.confidence.shape == (75, 101)
    assert 0 <= result.confidence.min() and result.confidence.max() <= 1
    encoded = halving.encode(anchors, [0.0, 1.0, 2.0])
    assert isinstance(encoded.strategy, HalfSize) and encoded.halved
    assert encoded.frames.shape[-2:] == (128, 128) and encoded.strategy.encoded.frames.shape[-2:] == (64, 64)
    assert encoded.strategy.full_size.frames is encoded.frames


def test_at_half_size_the_prior_searches_the_full_size_frames(interpolator, monkeypatch):
    prior = interpolator.model.motion_prior
    searched, original = [], prior.velocities
    monkeypatch.setattr(
        prior, "velocities", lambda pyramid, dt, *rest: searched.append(pyramid[0].shape[-2:]) or original(pyramid, dt)
    )
    Interpolator(interpolator.model, device="cpu", scale=0.5).interpolate(frames_of(2, 100, 150), [0.0, 1.0], 0.5)
    assert searched == [(128 // 4, 192 // 4)]  # 100 x 150 padded to 128 x 192, its 1/4 scale


def test_half_size_slow_motion_and_tiles_match_single_whole_frames(interpolator):
    anchors = as_uint8_images(moving_texture(2, 150, 200, shift=6, mode="bilinear"))
    halving = Interpolator(interpolator.model, device="cpu", scale=0.5)
    whole = halving.interpolate(anchors, [0.0, 1.0], 0.5)
    many = halving.synthesize(halving.encode(anchors, [0.0, 1.0]), [0.25, 0.5, 0.75])
    assert np.abs(many[1].image.astype(int) - whole.image).max() <= 1
    tiled = Interpolator(interpolator.model, device="cpu", scale=0.5, tile=64, tile_overlap=32)
    assert tiled.encode(anchors, [0.0, 1.0]).strategy == Tiled(64, halved=True)
    assert np.abs(tiled.interpolate(anchors, [0.0, 1.0], 0.5).image.astype(int) - whole.image).mean() < 2.0


def test_the_bundled_model_at_half_size_keeps_the_detail_of_still_frames():
    """Two identical anchors: the frame between them is the anchor, its finest detail included
    (the half-size frame upsampled would lose it; the network's learned offset correction, about
    0.1 pixel where nothing moves, would blur it doubled: 23.8 dB here when it was applied)."""
    texture = moving_texture(1, 96, 160, shift=0, cell=3, mode="bicubic", seed=1)  # detail at 3 pixels
    anchor = as_uint8_images(texture)[0]
    result = Interpolator.from_checkpoint(None, device="cpu", scale=0.5).interpolate([anchor, anchor], [0.0, 1.0], 0.5)
    upsampled = F.interpolate(halve(texture[0]), scale_factor=2.0, mode="bilinear", align_corners=False)
    blurred = as_uint8_images(upsampled[None])[0]
    assert psnr(result.image, anchor) > 45.0
    assert psnr(blurred, anchor) < 30.0


def test_the_compiled_graph_runs_the_half_size_network_with_the_full_size_motion(monkeypatch):
    """A GPU keeps the whole network at full size under "auto", but 0.5 is a choice there too: the
    compiled graph then takes the full-size prior's motion, with the eager path's images (traced with
    the ``eager`` backend here: inductor's C++ build takes minutes on a CPU)."""
    from tempo_core.network import build_tempo
    from tempo_core.network.config import tempo_tiny

    compile_for_real = torch.compile
    monkeypatch.setattr(
        torch,
        "compile",
        lambda function, **_: compile_for_real(function, fullgraph=True, dynamic=False, backend="eager"),
    )
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny()).eval()
    anchors = frames_of(2, 60, 100)
    compiled = Interpolator(model, device="cpu", compiled=True, scale=0.5)
    eager = Interpolator(model, device="cpu", compiled=False, scale=0.5)
    fast = compiled.interpolate(anchors, [0.0, 1.0], 0.5)
    slow = eager.interpolate(anchors, [0.0, 1.0], 0.5)
    assert not compiled.compiled.failed
    assert {key[-1] for key in compiled.compiled.sizes} == {True}  # given the motion, never searching
    assert {key[0][-2:] for key in compiled.compiled.sizes} == {(32, 64)}  # the halved frames, padded
    assert np.abs(fast.rgb - slow.rgb).max() < 1e-4


def test_a_cancel_stops_a_half_size_synthesis_between_its_stages(interpolator):
    halving = Interpolator(interpolator.model, device="cpu", scale=0.5)
    anchors = halving.encode(frames_of(2, 60, 100), [0.0, 1.0])
    asked: list[int] = []
    halving.synthesize(anchors, [0.5], lambda: asked.append(1) and False)
    stages = len(asked)  # the full-size prior's search and 1/2 size, each attention scale, ...
    assert stages >= 8
    asked.clear()
    with pytest.raises(Cancelled):
        halving.synthesize(anchors, [0.5], lambda: asked.append(1) or len(asked) >= 3)
    assert len(asked) == 3  # stopped at the third stage, not after the frame
