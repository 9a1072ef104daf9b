"""The frozen model configuration and the size presets (``build_tempo`` is in :mod:`.model`).

Options and their consequences:

* ``base_channels`` (C): width of the finest feature scale; scales carry C, 2C, 4C, 8C.
  Parameters grow roughly with C squared.
* ``encoder_depths`` / ``decoder_depths``: ConvNeXt / NAFNet blocks per scale (fine to coarse).
* ``attn_heads`` x ``attn_points``: deformable samples per observation and output pixel.
  The channels of every scale must divide by ``attn_heads``.
* ``corr_levels`` / ``corr_radius``: the correlation pyramid. At feature scale s a level l
  looks ``corr_radius * 2**l`` feature pixels away, i.e. ``corr_radius * 2**(l + s + 2)`` input
  pixels; with the defaults (4 levels, radius 3) the coarsest scale sees +-768 input pixels and
  the finest +-96, so large motion is found coarse and refined fine.
* ``required_multiple``: the input height and width must divide by 32 (four 2x stages after a
  4x stem). :class:`tempo_core.inference.Interpolator` pads to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

REQUIRED_MULTIPLE = 32


@dataclass(frozen=True, kw_only=True)
class TempoConfig:
    """Architecture hyper-parameters of a TEMPO network (see the module docstring)."""

    base_channels: int = 64
    temporal_channels: int = 64
    encoder_depths: tuple[int, ...] = (3, 3, 9, 3)
    decoder_depths: tuple[int, ...] = (3, 3, 3, 3)
    attn_heads: int = 4
    attn_points: int = 4
    corr_levels: int = 4
    corr_radius: int = 3
    offset_scale: float = 4.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_depths", tuple(int(d) for d in self.encoder_depths))
        object.__setattr__(self, "decoder_depths", tuple(int(d) for d in self.decoder_depths))
        if len(self.encoder_depths) != 4 or len(self.decoder_depths) != 4:
            raise ValueError("encoder_depths and decoder_depths need exactly 4 entries (4 scales)")
        if self.base_channels % self.attn_heads:
            raise ValueError(f"base_channels ({self.base_channels}) must divide by attn_heads ({self.attn_heads})")
        if min(self.base_channels, self.temporal_channels, self.attn_heads, self.attn_points) < 1:
            raise ValueError("channel, head and point counts must be positive")
        if self.corr_levels < 1 or self.corr_radius < 0:
            raise ValueError("corr_levels must be >= 1 and corr_radius >= 0")

    @property
    def scale_channels(self) -> tuple[int, int, int, int]:
        """Channels of the four scales, fine to coarse: (C, 2C, 4C, 8C)."""
        c = self.base_channels
        return (c, 2 * c, 4 * c, 8 * c)

    @property
    def required_multiple(self) -> int:
        return REQUIRED_MULTIPLE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TempoConfig:
        """Build from a dict such as checkpoint metadata; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TEMPO config keys: {', '.join(unknown)}")
        return cls(**values)


def tempo_tiny() -> TempoConfig:
    """A few hundred thousand parameters: for tests and smoke runs."""
    return TempoConfig(
        base_channels=16,
        temporal_channels=16,
        encoder_depths=(1, 1, 1, 1),
        decoder_depths=(1, 1, 1, 1),
        attn_heads=2,
        attn_points=2,
        corr_levels=2,
        corr_radius=2,
    )


def tempo_xs() -> TempoConfig:
    """Small and fast: the CPU-friendly size the default model is trained at."""
    return TempoConfig(
        base_channels=24,
        temporal_channels=32,
        encoder_depths=(2, 2, 2, 2),
        decoder_depths=(1, 1, 1, 1),
        attn_heads=4,
        attn_points=4,
        corr_levels=4,
        corr_radius=3,
    )


def tempo_s() -> TempoConfig:
    """About 15M parameters."""
    return TempoConfig(
        base_channels=52,
        temporal_channels=64,
        encoder_depths=(3, 3, 9, 3),
        decoder_depths=(2, 2, 2, 2),
        attn_heads=4,
        attn_points=4,
    )


def tempo_b() -> TempoConfig:
    """About 25M parameters: the seed description's default (``build_tempo()``)."""
    return TempoConfig(
        base_channels=64,
        temporal_channels=64,
        encoder_depths=(3, 3, 9, 3),
        decoder_depths=(3, 3, 3, 3),
        attn_heads=4,
        attn_points=4,
    )


def tempo_l() -> TempoConfig:
    """About 40M parameters."""
    return TempoConfig(
        base_channels=80,
        temporal_channels=96,
        encoder_depths=(3, 3, 12, 3),
        decoder_depths=(3, 3, 3, 3),
        attn_heads=8,
        attn_points=4,
    )


PRESETS: dict[str, Callable[[], TempoConfig]] = {
    "tiny": tempo_tiny,
    "xs": tempo_xs,
    "s": tempo_s,
    "b": tempo_b,
    "l": tempo_l,
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_config(name: str) -> TempoConfig:
    """The config of a named preset (``tiny``, ``xs``, ``s``, ``b``, ``l``)."""
    key = name.lower().removeprefix("tempo_").removeprefix("tempo-")
    if key not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[key]()
