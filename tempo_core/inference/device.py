"""Device and precision: which processor runs the network, and in which number format.

``PRECISION_NAMES`` is the one list of precisions the CLI, the app and the wrapper offer.
"""

from __future__ import annotations

import contextlib

import torch

from tempo_core.errors import InputError
from tempo_core.inference.settings import PRECISION_NAMES

PRECISIONS: dict[str, torch.dtype] = dict(
    zip(PRECISION_NAMES, (torch.float32, torch.bfloat16, torch.float16), strict=True)
)


DEVICE_TYPES = ("cpu", "cuda", "mps")  # what TEMPO runs on (torch also names meta, xla, ...)


def parse_device(device: str | torch.device) -> torch.device:
    """The device ``device`` names (cpu, cuda, cuda:N, mps), whether or not this machine has it;
    :class:`InputError` for anything else (tpu, meta, cuda:x, '')."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES or (parsed.type != "cuda" and parsed.index):
        raise InputError(f"Unknown device {str(device)!r}; use cpu, cuda, cuda:N (a GPU's number) or mps.")
    return parsed


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" -> CUDA if present, else MPS, else CPU; otherwise the named device."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = parse_device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no CUDA GPU is available; use --device cpu.")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise InputError(f"There is no GPU cuda:{resolved.index}; this machine has {torch.cuda.device_count()}.")
    if resolved.type == "mps" and not _mps_available():
        raise InputError("MPS (an Apple GPU) was requested but is not available; use --device cpu.")
    return resolved


def device_description(device: torch.device) -> str:
    """A human name for a device: the GPU's name, or "CPU"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision that is unknown or that ``device`` cannot run, with one sentence."""
    if precision not in PRECISIONS:
        raise InputError(f"Unknown precision {precision!r}; choose {', '.join(PRECISION_NAMES)}.")
    if precision == "fp16" and device.type == "cpu":
        raise InputError("fp16 needs a GPU; on the CPU use fp32 or bf16.")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` on ``device`` (none for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=PRECISIONS[precision])
