"""Model files: safetensors weights with the :class:`TempoConfig` and the motion prior's settings
(:mod:`tempo_core.prior_metadata`) as JSON in the metadata.

Weights are only ever read from safetensors (no pickle); the metadata is parsed as JSON, never
evaluated, and checked before anything is built (:func:`check_config_values`): at most
:data:`MAX_CONFIG_CHARS` characters, a flat object of the :class:`TempoConfig` fields, each a
whole number (or, for ``offset_scale``, a finite number) within :data:`CONFIG_LIMITS`, so a
hostile file cannot make TEMPO allocate a giant network, recurse, hang or compute NaN.

Before one tensor is read, :func:`load_model` checks the file's header
(:mod:`tempo_core.model_header`: its size, at most 10,000 tensors, well-formed entries) against
the network the config describes, built on the ``meta`` device (names and shapes, no memory):
no tensor missing, none extra, every dtype floating point, every shape the network's, and the
network's weights within the memory the process may use. A pipe or device is refused before it is
opened (opening one would block with the GIL held). Every problem a user can cause becomes a
:class:`ModelError` naming it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from tempo_core import model_header
from tempo_core.errors import ModelError, describe
from tempo_core.local_files import special_file_kind
from tempo_core.memory_budget import available_memory
from tempo_core.model_header import ModelHeader
from tempo_core.network import TempoConfig
from tempo_core.output_paths import write_file
from tempo_core.prior_metadata import PRIOR_KEY, prior_to_json, recorded_prior

FORMAT_KEY = "tempo.format"
FORMAT_VALUE = "tempo-safetensors-v1"
CONFIG_KEY = "tempo.config"
DEFAULT_MODEL_NAME = "tempo_default.safetensors"
FLOAT_DTYPES = ("F32", "F16", "BF16")  # safetensors' names of torch.float32, float16, bfloat16
_DTYPE_WORDS = {"I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64", "U8": "uint8", "F64": "float64"}
MAX_CONFIG_CHARS = 4096
# field: (low, high) inclusive; lists hold 4 such values. The presets sit well inside
# (base_channels 16-80, temporal 16-96, depths 1-12, 2-8 heads). The largest network allowed
# (every value at its maximum) has 210M parameters and took 3.5 s and 1.1 GB to build on this
# 2-core CPU (every field of CONFIG_LIMITS at its high end, built under /usr/bin/time);
# weights that do not match it are refused right after.
CONFIG_LIMITS: dict[str, tuple[float, float]] = {
    "base_channels": (1, 96),
    "temporal_channels": (1, 128),
    "encoder_depths": (1, 16),
    "decoder_depths": (1, 16),
    "attn_heads": (1, 16),
    "attn_points": (1, 16),
    "corr_levels": (1, 6),
    "corr_radius": (0, 8),
    "offset_scale": (0.01, 64.0),
}
_REAL_FIELDS = ("offset_scale",)
# Weights added to the network after model files were shipped, each with the value that leaves the
# outputs exactly as they were without it. A file that lacks one (written before it existed) loads
# with this value; ``tempo train --init_weights`` then trains it with the rest.
#   confidence_disagreement: the weight of the look-ups' disagreement in the confidence logit
#   (issue 21); 0 = the map of a model without it.
NEUTRAL_WHEN_MISSING: dict[str, float] = {"confidence_disagreement": 0.0}


def resources_dir() -> Path:
    """The folder of the bundled model and its card (``TEMPO_RESOURCES`` overrides it).

    An installed wheel carries it as ``tempo_core/resources``; a source checkout (editable
    install) has it at the top of the repository, ``resources/``.
    """
    override = os.environ.get("TEMPO_RESOURCES")
    if override:
        return Path(override)
    package_dir = Path(__file__).resolve().parent
    installed = package_dir / "resources"
    return installed if installed.is_dir() else package_dir.parent / "resources"


def default_model_path() -> Path:
    """The bundled default model (``TEMPO_DEFAULT_MODEL`` overrides it)."""
    override = os.environ.get("TEMPO_DEFAULT_MODEL")
    return Path(override) if override else resources_dir() / "models" / DEFAULT_MODEL_NAME


def save_weights(
    model: torch.nn.Module,
    path: str | Path,
    *,
    fp16: bool = False,
    metadata: dict[str, str] | None = None,
    overwrite: bool = True,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``model``'s weights, its config and its motion prior's settings to ``path`` through
    the safe-output path (:func:`tempo_core.output_paths.write_file`: never one of ``inputs``, an
    existing file only with ``overwrite``, a temporary then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        if fp16 and tensor.is_floating_point():
            tensor = tensor.half()
        tensors[name] = tensor
    header = {str(k): str(v) for k, v in (metadata or {}).items()}
    header[FORMAT_KEY] = FORMAT_VALUE
    header[CONFIG_KEY] = json.dumps(model.config.to_dict())
    header[PRIOR_KEY] = prior_to_json(model.motion_prior.config)  # the algorithm its weights rely on
    return write_file(
        path,
        lambda temp: save_file(tensors, str(temp), metadata=header),
        overwrite=overwrite,
        inputs=inputs,
        what="model file",
    )


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"No model file at {path}.")
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a model file.")
    kind = special_file_kind(path)
    if kind is not None:  # opening a pipe waits for a writer, holding the GIL in safetensors
        raise ModelError(f"{path} is {kind}, not a model file.")


def _open(path: Path):
    _check_path(path)
    try:
        return safe_open(str(path), framework="pt", device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{path.name} is not a readable safetensors model file ({err}).") from None


def read_header(path: str | Path) -> ModelHeader:
    """The checked header of a model file (:mod:`tempo_core.model_header`); no tensor is read."""
    path = Path(path)
    _check_path(path)
    try:
        return model_header.read_header(path)
    except model_header.HeaderError as err:
        raise ModelError(f"{path.name} is not a readable safetensors model file ({err}).") from None
    except OSError as err:
        raise ModelError(f"{path.name} cannot be read ({describe(err)}).") from None


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors metadata of a model file."""
    return read_header(path).metadata


