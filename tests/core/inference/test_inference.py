"""The inference wrapper: any size, uint8 in and out, bad arguments refused plainly, tiling."""

import numpy as np
import pytest
import torch
from PIL import Image
from tempo_test_clips import as_uint8_images, moving_texture

from tempo_core.errors import InputError
from tempo_core.inference import Interpolator, pad_to_multiple
from tempo_core.inference.tiling import tile_windows
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny


def frames(count: int, height: int = 190, width: int = 250):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize("count", [2, 4, 8])
def test_odd_sizes_any_n(interpolator, count):
    result = interpolator.interpolate(frames(count), list(range(count)), 0.5)
    assert result.image.shape == (190, 250, 3) and result.image.dtype == np.uint8
    assert result.confidence.shape == (190, 250)
    assert 0 <= result.confidence.min() and result.confidence.max() <= 1


@pytest.mark.parametrize("size", [(9, 17), (1, 1), (33, 65)])
def test_tiny_and_odd_sizes(interpolator, size):
    result = interpolator.interpolate(frames(2, *size), [0.0, 1.0], 0.5)
    assert result.image.shape == (*size, 3)


def test_pil_grayscale_and_alpha_inputs(interpolator):
    gray = np.full((40, 60), 100, np.uint8)
    rgba = np.dstack([frames(1, 40, 60)[0], np.full((40, 60), 255, np.uint8)])
    result = interpolator.interpolate([Image.fromarray(gray), rgba], [0.0, 1.0], 0.5)
    assert result.image.shape == (40, 60, 3)


def test_encode_once_many_targets_matches_single_calls(interpolator):
    anchors = frames(2, 64, 64)
    encoded = interpolator.encode(anchors, [0.0, 1.0])
    for time in (0.25, 0.5, 0.75):  # one encoding, one target at a time: as a full pass
        once = interpolator.synthesize(encoded, [time])[0]
        single = interpolator.interpolate(anchors, [0.0, 1.0], time)
        assert np.abs(single.image.astype(int) - once.image).max() <= 1
    # many targets share the motion search of the gap's middle (re-timed off it): equal there
    many = interpolator.synthesize(encoded, [0.25, 0.5, 0.75])
    middle = interpolator.interpolate(anchors, [0.0, 1.0], 0.5)
    assert [r.time for r in many] == [0.25, 0.5, 0.75]
    assert np.abs(middle.image.astype(int) - many[1].image).max() <= 1


def test_unsorted_anchor_times_are_fine(interpolator):
    anchors = frames(3, 32, 32)
    ordered = interpolator.interpolate(anchors, [0.0, 1.0, 2.0], 0.5)
    shuffled = interpolator.interpolate([anchors[2], anchors[0], anchors[1]], [2.0, 0.0, 1.0], 0.5)
    assert np.abs(ordered.image.astype(int) - shuffled.image).max() <= 1


@pytest.mark.parametrize(
    ("anchors", "times", "target", "message"),
    [
        (1, [0.0], 0.5, "at least 2"),
        (2, [1.0, 1.0], 0.5, "same timestamp"),
        (2, [0.0, 1.0], 50.0, "too far outside"),
        (2, [0.0, float("nan")], 0.5, "finite"),
        (2, [0.0, 1.0, 2.0], 0.5, "frames but"),
    ],
)
def test_bad_arguments_are_refused_plainly(interpolator, anchors, times, target, message):
    with pytest.raises(InputError, match=message):
        interpolator.interpolate(frames(anchors, 32, 32), times, target)


def test_mismatched_frame_sizes_are_refused(interpolator):
    with pytest.raises(InputError, match="same size"):
        interpolator.interpolate([frames(1, 32, 32)[0], frames(1, 32, 48)[0]], [0.0, 1.0], 0.5)


