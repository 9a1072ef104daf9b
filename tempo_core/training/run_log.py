"""What a run records (rank 0 only): its folder, ``config.json``, ``metrics.jsonl`` and TensorBoard
events, and the progress line it prints.

``metrics.jsonl`` holds one JSON object a line: ``step``, ``epoch`` (1-based) and the values
recorded at that step (``loss``, ``lr``, ``it_per_s``, ``loss/<term>`` every ``--log_every``
steps; validation scores and the best-checkpoint score at each evaluation).
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from tempo_core.errors import InputError, OutputError
from tempo_core.reporting import write_json
from tempo_core.training.losses import TempoLoss
from tempo_core.training.run_config import RunConfig, RunSection


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


def resolve_run_dir(run: RunSection, resumed_from: str | None) -> Path:
    """The folder of the checkpoint ``resumed_from``, or ``<runs_dir>/<name>`` for a new run
    (which must not hold a run yet)."""
    if resumed_from:
        path = Path(resumed_from).resolve()
        return path.parent.parent if path.parent.name == "checkpoints" else path.parent
    name = run.name or time.strftime("tempo-%Y%m%d-%H%M%S")
    run_dir = run.runs_dir / name
    if (run_dir / "checkpoints" / "latest.pt").exists():
        raise InputError(
            f"The run {run_dir} already exists; continue it with --resume {run_dir} or choose another --name."
        )
    check_run_folder(run_dir)
    if run.distributed and not run.name:
        raise InputError("Give distributed runs a --name so every process uses the same folder.")
    return run_dir


RUN_MARKER = ".tempo-run"
_RUN_MARKER_TEXT = "A TEMPO training run (tempo train); `tempo export` reads its checkpoints.\n"
_RUN_CONTENT = frozenset({RUN_MARKER, "checkpoints", "metrics.jsonl", "tb", "config.json"})


def check_run_folder(run_dir: Path) -> None:
    """Refuse a new run's folder that exists and is not a TEMPO run folder (a file, or a folder
    holding anything but what a run writes: ``--runs_dir user --name docs``). An empty folder,
    or one that holds TEMPO's :data:`RUN_MARKER` or only a run's own files, is fine."""
    if run_dir.is_symlink() and not run_dir.exists():
        raise OutputError(f"The run folder {run_dir} is a symbolic link that leads nowhere; choose another --name.")
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise OutputError(f"{run_dir} is a file, not a run folder; choose another --name or --runs_dir.")
    try:
        names = {entry.name for entry in run_dir.iterdir()}
        marked = (run_dir / RUN_MARKER).is_file() and (run_dir / RUN_MARKER).read_text() == _RUN_MARKER_TEXT
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"The run folder {run_dir} cannot be read ({err.strerror or err}).") from None
    older_run = names <= _RUN_CONTENT and (not names or (run_dir / "checkpoints").is_dir())  # before the marker
    if not marked and not older_run:
        raise OutputError(
            f"The folder {run_dir} already exists and is not a TEMPO run folder; TEMPO writes a run only "
            "into a new folder or its own, so choose another --name or --runs_dir."
        )


class MetricsLog:
    """``metrics.jsonl`` (appended to, so a resumed run continues it) and TensorBoard events.

    Creating one creates the run folder; ``logging`` says where the metrics go, for config.json.
    """

    def __init__(self, run_dir: Path, log: Callable[[str], None]) -> None:
        try:
            (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            if not (run_dir / RUN_MARKER).exists():
                (run_dir / RUN_MARKER).write_text(_RUN_MARKER_TEXT)
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


@dataclass(frozen=True)
class RunFacts:
    """What a run was resolved to beyond its flags, for ``config.json`` and the opening line."""

    parameters: int
    n_frames: tuple[int, ...]
    clips: int
    slots: int
    steps_per_epoch: int
    schedule: dict[str, Any]
    world_size: int
    device: str
    amp_name: str
    resumed_from: str | None


def run_record(config: RunConfig, criterion: TempoLoss, facts: RunFacts, logging: str) -> dict[str, Any]:
    """``config.json``: everything resolved (flags, model, loss, data, schedule, versions)."""
    loss = criterion.config
    return {
        "model": config.model.config.to_dict(),
        "parameters": facts.parameters,
        "train_args": dict(config.flags),
        "loss": asdict(loss),
        "perceptual_loss": criterion.perceptual_status,
        "active_terms_by_epoch": {
            str(e): criterion.active_terms(e) for e in sorted({0, loss.perceptual_from, loss.full_from})
        },
        "data": {
            "n_frames": list(facts.n_frames),
            "clips": facts.clips,
            "slots": facts.slots,
            "steps_per_epoch": facts.steps_per_epoch,
        },
        "schedule": facts.schedule,
        "world_size": facts.world_size,
        "device": facts.device,
        "amp_dtype": facts.amp_name,
        "logging": logging,
        "torch": torch.__version__,
        "code_version": code_version(),
        "resumed_from": facts.resumed_from,
    }


def write_run_config(
    run_dir: Path, config: RunConfig, criterion: TempoLoss, facts: RunFacts, logging: str, log: Callable[[str], None]
) -> None:
    """Write ``config.json`` into ``run_dir``, then log the run's opening line."""
    write_json(run_dir / "config.json", run_record(config, criterion, facts, logging), overwrite=True)
    log(
        f"run {run_dir}: {facts.parameters / 1e6:.2f}M parameters on {facts.device}"
        f" x{facts.world_size}, amp {facts.amp_name}, N in {list(facts.n_frames)}, "
        f"{facts.steps_per_epoch} steps/epoch, schedule {facts.schedule['total_steps']} steps"
    )
    if not criterion.perceptual_status["enabled"]:
        log("note: config.json records that the perceptual loss is off (see above)")


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