def _check_value(key: str, value: Any) -> str | None:
    """What is wrong with one config value, or None."""
    low, high = CONFIG_LIMITS[key]
    if key in _REAL_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{key} must be a number"
        if not math.isfinite(value):
            return f"{key} must be a finite number"
    elif isinstance(value, bool) or not isinstance(value, int):
        return f"{key} must be a whole number, not {json.dumps(value)[:20]}"
    if not low <= value <= high:
        return f"{key} must lie between {low:g} and {high:g}"
    return None


def check_config_values(values: Any) -> None:
    """Raise ValueError naming the first config value of the wrong type or out of range."""
    if not isinstance(values, dict):
        raise ValueError("the config is not a JSON object")
    for key, value in values.items():
        if key not in CONFIG_LIMITS:
            raise ValueError(f"unknown TEMPO config key {str(key)[:40]!r}")
        items = value if key.endswith("_depths") else [value]
        if key.endswith("_depths") and (not isinstance(value, list) or len(value) != 4):
            raise ValueError(f"{key} must be a list of 4 whole numbers")
        problems = [p for p in (_check_value(key, item) for item in items) if p]
        if problems:
            raise ValueError(problems[0])


def parse_config(text: str) -> TempoConfig:
    """A :class:`TempoConfig` from its JSON text; ValueError naming what is wrong."""
    if len(text) > MAX_CONFIG_CHARS:
        raise ValueError(f"the config is longer than {MAX_CONFIG_CHARS} characters")
    try:
        values = json.loads(text)
    except RecursionError:
        raise ValueError("the config is nested too deeply") from None
    check_config_values(values)
    return TempoConfig.from_dict(values)


def read_config(path: str | Path, metadata: dict[str, str] | None = None) -> TempoConfig:
    """The :class:`TempoConfig` stored in a model file's metadata (checked: see the module
    docstring); ``metadata``: the file's, when already read."""
    path = Path(path)
    metadata = read_metadata(path) if metadata is None else metadata
    if CONFIG_KEY not in metadata:
        raise ModelError(f"{path.name} holds no TEMPO config: it was not exported by `tempo export`.")
    try:
        return parse_config(metadata[CONFIG_KEY])
    except (ValueError, TypeError) as err:
        raise ModelError(f"{path.name} describes another architecture ({err}).") from None


