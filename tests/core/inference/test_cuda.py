"""CUDA only (skipped, with the reason, on machines without a GPU; run by benchmarks/gpu_check.sh).

The compiled synthesis (one CUDA graph per frame size) against the eager network, and the reduced
precisions end to end.
"""

import numpy as np
import pytest
import torch

from tempo_core.inference import Interpolator
from tempo_core.network import build_tempo, tempo_tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def frames(count: int, height: int = 72, width: int = 120) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def test_the_compiled_path_is_the_default_on_cuda_and_agrees_with_eager():
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny())
    compiled = Interpolator(model, device="cuda")
    assert compiled.compiled is not None
    eager = Interpolator(model, device="cuda", compiled=False)
    for n in (2, 4):
        images, times = frames(n), [float(i) for i in range(n)]
        fast = compiled.interpolate(images, times, 0.5).image.astype(int)
        plain = eager.interpolate(images, times, 0.5).image.astype(int)
        assert not compiled.compiled.failed
        assert np.abs(fast - plain).max() <= 1  # uint8 rounding at most
    assert len(compiled.compiled.sizes) == 2  # one graph per (size, N)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precisions_give_finite_frames_close_to_fp32(precision):
    torch.manual_seed(0)
    model = build_tempo(tempo_tiny())
    reference = Interpolator(model, device="cuda", compiled=False).interpolate(frames(2), [0.0, 1.0], 0.5)
    result = Interpolator(model, device="cuda", precision=precision).interpolate(frames(2), [0.0, 1.0], 0.5)
    assert np.isfinite(result.confidence).all()
    assert np.abs(result.image.astype(int) - reference.image.astype(int)).mean() < 8
