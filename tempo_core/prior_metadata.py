"""The motion prior's settings as a model file records them: JSON in the safetensors metadata.

A model's quality depends on the parameter-free motion prior its weights were trained and
validated with, so a model file records that prior (:class:`PriorConfig`) beside its
:class:`TempoConfig`. A file without the record (written before it existed) runs with TEMPO's
current defaults, and ``tempo info`` says so in one line.

The record is parsed as JSON and checked field by field before use: only :class:`PriorConfig`'s
fields, each of its default's type (whole numbers, finite numbers, booleans, short tuples of
whole numbers) and within :data:`INT_LIMITS`, so a hostile file cannot make the prior loop for
hours or allocate without bound.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from tempo_core.errors import ModelError
from tempo_core.network import PriorConfig

PRIOR_KEY = "tempo.prior"
MAX_PRIOR_CHARS = 4096
MAX_DISTANCES = 16
# whole-number fields: (low, high) inclusive; pixel counts and distances have their own bounds
INT_LIMITS = (0, 64)
PIXEL_LIMITS = (0, 10**9)
FIELD_LIMITS = {"search_radius": (0, 8)}  # (2r + 1)^2 candidates per pixel: as TempoConfig.corr_radius
DISTANCE_LIMITS = (1, 512)


def prior_to_json(config: PriorConfig) -> str:
    """``config`` as the JSON object a model file records."""
    return json.dumps(dataclasses.asdict(config))


def parse_prior(text: str, name: str) -> PriorConfig:
    """The :class:`PriorConfig` recorded in model file ``name``; a :class:`ModelError` naming the
    first problem otherwise."""
    if len(text) > MAX_PRIOR_CHARS:
        raise ModelError(f"{name}: its motion-prior settings are longer than {MAX_PRIOR_CHARS} characters.")
    try:
        values = json.loads(text)
    except (ValueError, RecursionError):
        raise ModelError(f"{name}: its motion-prior settings are not valid JSON.") from None
    if not isinstance(values, dict):
        raise ModelError(f"{name}: its motion-prior settings are not a JSON object.")
    defaults = {field.name: field.default for field in dataclasses.fields(PriorConfig)}
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ModelError(f"{name} records a motion-prior setting this TEMPO does not know ({unknown[0][:40]}).")
    checked = {key: _checked(key, value, defaults[key], name) for key, value in values.items()}
    return PriorConfig(**checked)


def _checked(key: str, value: Any, default: Any, name: str) -> Any:
    """``value`` of field ``key`` when it has the default's type and lies within bounds."""
    problem = f"{name}: motion-prior setting {key} "
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ModelError(problem + "must be true or false.")
        return value
    if isinstance(default, tuple):
        low, high = DISTANCE_LIMITS
        if not isinstance(value, list) or len(value) > MAX_DISTANCES:
            raise ModelError(problem + f"must be a list of at most {MAX_DISTANCES} whole numbers.")
        if not all(_whole(v) and low <= v <= high for v in value):
            raise ModelError(problem + f"must hold whole numbers from {low} to {high}.")
        return tuple(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ModelError(problem + "must be a finite number.")
        if not 0.0 <= value <= 1e6:
            raise ModelError(problem + "must lie between 0 and 1e6.")
        return float(value)
    if value is None and (default is None or key == "large_half_size_iterations"):
        return None
    low, high = FIELD_LIMITS.get(key, PIXEL_LIMITS if key.endswith("_pixels") else INT_LIMITS)
    if not (_whole(value) and low <= value <= high):
        raise ModelError(problem + f"must be a whole number from {low} to {high}.")
    return value


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def recorded_prior(metadata: dict[str, str], name: str) -> PriorConfig | None:
    """The prior a model file's ``metadata`` records, or None when it records none."""
    return parse_prior(metadata[PRIOR_KEY], name) if PRIOR_KEY in metadata else None