def test_cpu_refuses_fp16_and_missing_cuda():
    model = build_tempo(tempo_tiny())
    with pytest.raises(InputError, match="fp16"):
        Interpolator(model, device="cpu", precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            Interpolator(model, device="cuda")


def test_bf16_autocast_on_cpu_runs(interpolator):
    bf16 = Interpolator(interpolator.model, device="cpu", precision="bf16")
    result = bf16.interpolate(frames(2, 64, 64), [0.0, 1.0], 0.5)
    reference = interpolator.interpolate(frames(2, 64, 64), [0.0, 1.0], 0.5)
    assert np.abs(result.image.astype(int) - reference.image).mean() < 3


def test_tiled_synthesis_is_close_to_whole_frame(interpolator):
    anchors = as_uint8_images(moving_texture(2, 150, 200, shift=3, mode="bilinear"))
    whole = interpolator.interpolate(anchors, [0.0, 1.0], 0.5)
    tiled_interpolator = Interpolator(interpolator.model, device="cpu", tile=128, tile_overlap=32)
    tiled = tiled_interpolator.interpolate(anchors, [0.0, 1.0], 0.5)
    assert tiled.image.shape == whole.image.shape
    assert np.abs(tiled.image.astype(int) - whole.image).mean() < 2.0


def test_tiles_cover_every_pixel():
    cover = torch.zeros(1, 1, 160, 224)
    for (rows, cols), ramp in tile_windows(160, 224, 96, 32, 32, torch.device("cpu")):
        cover[..., rows, cols] += ramp
    assert cover.min() > 0


def test_padding_is_to_multiples_of_32():
    padded = pad_to_multiple(torch.rand(1, 2, 3, 190, 250))
    assert padded.shape[-2:] == (192, 256)


def test_out_of_memory_falls_back_to_tiles_then_reports(interpolator, monkeypatch):
    from tempo_core.errors import ModelError

    tiles_tried = []
    original = Interpolator._synthesize_batch

    def short_of_memory(self, anchors, times, tile, check, shared=None):
        tiles_tried.append(tile)
        if tile is None or tile > limit:
            raise torch.OutOfMemoryError("simulated")
        return original(self, anchors, times, tile, check, shared)

    monkeypatch.setattr(Interpolator, "_synthesize_batch", short_of_memory)
    limit = 512
    result = interpolator.interpolate(frames(2, 40, 60), [0.0, 1.0], 0.5)
    assert result.image.shape == (40, 60, 3) and tiles_tried == [None, 512]
    limit, tiles_tried[:] = 0, []
    with pytest.raises(ModelError, match="ran out of memory"):
        interpolator.interpolate(frames(2, 40, 60), [0.0, 1.0], 0.5)
    assert tiles_tried == [None, 512, 256]


@pytest.mark.parametrize("tile", [None, 32])
def test_cancel_is_asked_between_the_stages_and_stops_the_synthesis(interpolator, tile):
    from tempo_core.errors import Cancelled

    anchors = interpolator.encode(frames(2, 40, 60), [0.0, 1.0], tile=tile)
    questions = []

    def should_cancel() -> bool:
        questions.append(len(questions))
        return len(questions) > 3  # let the first stages run, then cancel

    with pytest.raises(Cancelled):
        interpolator.synthesize(anchors, [0.5], should_cancel)
    assert len(questions) == 4  # stopped at the first question answered yes
    counted = []
    interpolator.synthesize(anchors, [0.5], lambda: counted.append(1) is None and False)
    # once per batch, then after the prior, each of 4 attention scales, the decoder, the prior at
    # full size and the pixel synthesis (per tile when tiled)
    assert len(counted) >= 1 + 8


def test_one_interpolation_launches_few_operations():
    # on a GPU every operation is a kernel launch, and thousands of small ones left it waiting on
    # the host (docs/benchmarks.md, "GPU"); counted as benchmarks/op_count.py counts them (views
    # excluded), encode + synthesize, N=2, 448 x 256, the shipped model, the CPU's default path
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[3] / "benchmarks" / "op_count.py"
    spec = importlib.util.spec_from_file_location("op_count", script)
    op_count = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(op_count)
    shipped = Interpolator.from_checkpoint(None, device="cpu")
    images = frames(2, 256, 448)
    shipped.interpolate(images, [0.0, 1.0], 0.5)  # caches filled, as in the script
    with torch.no_grad(), op_count.OperationCounter() as encode_ops:
        anchors = shipped.encode(images, [0.0, 1.0])
    with torch.no_grad(), op_count.OperationCounter() as synthesis_ops:
        shipped.synthesize(anchors, [0.5])
    total = sum(encode_ops.by_line.values()) + sum(synthesis_ops.by_line.values())
    assert 500 < total <= 3000  # issue 18; 2,924 measured (docs/benchmarks.md, "Operations per interpolation")


def test_slow_motion_searches_the_motion_once_per_anchor_gap(interpolator, monkeypatch):
    calls = []
    original = interpolator.model.anchor_motion

    def counted(encoded, reference_time, between_stages=None):
        calls.append(float(reference_time[0]))
        return original(encoded, reference_time, between_stages)

    monkeypatch.setattr(interpolator.model, "anchor_motion", counted)
    anchors = interpolator.encode(frames(3, 40, 60), [0.0, 1.0, 2.0])
    results = interpolator.synthesize(anchors, [0.25, 0.5, 0.75, 1.5, 2.5])
    assert [r.time for r in results] == [0.25, 0.5, 0.75, 1.5, 2.5]
    assert calls == [0.5, 1.5]  # once per gap, at its middle; 2.5 lies outside: searched alone
    single = interpolator.synthesize(anchors, [0.5])[0]  # one target: searched as always
    assert calls == [0.5, 1.5]
    assert abs(single.image.astype(int) - results[1].image.astype(int)).max() <= 1


def test_the_compiled_path_takes_the_shared_motion_of_slow_motion(monkeypatch):
    """Many targets between the same anchors: the compiled graph re-times the motion searched once
    per gap, as the eager path does (a second graph per size), with the eager path's images. The
    graph is traced with the ``eager`` backend here (inductor's C++ build takes minutes on a CPU)."""
    compile_for_real = torch.compile

    def traced(function, **_):
        return compile_for_real(function, fullgraph=True, dynamic=False, backend="eager")

    monkeypatch.setattr(torch, "compile", traced)
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny()).eval()
    images = frames(2, 64, 96)
    targets = [0.25, 0.5, 0.75]
    compiled = Interpolator(model, device="cpu", compiled=True)
    eager = Interpolator(model, device="cpu", compiled=False)
    fast = compiled.synthesize(compiled.encode(images, [0.0, 1.0]), targets)
    slow = eager.synthesize(eager.encode(images, [0.0, 1.0]), targets)
    assert not compiled.compiled.failed
    assert {key[-1] for key in compiled.compiled.sizes} == {True}  # every target through the shared motion
    for a, b in zip(fast, slow, strict=True):
        assert np.abs(a.rgb - b.rgb).max() < 1e-4
