"""Shared test setup: deterministic, small, CPU-friendly."""

import pytest
import torch

# The test models are tiny: one thread avoids thread start-up and contention costs that
# dominate their run time on small (2-core) CI machines.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
