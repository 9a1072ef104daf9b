"""Fixtures shared by the core tests (one torch thread is set for the whole suite in tests/conftest.py)."""

import pytest
import torch

from tempo_core.inference import Interpolator
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny


@pytest.fixture(scope="module")
def interpolator():
    """A real (untrained) tiny TEMPO network on the CPU."""
    torch.manual_seed(0)
    return Interpolator(build_tempo(tempo_tiny()), device="cpu")
