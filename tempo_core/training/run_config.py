"""The configuration of a training run: the parsed flags, resolved once, as frozen sections.

:class:`RunConfig` is built once from the flags of ``tempo train`` (:mod:`.command`) and read by
everything else: :class:`DataSection` by :mod:`.run_data`, :class:`ModelSection` by the trainer,
:class:`OptimSection` by :mod:`.optim`, :class:`RunSection` by the loop, :mod:`.run_log` and
:mod:`.state`. Lists (``--n_frames 2,4``, ``--val_n``, ``--schedule``, ``--encoder_depths``) and
``--loss_weights`` are parsed here and nowhere else; a malformed value is an :class:`InputError`.

``flags`` keeps the resolved flags as plain JSON values: it is what a checkpoint stores as
``train_args`` and what a resumed run reads back (flags left at their defaults take the stored
values, except those in :data:`NOT_RESUMED`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tempo_core.checkpoint import check_config_values
from tempo_core.errors import InputError
from tempo_core.network import TempoConfig, preset_config
from tempo_core.training.losses import LossConfig

MODEL_FLAGS = (
    "base_channels",
    "temporal_channels",
    "encoder_depths",
    "decoder_depths",
    "attn_heads",
    "attn_points",
)
NOT_RESUMED = ("resume", "distributed", "stop_at_step", "time_budget", "num_workers", "threads")


class ListError(InputError, ValueError):
    """A malformed integer list: a user error for the CLI and a ValueError for argparse."""


def int_list(text: str | list[int] | tuple[int, ...]) -> list[int]:
    """``"3,3,9,3"`` or ``"[3, 3, 9, 3]"`` (or a list, from a stored config) -> ints."""
    if isinstance(text, (list, tuple)):
        return [int(v) for v in text]
    try:
        return [int(v) for v in str(text).strip("[]").split(",") if v.strip()]
    except ValueError:
        raise ListError(f"Expected integers separated by commas, got {text!r}.") from None


@dataclass(frozen=True)
class DataSection:
    """Where the frames come from and how training windows and validation septuplets are cut."""

    data_root: Path
    layout: str
    crop: int
    n_frames: tuple[int, ...]
    max_stride: int
    max_side: int
    cache_dir: Path
    samples_per_epoch: int
    num_workers: int
    val_root: Path | None
    val_crop: int
    val_limit: int
    val_n: tuple[int, ...]


@dataclass(frozen=True)
class ModelSection:
    """The network's size (a preset and the size flags over it) and an optional starting point."""

    preset: str
    config: TempoConfig
    init_weights: Path | None


@dataclass(frozen=True)
class OptimSection:
    """Batch, schedule length, AdamW, LR schedule, precision, EMA and the loss (weights, schedule)."""

    batch_size: int
    epochs: int
    max_steps: int
    lr: float
    min_lr: float
    warmup_steps: int
    weight_decay: float
    grad_clip: float
    ema_decay: float
    amp: bool
    amp_dtype: str | None
    loss: LossConfig


@dataclass(frozen=True)
class RunSection:
    """The run's folder, seed, cadences (log, save, validate), stopping rules and processes."""

    name: str | None
    runs_dir: Path
    resume: str | None
    seed: int
    save_every: int
    log_every: int
    val_every: int
    stop_at_step: int
    time_budget: float
    device: str
    threads: int
    distributed: bool


@dataclass(frozen=True)
class RunConfig:
    """Everything a run is built from; ``flags`` are the resolved flags as JSON values."""

    data: DataSection
    model: ModelSection
    optim: OptimSection
    run: RunSection
    flags: Mapping[str, Any] = field(compare=False, hash=False)

    @property
    def metric_name(self) -> str:
        """The score that picks ``best.pt``: validation PSNR, else the epoch's Charbonnier loss
        (the total changes scale when the schedule adds terms)."""
        return "val_psnr" if self.data.val_root else "train_charbonnier"

    @classmethod
    def from_flags(
        cls,
        given: Mapping[str, Any],
        defaults: Mapping[str, Any],
        stored: Mapping[str, Any] | None = None,
    ) -> RunConfig:
        """The config of parsed flags ``given``; on resume, flags equal to their ``defaults``
        take the ``stored`` run's values (the dispatcher's own keys, ``_run`` etc., are dropped)."""
        flags = resolve_flags(given, defaults, stored)
        return cls(
            data=_data_section(flags),
            model=_model_section(flags),
            optim=_optim_section(flags),
            run=_run_section(flags),
            flags=flags,
        )


