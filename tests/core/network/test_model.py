"""The network: every preset builds, shapes, gradients, invariances, encode-once."""

import dataclasses

import pytest
import torch
from tempo_test_clips import moving_texture

from tempo_core.network import build_tempo
from tempo_core.network.config import TempoConfig, preset_config, preset_names, tempo_tiny
from tempo_core.network.layers import AdaLNZeroConvNeXtBlock, NAFBlock
from tempo_core.network.model import count_parameters


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny()).eval()
    perturb_zero_inits(model)
    return model


def perturb_zero_inits(model: torch.nn.Module) -> None:
    """Give zero-initialised layers small random values so every path affects the output."""
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)


def sample(batch: int = 1, frames: int = 2, height: int = 64, width: int = 64):
    images = torch.rand(batch, frames, 3, height, width)
    times = torch.arange(frames, dtype=torch.float32).repeat(batch, 1)
    return images, times


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_builds_with_expected_size(name):
    expected_millions = {
        "tiny": (0.3, 2),
        "xs": (1, 4),
        "s": (13, 17),
        "b": (21, 26),
        "l": (37, 44),
    }
    params = count_parameters(build_tempo(preset_config(name))) / 1e6
    low, high = expected_millions[name]
    assert low <= params <= high


def test_seed_api_builds_with_keywords():
    model = build_tempo(
        base_channels=16,
        temporal_channels=16,
        encoder_depths=[1, 1, 1, 1],
        decoder_depths=[1, 1, 1, 1],
        attn_heads=2,
        attn_points=2,
    )
    assert model.config.encoder_depths == (1, 1, 1, 1)
    with pytest.raises(ValueError):
        build_tempo(base_channels=18, attn_heads=4)


