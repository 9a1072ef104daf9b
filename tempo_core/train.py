"""``tempo train``: train a TEMPO model on one CPU, one GPU or many GPUs (torchrun + DDP).

A run lives in ``<runs_dir>/<name>/``: ``config.json`` (everything resolved, including whether the
perceptual loss could run), ``metrics.jsonl`` (always) and TensorBoard events (when tensorboard is
installed), ``checkpoints/latest.pt`` and ``best.pt`` (highest validation PSNR; without
``--val_root``, lowest mean Charbonnier loss of an epoch). Checkpoints are written atomically and
load with ``torch.load(weights_only=True)``.

Reproducibility: all data randomness derives from ``--seed``, the epoch and the batch index (see
:mod:`tempo_core.data`), and checkpoints hold the optimizer, LR schedule, GradScaler, step,
position in the epoch and the python / numpy / torch RNG states, so stopping (``--stop_at_step``,
``--time_budget``, Ctrl-C, SIGTERM) and resuming with ``--resume`` gives the same weights as one
uninterrupted run. On resume, flags left at their defaults take the run's stored values; a new
``--max_steps`` / ``--epochs`` extends the schedule.

The LR schedule is linear warm-up then cosine to ``--min_lr`` over ``--max_steps`` (or
``--epochs`` x steps per epoch). With ``--time_budget`` and no ``--max_steps`` the schedule length
is measured after the first steps so the cosine ends when the budget does.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tempo_core.config import TempoConfig, preset_config, preset_names
from tempo_core.data import LAYOUTS
from tempo_core.errors import InputError

CHECKPOINT_FORMAT = "tempo-train-checkpoint-v1"
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


def _int_list(text: str | list[int]) -> list[int]:
    """``"3,3,9,3"`` or ``"[3, 3, 9, 3]"`` (or a list, from a stored config) -> ints."""
    if isinstance(text, (list, tuple)):
        return [int(v) for v in text]
    try:
        return [int(v) for v in str(text).strip("[]").split(",") if v.strip()]
    except ValueError:
        raise ListError(f"Expected integers separated by commas, got {text!r}.") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data")
    g.add_argument("--data_root", help="videos/frames folder, Vimeo-90K root or frame folder")
    g.add_argument("--layout", choices=LAYOUTS, default="auto", help="force the data layout")
    g.add_argument("--val_root", help="septuplet folder for validation (N=2: im3, im5 -> im4)")
    g.add_argument("--val_crop", type=int, default=0, help="centre crop for validation (0: full)")
    g.add_argument("--val_limit", type=int, default=0, help="validate on the first K septuplets")
    g.add_argument("--val_every", type=int, default=0, help="also validate every K steps")
    g.add_argument("--val_n", default="2", help="septuplet protocols to log, e.g. 2,4 (2 picks best)")
    g.add_argument("--crop", type=int, default=256, help="training crop (multiple of 32)")
    g.add_argument("--n_frames", default="2,4", help="N values batches draw from, e.g. 2,4")
    g.add_argument("--max_stride", type=int, default=3, help="anchors 2..2*max_stride frames apart")
    g.add_argument("--max_side", type=int, default=640, help="downscale videos at cache time")
    g.add_argument("--cache_dir", help="decoded-frame cache (default <runs_dir>/cache)")
    g.add_argument("--samples_per_epoch", type=int, default=0, help="0: one per clip frame")
    g.add_argument("--num_workers", type=int, default=-1, help="loader workers (-1: auto)")
    g = parser.add_argument_group("model")
    g.add_argument("--preset", choices=preset_names(), default="b", help="size preset")
    g.add_argument("--base_channels", type=int)
    g.add_argument("--temporal_channels", type=int)
    g.add_argument("--encoder_depths", type=_int_list, help="e.g. 3,3,9,3")
    g.add_argument("--decoder_depths", type=_int_list, help="e.g. 3,3,3,3")
    g.add_argument("--attn_heads", type=int)
    g.add_argument("--attn_points", type=int)
    g.add_argument("--init_weights", help="fine-tune: start from this model file (same size flags)")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--batch_size", type=int, default=4, help="batch size per process")
    g.add_argument("--epochs", type=int, default=100)
    g.add_argument("--max_steps", type=int, default=0, help="schedule length in steps (0: epochs)")
    g.add_argument("--time_budget", type=float, default=0, help="stop after this many seconds")
    g.add_argument("--stop_at_step", type=int, default=0, help="stop (checkpointed) at this step")
    g.add_argument("--lr", type=float, default=1e-4)
    g.add_argument("--min_lr", type=float, default=1e-6)
    g.add_argument("--warmup_steps", type=int, default=-1, help="-1: min(1000, 3%% of steps)")
    g.add_argument("--weight_decay", type=float, default=1e-4)
    g.add_argument("--grad_clip", type=float, default=1.0)
    g.add_argument("--ema_decay", type=float, default=0.999, help="weight EMA (0: off)")
    g.add_argument("--amp", action="store_true", help="mixed precision (bf16 unless --amp_dtype)")
    g.add_argument("--amp_dtype", choices=("fp16", "bf16", "fp32"))
    g.add_argument("--loss_weights", default="", help="e.g. charbonnier=1,perceptual=0.1,census=0.1")
    g.add_argument("--schedule", default="5,20", help="epochs where perceptual / all terms start")
    g.add_argument("--vgg_weights", help="torchvision VGG16/19 state dict for the perceptual loss")
    g = parser.add_argument_group("run")
    g.add_argument("--name", help="run name (default: a timestamp)")
    g.add_argument("--runs_dir", default="runs")
    g.add_argument("--resume", help="checkpoint or run folder to continue")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--save_every", type=int, default=200, help="write latest.pt every K steps")
    g.add_argument("--log_every", type=int, default=10)
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    g.add_argument("--distributed", action="store_true", help="DDP under torchrun")


# ----------------------------------------------------------------------------- run state helpers
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


class WarmupCosine:
    """Linear warm-up to the base LR, then cosine to ``min_lr`` at ``total_steps``."""

    def __init__(self, optimizer, base_lr: float, min_lr: float, total_steps: int, warmup: int):
        self.optimizer, self.base_lr, self.min_lr = optimizer, base_lr, min_lr
        self.total_steps, self.warmup = max(1, int(total_steps)), max(0, int(warmup))

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.base_lr * (step + 1) / self.warmup
        span = max(1, self.total_steps - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))

    def set_step(self, step: int) -> float:
        lr = self.lr_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {
            "base_lr": self.base_lr,
            "min_lr": self.min_lr,
            "total_steps": self.total_steps,
            "warmup": self.warmup,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr, self.min_lr = float(state["base_lr"]), float(state["min_lr"])
        self.total_steps, self.warmup = int(state["total_steps"]), int(state["warmup"])


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A resume checkpoint (file, ``checkpoints/`` folder or run folder), weights only."""
    path = Path(path)
    for candidate in (path / "checkpoints" / "latest.pt", path / "latest.pt"):
        if path.is_dir() and candidate.exists():
            path = candidate
    if not path.is_file():
        raise InputError(f"No training checkpoint at {path}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling problem is a bad file for the user
        raise InputError(f"{path} is not a readable training checkpoint ({err}).") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a TEMPO training checkpoint.")
    state["path"] = str(path)
    return state


def resolve_args(args: argparse.Namespace, stored: dict[str, Any] | None) -> argparse.Namespace:
    """On resume, flags left at their defaults take the stored run's values."""
    if stored is None:
        return args
    defaults = argparse.ArgumentParser()
    add_arguments(defaults)
    merged = vars(args).copy()
    for key, value in stored.items():
        if key in merged and key not in NOT_RESUMED and merged[key] == defaults.get_default(key):
            merged[key] = value
    return argparse.Namespace(**merged)


def model_config(args: argparse.Namespace) -> TempoConfig:
    values = preset_config(args.preset).to_dict()
    values.update({k: getattr(args, k) for k in MODEL_FLAGS if getattr(args, k) is not None})
    try:
        return TempoConfig.from_dict(values)
    except ValueError as err:
        raise InputError(f"The model size flags do not fit together: {err}.") from None


def pad32(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """Replicate-pad the last two dims to multiples of 32; returns the padded tensor, H, W."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % 32, (-w) % 32
    if ph or pw:
        shape = x.shape
        x = F.pad(x.reshape(-1, *shape[-3:]), (0, pw, 0, ph), mode="replicate")
        x = x.reshape(*shape[:-2], h + ph, w + pw)
    return x, h, w


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


# ----------------------------------------------------------------------------- entry point
def run(args: argparse.Namespace) -> int:
    from tempo_core.trainer import Trainer

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    trainer = Trainer(args)
    try:
        trainer.fit()
    finally:
        trainer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tempo train")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
