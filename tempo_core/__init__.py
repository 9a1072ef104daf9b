"""TEMPO: video frame interpolation as temporal view synthesis.

Package conventions (stated once, used everywhere in ``tempo_core``):

* **Images** are RGB float tensors in ``[0, 1]``. Observations are ``[B, N, 3, H, W]``
  (batch, frames, channels, height, width); a synthesized frame is ``[B, 3, H, W]``.
  uint8 conversion, padding and cropping happen only in :mod:`tempo_core.inference`.
* **Time** is in any unit (seconds from a video's PTS, frame indices, or ``[0, 1]``).
  The network normalizes timestamps itself: it subtracts the centre of the anchors' span and
  divides by the span, so ``t=[0, 1] -> 0.5`` and ``t=[10.0, 10.04] -> 10.02`` are the same query.
  Interpolation and extrapolation (a target outside the anchors) take the same path.
* **Feature pyramid order** is fine to coarse: scale 0 is 1/4 of the input resolution with
  ``C`` channels, scale 3 is 1/32 with ``8C``. The network's input must be a multiple of 32;
  the inference wrapper pads any size to that.
* ``tempo_core`` never imports Qt; the desktop app in ``tempo_app`` depends on it, not the reverse.

Layout, lower layers first (a layer never imports a higher one): :mod:`tempo_core.errors` and
the guards every reader of a user's file uses (:mod:`tempo_core.local_files`: local paths open
local files and never block; :mod:`tempo_core.memory_budget`: the memory the process may use,
cgroup limits included; :mod:`tempo_core.model_header`: a safetensors header checked before any
tensor is read); :mod:`tempo_core.network` (the model); :mod:`tempo_core.checkpoint` and
:mod:`tempo_core.inference` (model files and the wrapper that the app and the commands share);
:mod:`tempo_core.video` (reading, writing, timeline, scene cuts, the export engine);
:mod:`tempo_core.training` and :mod:`tempo_core.evaluation`; :mod:`tempo_core.commands` (the CLI).
The names below are imported lazily, so ``import tempo_core.errors`` does not load PyTorch.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TempoConfig",
    "build_tempo",
    "preset_names",
    "tempo_b",
    "tempo_l",
    "tempo_s",
    "tempo_tiny",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The seed's API (``from tempo_core import build_tempo``), loaded on first use."""
    if name in __all__:
        import tempo_core.network as network

        return getattr(network, name)
    raise AttributeError(f"module 'tempo_core' has no attribute {name!r}")