@pytest.mark.parametrize("frames", [2, 4, 8])
def test_forward_shapes_and_aux(tiny, frames):
    images, times = sample(2, frames, 64, 96)
    with torch.no_grad():
        out, aux = tiny(images, times, torch.tensor([0.5, 1.5]))
    assert out.shape == (2, 3, 64, 96)
    assert aux["confidence"].shape == (2, 1, 64, 96)
    assert aux["entropy"].shape == (2, 1, 64, 96)
    assert aux["weights"].shape == (2, frames, 64, 96)
    assert 0 <= aux["confidence"].min() and aux["confidence"].max() <= 1
    assert torch.allclose(aux["weights"].sum(1), torch.ones(2, 64, 96), atol=1e-4)
    assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def test_every_parameter_gets_a_finite_gradient():
    model = build_tempo(tempo_tiny())
    perturb_zero_inits(model)
    images, times = sample(2, 3, 64, 64)
    out, aux = model(images, times, torch.tensor([0.5, 1.2]))
    (out.mean() + aux["confidence"].mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient for {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_runs_forward_and_backward_on_a_small_input(name):
    torch.manual_seed(0)
    model = build_tempo(preset_config(name))
    perturb_zero_inits(model)
    images, times = sample(1, 2, 64, 64)
    out, aux = model(images, times, torch.tensor([0.5]))
    assert out.shape == (1, 3, 64, 64) and aux["confidence"].shape == (1, 1, 64, 64)
    assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
    (out.mean() + aux["confidence"].mean()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(bool(g.abs().sum() > 0) for g in grads) > 0.9 * len(grads)


def test_adaln_zero_and_naf_blocks_start_as_identity():
    x = torch.randn(2, 8, 16, 16)
    block = AdaLNZeroConvNeXtBlock(8, cond_dim=4)
    assert torch.equal(block(x, torch.randn(2, 4)), x)
    assert torch.equal(NAFBlock(8)(x), x)


def test_fresh_network_reproduces_a_static_scene():
    model = build_tempo(tempo_tiny()).eval()
    still = torch.rand(1, 1, 3, 64, 64).expand(1, 2, 3, 64, 64)
    with torch.no_grad():
        out, _ = model(still, torch.tensor([[0.0, 1.0]]), torch.tensor([0.5]))
    assert (out - still[:, 0]).abs().max() < 0.02


def test_fresh_network_follows_motion_better_than_the_blend():
    model = build_tempo(tempo_tiny()).eval()
    frames = moving_texture(3, 128, 128, shift=6)  # frame k is the texture moved 6k pixels
    anchors, middle = frames[:, [0, 2]], frames[:, 1]
    with torch.no_grad():
        out, aux = model(anchors, torch.tensor([[0.0, 1.0]]), torch.tensor([0.5]))
    inner = (..., slice(24, -24), slice(24, -24))
    error_tempo = (out - middle)[inner].abs().mean()
    error_blend = (anchors.mean(1) - middle)[inner].abs().mean()
    assert error_tempo < 0.5 * error_blend
    velocity_x = aux["motion_prior"][0, 0, 8:-8, 8:-8].median() * 4  # input pixels per unit time
    assert abs(float(velocity_x) - 12.0) < 2.0


def test_order_of_frames_does_not_matter(tiny):
    images, times = sample(1, 4)
    permutation = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        out, aux = tiny(images, times, torch.tensor([1.3]))
        out_perm, aux_perm = tiny(images[:, permutation], times[:, permutation], torch.tensor([1.3]))
    assert torch.allclose(out, out_perm, atol=1e-5)
    assert torch.allclose(aux["weights"][:, permutation], aux_perm["weights"], atol=1e-5)


def test_shifting_all_times_changes_nothing(tiny):
    images, times = sample(1, 2)
    with torch.no_grad():
        out, _ = tiny(images, times, torch.tensor([0.3]))
        # float64, as the inference wrapper passes them: float32 cannot hold 1000.3 exactly
        shifted, _ = tiny(images, times.double() + 1000.0, torch.tensor([1000.3], dtype=torch.float64))
    assert torch.allclose(out, shifted, atol=1e-5)


def test_time_unit_does_not_matter(tiny):
    images, times = sample(1, 2)
    with torch.no_grad():
        out, _ = tiny(images, times, torch.tensor([0.25]))
        seconds, _ = tiny(images, times / 30.0, torch.tensor([0.25 / 30.0]))
    assert torch.allclose(out, seconds, atol=1e-5)


def test_extrapolation_runs_and_differs_from_interpolation(tiny):
    images, times = sample(1, 2)
    with torch.no_grad():
        inside, _ = tiny(images, times, torch.tensor([0.5]))
        outside, aux = tiny(images, times, torch.tensor([1.75]))
    assert torch.isfinite(outside).all() and torch.isfinite(aux["confidence"]).all()
    assert not torch.allclose(inside, outside)


def test_target_time_changes_the_output(tiny):
    images, times = sample(1, 2)
    with torch.no_grad():
        early, _ = tiny(images, times, torch.tensor([0.1]))
        late, _ = tiny(images, times, torch.tensor([0.9]))
    assert (early - late).abs().mean() > 1e-4


def test_encode_once_equals_forward(tiny):
    images, times = sample(1, 4)
    with torch.no_grad():
        encoded = tiny.encode(images, times)
        for target in (0.4, 1.5, 2.9):
            cached, cached_aux = tiny.synthesize(encoded, torch.tensor([target]))
            direct, direct_aux = tiny(images, times, torch.tensor([target]))
            assert torch.allclose(cached, direct, atol=1e-6)
            assert torch.allclose(cached_aux["confidence"], direct_aux["confidence"], atol=1e-6)


def test_batch_items_are_independent(tiny):
    images, times = sample(3, 2)
    targets = torch.tensor([0.2, 0.5, 0.8])
    with torch.no_grad():
        batched, _ = tiny(images, times, targets)
        changed = images.clone()
        changed[1] = torch.rand_like(changed[1])
        batched_changed, _ = tiny(changed, times, targets)
        single, _ = tiny(images[2:], times[2:], targets[2:])
    assert torch.allclose(batched[0], batched_changed[0], atol=1e-6)
    assert torch.allclose(batched[2], batched_changed[2], atol=1e-6)
    assert torch.allclose(batched[2:], single, atol=1e-5)


def test_config_round_trip_and_unknown_keys():
    config = tempo_tiny()
    assert TempoConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        TempoConfig.from_dict({**config.to_dict(), "layers": 3})


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")
def test_synthesize_is_one_graph_without_host_syncs():
    # torch.compile(fullgraph=True) refuses any graph break: a .item(), a nonzero, a shape read
    # from the data or a Python branch on a tensor value would all fail here. Dynamo traces with
    # the "eager" backend: the same single graph, without the minutes of C++ code generation that
    # inductor spends on a CPU (the CUDA check, benchmarks/gpu_check.sh, compiles with inductor).
    # The prior's loops are shortened (same code, fewer turns) to keep the tracing quick.
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny()).eval()
    prior = model.motion_prior
    prior.config = dataclasses.replace(prior.config, lk_iterations=1, smoothness_sweeps=2, propagation_distances=(2, 1))
    torch._dynamo.reset()
    compiled = torch.compile(model.synthesize, fullgraph=True, backend="eager", dynamic=False)
    for frames, target in ((2, 0.3), (4, 1.6)):
        images, times = sample(frames=frames, height=64, width=96)
        with torch.no_grad():
            encoded = model.encode(images, times)
            target_time = torch.tensor([target])
            rgb, aux = model.synthesize(encoded, target_time)
            compiled_rgb, compiled_aux = compiled(encoded, target_time)
        torch.testing.assert_close(compiled_rgb, rgb, atol=1e-4, rtol=0)
        torch.testing.assert_close(compiled_aux["confidence"], aux["confidence"], atol=1e-4, rtol=0)


def test_the_prior_re_timed_from_the_gap_middle_matches_at_the_middle_and_follows_motion(tiny):
    images, times = sample(1, 2)
    with torch.no_grad():
        encoded = tiny.encode(images, times)
        motion = tiny.anchor_motion(encoded, torch.tensor([0.5]))
        searched, aux = tiny.synthesize(encoded, torch.tensor([0.5]))
        shared, shared_aux = tiny.synthesize(encoded, torch.tensor([0.5]), motion=motion)
        other, other_aux = tiny.synthesize(encoded, torch.tensor([0.25]), motion=motion)
    torch.testing.assert_close(shared, searched, atol=1e-4, rtol=0)  # no shift: the same motion
    assert other.shape == searched.shape and not torch.allclose(other, shared)
    # a uniform motion re-timed is itself
    uniform = torch.full((1, 2, 8, 8), 3.0)
    from tempo_core.network.model import retime

    torch.testing.assert_close(retime(uniform, torch.tensor([0.25])), uniform)


def run_with_spread(model, images, times, spread_value: float | None):
    """Forward pass; with ``spread_value`` the synthesis head's spread is replaced by that constant."""

    def replace(_module, _args, output):
        return output._replace(spread=torch.full_like(output.spread, spread_value))

    hook = model.synthesis.register_forward_hook(replace) if spread_value is not None else None
    try:
        with torch.no_grad():
            return model(images, times, torch.tensor([0.5]))
    finally:
        if hook is not None:
            hook.remove()


def test_the_disagreement_leaves_the_map_unchanged_at_its_neutral_weight(tiny):
    # issue 21: a fresh network (and an old checkpoint, loaded with 0) has the map it had before
    assert build_tempo(tempo_tiny()).confidence_disagreement.item() == 0.0
    images, times = sample(1, 2)
    weight = tiny.confidence_disagreement.data.clone()
    try:
        tiny.confidence_disagreement.data.zero_()
        rgb, aux = run_with_spread(tiny, images, times, None)
        rgb_other, aux_other = run_with_spread(tiny, images, times, 2.5)
        assert torch.equal(aux["confidence"], aux_other["confidence"])  # the input has no effect at 0
        tiny.confidence_disagreement.data.fill_(-1.0)
        rgb_weighted, aux_weighted = run_with_spread(tiny, images, times, 2.5)
    finally:
        tiny.confidence_disagreement.data.copy_(weight)
    assert (aux_weighted["confidence"] < aux["confidence"]).all()  # large spread, negative weight
    assert torch.equal(rgb, rgb_other) and torch.equal(rgb, rgb_weighted)  # never the colours


def test_the_disagreement_is_high_where_the_looked_up_observations_differ():
    # a white square appears on a flat grey frame: no motion can make the two look-ups agree there
    model = build_tempo(tempo_tiny()).eval()
    # a search of radius 2 (at 1/32 of 64 pixels: 2 pixels) cannot reach a match for the square
    model.motion_prior.config = dataclasses.replace(model.motion_prior.config, search_radius=2)
    frames = torch.full((1, 2, 3, 64, 64), 0.3)
    frames[0, 1, :, 24:40, 24:40] = 1.0
    with torch.no_grad():
        _, aux = model(frames, torch.tensor([[0.0, 1.0]]), torch.tensor([0.5]))
    disagreement = aux["disagreement"][0, 0]
    assert disagreement.shape == (64, 64)
    assert disagreement[28:36, 28:36].min() > -1.5  # 0.25 * 3 * 0.7^2 = 0.37 at equal weights: log -1.0
    assert disagreement[:12].max() < -6.8  # log(0 + 1e-3) = -6.91: the grey look-ups agree


def test_observation_spread_is_the_weighted_spread_around_the_blend():
    from tempo_core.network.synthesis import observation_spread

    looked = torch.zeros(1, 2, 3, 4, 4)
    looked[:, 1, :, :2] = 0.5  # the two observations differ by 0.5 in every channel of the top rows
    weights = torch.full((1, 2, 4, 4), 0.5)
    blend = (looked * weights.unsqueeze(2)).sum(dim=1)
    spread = observation_spread(looked, weights, blend)
    assert spread.shape == (1, 1, 4, 4)
    assert torch.allclose(spread[0, 0, :2], torch.full((2, 4), 3 * 0.25 * 0.25))  # w0 w1 |x0 - x1|^2
    assert torch.equal(spread[0, 0, 2:], torch.zeros(2, 4))


@pytest.mark.parametrize("count", [2, 3])
def test_observation_spread_of_random_look_ups_is_the_definition(count):
    from tempo_core.network.synthesis import observation_spread

    torch.manual_seed(count)
    looked = torch.rand(2, count, 3, 5, 6)
    weights = torch.rand(2, count, 5, 6).softmax(dim=1)
    blend = (looked * weights.unsqueeze(2)).sum(dim=1)
    definition = ((looked - blend.unsqueeze(1)).square().sum(dim=2) * weights).sum(dim=1, keepdim=True)
    assert torch.allclose(observation_spread(looked, weights, blend), definition, atol=1e-6)


def test_frames_in_any_memory_layout_give_the_same_frame():
    # frames made from HWC arrays (numpy, PIL) arrive channels-last; every view inside must still hold
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny()).eval()
    frames = torch.rand(1, 2, 64, 96, 3).permute(0, 1, 4, 2, 3)  # [B, N, 3, H, W], channels innermost
    assert not frames.is_contiguous()
    times, target = torch.tensor([[0.0, 1.0]]), torch.tensor([0.5])
    with torch.no_grad():
        rgb, _ = model(frames, times, target)
        expected, _ = model(frames.contiguous(), times, target)
    torch.testing.assert_close(rgb, expected)


def test_synthesis_refine_by_parts_equals_the_convolution_of_the_concatenation():
    from tempo_core.network.synthesis import UPSCALE, PixelSynthesisHead

    torch.manual_seed(0)
    head = PixelSynthesisHead(8)
    for layer in (head.refine[0], head.refine[2]):
        torch.nn.init.normal_(layer.weight, std=0.2)
        torch.nn.init.normal_(layer.bias, std=0.2)
    B, N, h, w = 2, 3, 6, 10
    decoded, features, motion = torch.randn(B, 8, h, w), torch.randn(B, N, 8, h, w), torch.randn(B, N, 2, h, w)
    stacked = torch.cat([decoded.unsqueeze(1).expand(B, N, -1, h, w), features, motion / UPSCALE], dim=2)
    expected = head.refine(stacked.flatten(0, 1))
    assert torch.allclose(head._refine(decoded, features, motion), expected, atol=1e-5)


def test_observation_spread_closed_form_trains_as_the_definition():
    """For N=2 the closed form holds on the simplex only; the weights come out of a softmax, whose
    gradients see only directions along it, so the logits and look-ups get the same gradients."""
    from tempo_core.network.synthesis import observation_spread

    torch.manual_seed(0)
    looked = torch.rand(1, 2, 3, 4, 5, requires_grad=True)
    logits = torch.randn(1, 2, 4, 5, requires_grad=True)

    def gradients(spread_of) -> tuple[torch.Tensor, torch.Tensor]:
        weights = logits.softmax(dim=1)
        blend = (looked * weights.unsqueeze(2)).sum(dim=1)
        return torch.autograd.grad(spread_of(looked, weights, blend).sum(), (looked, logits))

    def definition(x, w, b):
        return ((x - b.unsqueeze(1)).square().sum(dim=2) * w).sum(dim=1, keepdim=True)

    for fast, slow in zip(gradients(observation_spread), gradients(definition), strict=True):
        assert torch.allclose(fast, slow, atol=1e-6)


def test_target_independent_parts_are_made_once_and_never_written_to():
    """``encode`` makes the attention's and the synthesis head's parts of the features once; a
    synthesis uses them without changing them (the context adds in place), so every target from one
    encoding matches a synthesis that makes them itself."""
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny()).eval()
    for parameter in model.parameters():  # zero-initialised heads would hide a wrong sum
        if parameter.dim() > 1:
            torch.nn.init.normal_(parameter, std=0.05)
    frames, times = torch.rand(1, 2, 3, 64, 96), torch.tensor([[0.0, 1.0]])
    with torch.no_grad():
        encoded = model.encode(frames, times)
        saved = [p.context.clone() for p in encoded.attention_inputs], encoded.refine_input.clone()
        bare = dataclasses.replace(encoded, attention_inputs=None, refine_input=None)
        for target in (0.25, 0.5, 0.75):
            rgb, aux = model.synthesize(encoded, torch.tensor([target]))
            expected_rgb, expected_aux = model.synthesize(bare, torch.tensor([target]))
            assert torch.allclose(rgb, expected_rgb, atol=1e-6)
            assert torch.allclose(aux["confidence"], expected_aux["confidence"], atol=1e-6)
    for kept, now in zip(saved[0], encoded.attention_inputs, strict=True):
        assert torch.equal(kept, now.context)
    assert torch.equal(saved[1], encoded.refine_input)