def load_state(path: str | Path, header: ModelHeader | None = None) -> dict[str, torch.Tensor]:
    """All tensors of a model file, checked for dtype (from the header, before any is read) and
    finiteness, as float32."""
    path = Path(path)
    header = read_header(path) if header is None else header
    for name, entry in header.tensors.items():
        if entry.dtype not in FLOAT_DTYPES:
            dtype = _DTYPE_WORDS.get(entry.dtype, entry.dtype.lower())
            raise ModelError(f"{path.name}: tensor {name[:60]} has dtype {dtype}; TEMPO weights are floating point.")
    state = {}
    with _open(path) as handle:
        for name in header.tensors:
            tensor = handle.get_tensor(name)
            if not torch.isfinite(tensor).all():
                raise ModelError(f"{path.name}: tensor {name} holds NaN or infinite values; the file is damaged.")
            state[name] = tensor.float()
    return state


def with_neutral_defaults(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` plus the :data:`NEUTRAL_WHEN_MISSING` weights it lacks and ``expected`` (the
    network's own state dict) has, each filled with its neutral value in the expected shape."""
    added = {
        name: torch.full_like(expected[name], value, dtype=torch.float32)
        for name, value in NEUTRAL_WHEN_MISSING.items()
        if name in expected and name not in state
    }
    return {**state, **added}


def load_model(path: str | Path | None = None):
    """Build the network described by a model file and load its weights (eval mode, CPU).

    ``path=None`` loads the bundled default model.
    """
    from tempo_core.network import TempoNet

    path = Path(path) if path is not None else default_model_path()
    if not path.exists() and path == default_model_path():
        raise ModelError(f"The bundled default model is missing ({path}); pass a model file with --checkpoint.")
    header = read_header(path)
    config = read_config(path, header.metadata)
    prior = recorded_prior(header.metadata, path.name)  # None: written before files recorded it
    with torch.device("meta"):  # names and shapes only: nothing is allocated yet
        shapes = {name: tuple(t.shape) for name, t in _build(TempoNet, config, path).state_dict().items()}
    check_tensors(path, header, shapes)
    check_memory(path, shapes)
    model = _build(TempoNet, config, path)
    state = with_neutral_defaults(load_state(path, header), model.state_dict())
    model.load_state_dict(state)
    if prior is not None:
        model.motion_prior.config = prior
    return model.eval()


def _build(network: type, config: TempoConfig, path: Path) -> torch.nn.Module:
    try:
        return network(config)
    except (ValueError, TypeError, RuntimeError, AssertionError) as err:
        raise ModelError(f"{path.name} describes a network TEMPO cannot build ({err}).") from None


def check_tensors(path: Path, header: ModelHeader, shapes: dict[str, tuple[int, ...]]) -> None:
    """Refuse, from the header alone, tensors the network lacks or lacks room for: names missing
    (other than :data:`NEUTRAL_WHEN_MISSING`) or unexpected, and shapes other than ``shapes``."""
    names = set(header.tensors)
    missing = sorted(set(shapes) - names - set(NEUTRAL_WHEN_MISSING))
    unexpected = sorted(names - set(shapes))
    if missing or unexpected:
        raise ModelError(
            f"{path.name} does not match its TEMPO config: {len(missing)} weights missing, "
            f"{len(unexpected)} unexpected (e.g. {(missing + unexpected)[0][:60]})."
        )
    for name, entry in header.tensors.items():
        if entry.shape != shapes[name]:
            raise ModelError(
                f"{path.name}: weight {name} has shape {entry.shape}, the architecture needs {shapes[name]}."
            )


def check_memory(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """Refuse a network whose loading (the model and the float32 weights read for it: 8 bytes a
    parameter) exceeds the memory this process may use (:func:`available_memory`)."""
    need = 8 * sum(math.prod(shape) for shape in shapes.values())
    memory = available_memory()
    if need > memory:
        raise ModelError(
            f"{path.name} is a network that needs about {need / 2**30:.1f} GB of memory to load; "
            f"{memory / 2**30:.1f} GB is available."
        )
