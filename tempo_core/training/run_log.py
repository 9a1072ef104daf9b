"""What a run records (rank 0 only): its folder, ``config.json``, ``metrics.jsonl`` and TensorBoard
events, and the progress line it prints.

``metrics.jsonl`` holds one JSON object a line: ``step``, ``epoch`` (1-based) and the values
recorded at that step (``loss``, ``lr``, ``it_per_s``, ``loss/<term>`` every ``--log_every``
steps; validation scores and the best-checkpoint score at each evaluation).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from tempo_core.errors import InputError, OutputError
from tempo_core.network import count_parameters
from tempo_core.reporting import write_json
from tempo_core.training.state import args_dict

if TYPE_CHECKING:
    from tempo_core.training.trainer import Trainer


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


def code_version() -> str:
    """The git commit of the package (``+dirty`` with local changes), or ``unknown``."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, text=True, capture_output=True, timeout=10)
        return result.stdout.strip()

    try:
        commit, dirty = (
            git("rev-parse", "--short", "HEAD"),
            git("status", "--porcelain", "tempo_core"),
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("+dirty" if dirty else "")) or "unknown"


def resolve_run_dir(args: argparse.Namespace, resume_state: dict[str, Any] | None) -> Path:
    """The folder of a resumed run, or ``<runs_dir>/<name>`` for a new one (which must not exist)."""
    if resume_state:
        path = Path(resume_state["path"]).resolve()
        return path.parent.parent if path.parent.name == "checkpoints" else path.parent
    name = args.name or time.strftime("tempo-%Y%m%d-%H%M%S")
    run_dir = Path(args.runs_dir) / name
    if (run_dir / "checkpoints" / "latest.pt").exists():
        raise InputError(
            f"The run {run_dir} already exists; continue it with --resume {run_dir} or choose another --name."
        )
    if args.distributed and not args.name:
        raise InputError("Give distributed runs a --name so every process uses the same folder.")
    return run_dir


class MetricsLog:
    """``metrics.jsonl`` (appended to, so a resumed run continues it) and TensorBoard events.

    Creating one creates the run folder; ``logging`` says where the metrics go, for config.json.
    """

    def __init__(self, run_dir: Path, log: Callable[[str], None]) -> None:
        try:
            (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            self.file = open(run_dir / "metrics.jsonl", "a")
        except OSError as err:
            raise OutputError(f"Cannot write the run folder {run_dir}: {err}.") from None
        self.writer = None
        self.logging = "tensorboard in " + str(run_dir / "tb")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tb"))
        except ImportError:
            self.logging = "tensorboard not installed: metrics only in metrics.jsonl"
            log(f"note: {self.logging}")

    def record(self, step: int, epoch: int, values: dict[str, float]) -> None:
        """One metrics.jsonl line (``epoch`` 1-based) and one TensorBoard scalar per value."""
        self.file.write(json.dumps({"step": step, "epoch": epoch, **values}) + "\n")
        self.file.flush()
        if self.writer:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        self.file.close()


def write_run_config(trainer: Trainer, logging: str) -> None:
    """``config.json``: everything resolved (flags, model, loss, data, schedule, versions); then the
    run's opening log line."""
    criterion = trainer.criterion
    status = criterion.perceptual_status
    config = {
        "model": trainer.config.to_dict(),
        "parameters": count_parameters(trainer.model),
        "train_args": args_dict(trainer.args),
        "loss": asdict(criterion.config),
        "perceptual_loss": status,
        "active_terms_by_epoch": {
            str(e): criterion.active_terms(e)
            for e in sorted({0, criterion.config.perceptual_from, criterion.config.full_from})
        },
        "data": {
            "n_frames": list(trainer.dataset.n_frames),
            "clips": len(trainer.dataset.clips),
            "slots": len(trainer.dataset),
            "steps_per_epoch": trainer.steps_per_epoch,
        },
        "schedule": trainer.schedule.state_dict(),
        "world_size": trainer.procs.world_size,
        "device": str(trainer.device),
        "amp_dtype": trainer.amp_name,
        "logging": logging,
        "torch": torch.__version__,
        "code_version": code_version(),
        "resumed_from": trainer.resume_state["path"] if trainer.resume_state else None,
    }
    write_json(trainer.run_dir / "config.json", config)
    trainer.log(
        f"run {trainer.run_dir}: {config['parameters'] / 1e6:.2f}M parameters on {trainer.device}"
        f" x{trainer.procs.world_size}, amp {trainer.amp_name}, N in {list(trainer.dataset.n_frames)}, "
        f"{trainer.steps_per_epoch} steps/epoch, schedule {trainer.schedule.total_steps} steps"
    )
    if not status["enabled"]:
        trainer.log("note: config.json records that the perceptual loss is off (see above)")


def progress_line(
    step: int, end: int, epoch: int, loss: float, parts: dict[str, float], lr: float, rate: float, eta: float
) -> str:
    """``[####----] 40.0% step 4/10 ep 1 loss ... (terms) lr ... it/s ETA ...`` (``epoch`` 1-based)."""
    terms = " ".join(f"{k[:5]} {v:.4f}" for k, v in parts.items())
    done = min(1.0, step / max(1, end))
    bar = "#" * round(20 * done) + "-" * (20 - round(20 * done))
    return (
        f"[{bar}] {100 * done:5.1f}% step {step}/{end} ep {epoch} "
        f"loss {loss:.4f} ({terms}) lr {lr:.2e} {rate:.2f} it/s ETA {format_seconds(eta)}"
    )


def eta_seconds(remaining_steps: int, rate: float, budget_left: float | None) -> float:
    """Seconds to the end at ``rate`` steps a second, capped by what is left of a time budget."""
    eta = remaining_steps / rate if rate > 0 else float("inf")
    return eta if budget_left is None else min(eta, budget_left)
