"""The resume checkpoint of a run: what ``latest.pt`` / ``best.pt`` hold, and putting it back.

A checkpoint is a plain dict tagged ``CHECKPOINT_FORMAT``, written by :func:`atomic_save` and read by
:func:`load_checkpoint` (for resuming and ``tempo export``): weights, EMA, optimizer, LR schedule,
GradScaler, the position in the run (:class:`~tempo_core.training.progress.Progress`, stored as
flat keys), the best score, the RNG states and the resolved flags (``train_args``). Its keys are
the format: renaming one breaks resuming old runs.
Model files for inference are another format (:mod:`tempo_core.checkpoint`).
"""

from __future__ import annotations

import math
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tempo_core.checkpoint import check_config_values, load_model
from tempo_core.errors import InputError
from tempo_core.local_files import special_file_kind
from tempo_core.memory_budget import available_memory
from tempo_core.network import TempoConfig
from tempo_core.training.optim import WarmupCosine
from tempo_core.training.progress import Progress
from tempo_core.training.run_config import MODEL_FLAGS, RunConfig, int_list

CHECKPOINT_FORMAT = "tempo-train-checkpoint-v1"


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch RNG states as tensors / numbers (weights_only-loadable)."""
    version, py_state, gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_version": int(version),
        "python_gauss": float("nan") if gauss is None else float(gauss),
        "numpy": torch.from_numpy(np_keys.astype(np.int64)),
        "numpy_pos": int(np_pos),
        "numpy_has_gauss": int(np_has_gauss),
        "numpy_gauss": float(np_gauss),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    gauss = state["python_gauss"]
    random.setstate(
        (
            state["python_version"],
            tuple(int(v) for v in state["python"].tolist()),
            None if math.isnan(gauss) else gauss,
        )
    )
    np.random.set_state(
        (
            "MT19937",
            state["numpy"].numpy().astype(np.uint32),
            state["numpy_pos"],
            state["numpy_has_gauss"],
            state["numpy_gauss"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, fsync, then rename: a crash keeps the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A resume checkpoint (file, ``checkpoints/`` folder or run folder), weights only."""
    path = Path(path)
    for candidate in (path / "checkpoints" / "latest.pt", path / "latest.pt"):
        if path.is_dir() and candidate.exists():
            path = candidate
    kind = special_file_kind(path)
    if kind is not None:  # torch.load would wait for a writer, past Ctrl-C
        raise InputError(f"{path} is {kind}, not a training checkpoint.")
    if not path.is_file():
        raise InputError(f"No training checkpoint at {path}.")
    size, memory = path.stat().st_size, available_memory()
    if size > memory:  # torch.load holds every tensor of the file at once
        raise InputError(
            f"{path} is {size / 2**30:.1f} GB, more than the {memory / 2**30:.1f} GB of memory available to load it."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling problem is a bad file for the user
        raise InputError(unreadable_checkpoint(path, err)) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a TEMPO training checkpoint.")
    check_stored_sizes(path, state)
    state["path"] = str(path)
    return state


def unreadable_checkpoint(path: Path, err: Exception) -> str:
    """One sentence for a ``.pt`` that ``torch.load(weights_only=True)`` refused (PyTorch says a
    paragraph: the weights-only refusal names the class that is not plain data)."""
    text = str(err)
    if "weights_only" in text or "Weights only load failed" in text:
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f" ({found.group(1)})" if found else ""
        return (
            f"{path} holds Python objects{what}, not only weights; TEMPO loads checkpoints as weights only "
            "and does not run the code such a file may carry."
        )
    line = text.strip().splitlines()[0].strip().rstrip(".") if text.strip() else type(err).__name__
    return f"{path} is not a readable training checkpoint ({line[:200]})."


def check_stored_sizes(path: Path, state: dict[str, Any]) -> None:
    """Refuse a checkpoint whose network config (``model_config``) or stored size flags
    (``train_args``, what ``--resume`` fills in) break the limits of a model file's config
    (:func:`tempo_core.checkpoint.check_config_values`), before any network is built."""
    stored = state.get("train_args")
    flags = stored if isinstance(stored, dict) else {}
    sizes = {key: flags[key] for key in MODEL_FLAGS if flags.get(key) is not None}
    try:
        check_config_values(state.get("model_config"))
        for key, value in sizes.items():
            check_config_values({key: int_list(value) if key.endswith("depths") else value})
    except (ValueError, TypeError) as err:
        raise InputError(f"{path} holds a model size TEMPO refuses ({err}).") from None
    if stored is not None and not isinstance(stored, dict):
        raise InputError(f"{path} holds damaged training flags (train_args).")


def load_resumed_weights(model: torch.nn.Module, config: TempoConfig, state: dict[str, Any]) -> None:
    """The checkpoint's weights into ``model``, if it has the same size flags and code."""
    if state["model_config"] != config.to_dict():
        raise InputError("The checkpoint was trained with other model size flags.")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise InputError(
            "The checkpoint's weights do not fit the current network code (it was "
            f"trained with another version): {str(err).splitlines()[-1].strip()}"
        ) from None


def load_init_weights(model: torch.nn.Module, config: TempoConfig, path: Path) -> None:
    """Fine-tuning: start from the weights of a model file (``tempo export``) of the same size."""
    source = load_model(path)
    if source.config != config:
        raise InputError(
            f"{path.name} was trained with other model size flags than this run; "
            "pass the same --preset (and size flags) as the file."
        )
    model.load_state_dict(source.state_dict())


def _cpu_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def checkpoint_state(
    config: RunConfig,
    model: torch.nn.Module,
    ema_model: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer,
    schedule: WarmupCosine,
    scaler: torch.amp.GradScaler,
    progress: Progress,
) -> dict[str, Any]:
    """Everything a resume needs, as tensors and plain values (``weights_only``-loadable)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model": _cpu_weights(model),
        **({"ema": _cpu_weights(ema_model)} if ema_model is not None else {}),
        "model_config": config.model.config.to_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": schedule.state_dict(),
        "scaler": scaler.state_dict(),
        **progress.state_dict(),
        "metric_name": config.metric_name,
        "rng": capture_rng(),
        "train_args": dict(config.flags),
    }


def restore_checkpoint_state(
    state: dict[str, Any],
    optimizer: torch.optim.Optimizer,
    schedule: WarmupCosine,
    scaler: torch.amp.GradScaler,
    progress: Progress,
) -> None:
    """Optimizer, schedule, scaler, position, best score and RNGs from ``state`` (weights apart)."""
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["scheduler"])
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    progress.load_state_dict(state)
    restore_rng(state["rng"])


def extend_schedule(
    schedule: WarmupCosine, config: RunConfig, stored_flags: dict[str, Any], steps_per_epoch: int
) -> int | None:
    """A new ``--max_steps`` / ``--epochs`` on resume sets the schedule's length: the new total,
    or ``None`` when they are the stored ones."""
    optim = config.optim
    if (optim.max_steps, optim.epochs) == (stored_flags["max_steps"], stored_flags["epochs"]):
        return None
    total = optim.max_steps or optim.epochs * steps_per_epoch
    schedule.total_steps = max(total, schedule.warmup + 1)
    return total