def resolve_flags(
    given: Mapping[str, Any], defaults: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The flags as JSON values, stored values filling those left at their defaults."""
    flags = {k: v for k, v in given.items() if not k.startswith("_") and k != "command"}
    for key, value in (stored or {}).items():
        if key in flags and key not in NOT_RESUMED and flags[key] == defaults.get(key):
            flags[key] = value
    return json.loads(json.dumps(flags, default=str))


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _data_section(flags: Mapping[str, Any]) -> DataSection:
    if not flags["data_root"]:
        raise InputError("--data_root is required (a videos/frames folder or a Vimeo-90K root).")
    if flags["crop"] % 32:
        raise InputError(f"--crop must be a multiple of 32 (got {flags['crop']}).")
    cache_dir = flags["cache_dir"] or Path(flags["runs_dir"]) / "cache"
    return DataSection(
        data_root=Path(flags["data_root"]),
        layout=flags["layout"],
        crop=flags["crop"],
        n_frames=tuple(int_list(flags["n_frames"])),
        max_stride=flags["max_stride"],
        max_side=flags["max_side"],
        cache_dir=Path(cache_dir),
        samples_per_epoch=flags["samples_per_epoch"],
        num_workers=flags["num_workers"],
        val_root=_optional_path(flags["val_root"]),
        val_crop=flags["val_crop"],
        val_limit=flags["val_limit"],
        val_n=tuple(sorted(set(int_list(flags["val_n"])) | {2})),
    )


def _model_section(flags: Mapping[str, Any]) -> ModelSection:
    values = preset_config(flags["preset"]).to_dict()
    for key in MODEL_FLAGS:
        if flags.get(key) is not None:
            values[key] = int_list(flags[key]) if key.endswith("depths") else flags[key]
    try:
        check_config_values(values)  # the limits a model file's config must keep (checkpoint.py)
    except ValueError as err:
        raise InputError(f"The model size flags are out of range: {err}.") from None
    try:
        config = TempoConfig.from_dict(values)
    except ValueError as err:
        raise InputError(f"The model size flags do not fit together: {err}.") from None
    return ModelSection(flags["preset"], config, _optional_path(flags["init_weights"]))


def _loss_config(flags: Mapping[str, Any]) -> LossConfig:
    try:
        perceptual_from, full_from = int_list(flags["schedule"])
        return LossConfig.parse_weights(
            flags["loss_weights"],
            LossConfig(perceptual_from=perceptual_from, full_from=full_from, vgg_weights=flags["vgg_weights"]),
        )
    except ValueError as err:
        raise InputError(
            f"--schedule needs two epochs like 5,20 and --loss_weights terms like census=0.1 ({err})."
        ) from None


def _optim_section(flags: Mapping[str, Any]) -> OptimSection:
    return OptimSection(
        batch_size=flags["batch_size"],
        epochs=flags["epochs"],
        max_steps=flags["max_steps"],
        lr=flags["lr"],
        min_lr=flags["min_lr"],
        warmup_steps=flags["warmup_steps"],
        weight_decay=flags["weight_decay"],
        grad_clip=flags["grad_clip"],
        ema_decay=flags["ema_decay"],
        amp=flags["amp"],
        amp_dtype=flags["amp_dtype"],
        loss=_loss_config(flags),
    )


def _run_section(flags: Mapping[str, Any]) -> RunSection:
    return RunSection(
        name=flags["name"],
        runs_dir=Path(flags["runs_dir"]),
        resume=flags["resume"],
        seed=flags["seed"],
        save_every=flags["save_every"],
        log_every=flags["log_every"],
        val_every=flags["val_every"],
        stop_at_step=flags["stop_at_step"],
        time_budget=flags["time_budget"],
        device=flags["device"],
        threads=flags["threads"],
        distributed=flags["distributed"],
    )
