"""Encoded anchors and the three ways a frame is synthesized from them.

The strategy is chosen once, at encode (:meth:`tempo_core.inference.Interpolator.encode_tensors`):

* :class:`WholeFrame`: the network encoded the whole padded frames once; every target reuses it.
* :class:`HalfSize`: large frames (:mod:`tempo_core.inference.half_size`): the network encoded the
  anchors halved, the motion prior and the last look-ups read the full-size anchors.
* :class:`Tiled`: frames too large for memory: each target is made tile by tile, every tile
  encoded on its own (at half size the tiles are cut from the full-size frames and halved).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tempo_core.network import EncodedObservations


@dataclass(frozen=True)
class WholeFrame:
    """The whole frames encoded once (``encoded``: batch 1)."""

    encoded: EncodedObservations

    @property
    def prior_reads(self) -> EncodedObservations:
        """What the motion prior searches (the same encoding)."""
        return self.encoded


@dataclass(frozen=True)
class HalfSize:
    """``encoded``: the anchors halved, encoded once (batch 1); ``full_size``: the same encoding
    with the full-size anchors and their pyramid (``network.prior_view``), what the prior reads."""

    encoded: EncodedObservations
    full_size: EncodedObservations

    @property
    def prior_reads(self) -> EncodedObservations:
        """What the motion prior searches (the full-size anchors)."""
        return self.full_size


@dataclass(frozen=True)
class Tiled:
    """Synthesized in tiles of ``tile`` network pixels a side; ``halved``: the network runs at
    half size, so tiles of twice that are cut from the full-size frames."""

    tile: int
    halved: bool = False


Strategy = WholeFrame | HalfSize | Tiled


@dataclass(frozen=True)
class EncodedAnchors:
    """Anchors ready for synthesis.

    frames: ``[1, N, 3, Hp, Wp]`` the full-size anchors in [0, 1], replicate-padded (to 64 at half
    size, else to the network's 32), on the device; timestamps: ``[1, N]`` float64 on the device;
    times: the same as Python floats; height, width: the frames' size before padding.
    """

    frames: torch.Tensor
    timestamps: torch.Tensor
    times: tuple[float, ...]
    height: int
    width: int
    strategy: Strategy

    @property
    def halved(self) -> bool:
        """Whether the network runs on these anchors at half size."""
        return isinstance(self.strategy, HalfSize) or (isinstance(self.strategy, Tiled) and self.strategy.halved)
