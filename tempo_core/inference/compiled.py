"""Synthesis as one compiled graph per frame size, with a fallback to the plain (eager) network.

A synthesis is a few thousand small tensor operations (``python benchmarks/op_count.py``). On a
GPU each is a kernel launch that the host must issue, so the launches, not the arithmetic, set
the time. ``torch.compile`` turns the whole of ``TempoNet.synthesize`` into one graph (it has no
host-device syncs and no data-dependent shapes: tests/core/network/test_model.py compiles it with
``fullgraph=True``); with ``mode="reduce-overhead"`` the graph is also captured as a CUDA graph and
replayed with one launch.

The first synthesis of every frame size (and batch, precision) compiles: seconds, once
(``tempo bench`` reports that first frame apart). If compiling or running the graph fails, one
note is logged and every later synthesis runs eagerly, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from tempo_core.network import AnchorMotion, EncodedObservations, TempoNet

log = logging.getLogger(__name__)

CUDA_MODE = "reduce-overhead"  # compiled and captured as a CUDA graph: one launch per synthesis


class CompiledSynthesis:
    """``model.synthesize`` compiled once per input shape; ``None`` from :meth:`__call__` means
    "run it eagerly" (compiling failed once, and is not tried again).

    Args:
        model: the network, already on its device and in eval mode.
        mode: ``torch.compile`` mode (default: CUDA graphs on a GPU, the default mode elsewhere).
    """

    def __init__(self, model: TempoNet, mode: str | None = None) -> None:
        self.model = model
        device = next(model.parameters()).device
        self.mode = mode if mode is not None else (CUDA_MODE if device.type == "cuda" else "default")
        self.failed = False
        #: called (no arguments) just before a shape not seen yet compiles: tens of seconds on a GPU
        self.on_compile: Callable[[], None] | None = None
        self.sizes: set[tuple] = set()
        self._synthesize: Callable | None = None

    def __call__(
        self, encoded: EncodedObservations, target: torch.Tensor, motion: AnchorMotion | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
        """``model.synthesize(encoded, target, motion=motion)`` through the compiled graph, or None
        after a failure. With ``motion`` (slow motion: the prior searched once per anchor gap,
        :class:`~tempo_core.inference.shared_motion.SharedMotion`) the graph re-times it instead of searching:
        a second graph per size."""
        if self.failed:
            return None
        if self._synthesize is None:
            self._synthesize = torch.compile(self.model.synthesize, fullgraph=True, dynamic=False, mode=self.mode)
        device_type = encoded.frames.device.type
        autocast = torch.is_autocast_enabled(device_type) and torch.get_autocast_dtype(device_type)
        key = (tuple(encoded.frames.shape), tuple(target.shape), autocast, motion is not None)
        if key not in self.sizes and self.on_compile is not None:
            self.on_compile()
        if key not in self.sizes and len(self.sizes) >= torch._dynamo.config.recompile_limit:
            torch._dynamo.config.recompile_limit = len(self.sizes) + 8  # one graph per size: let it keep them
        try:
            rgb, aux = self._synthesize(encoded, target, None, motion)
        except torch.OutOfMemoryError:
            raise
        except Exception as err:  # a failed compilation must never lose the frame: eager from now on
            log.warning("The compiled synthesis failed (%s); running the network eagerly.", type(err).__name__)
            log.debug("compiled synthesis failure", exc_info=True)
            self.failed = True
            return None
        self.sizes.add(key)
        # a CUDA graph reuses its output memory on the next replay: hand out copies
        return rgb.clone(), {name: value.clone() for name, value in aux.items()}
