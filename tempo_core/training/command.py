"""``tempo train``: train a TEMPO model on one CPU, one GPU or many GPUs (torchrun + DDP).

A run lives in ``<runs_dir>/<name>/``: ``config.json`` (everything resolved, including whether the
perceptual loss could run), ``metrics.jsonl`` (always) and TensorBoard events (when tensorboard is
installed), ``checkpoints/latest.pt`` and ``best.pt`` (highest validation PSNR; without
``--val_root``, lowest mean Charbonnier loss of an epoch). Checkpoints are written atomically and
load with ``torch.load(weights_only=True)`` (:mod:`tempo_core.training.state`).

Reproducibility: all data randomness derives from ``--seed``, the epoch and the batch index (see
:mod:`tempo_core.training.datasets`), and checkpoints hold the optimizer, LR schedule, GradScaler, step,
position in the epoch and the python / numpy / torch RNG states, so stopping (``--stop_at_step``,
``--time_budget``, Ctrl-C, SIGTERM) and resuming with ``--resume`` gives the same weights as one
uninterrupted run. On resume, flags left at their defaults take the run's stored values; a new
``--max_steps`` / ``--epochs`` extends the schedule.

The LR schedule (:mod:`tempo_core.training.optim`) is linear warm-up then cosine to ``--min_lr`` over
``--max_steps`` (or ``--epochs`` x steps per epoch). With ``--time_budget`` and no ``--max_steps``
the schedule length is measured after the first steps so the cosine ends when the budget does.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from tempo_core.network import preset_names
from tempo_core.training.datasets import LAYOUTS
from tempo_core.training.run_config import RunConfig, int_list
from tempo_core.training.state import load_checkpoint


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
    g.add_argument("--encoder_depths", type=int_list, help="e.g. 3,3,9,3")
    g.add_argument("--decoder_depths", type=int_list, help="e.g. 3,3,3,3")
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


def flag_defaults() -> dict[str, Any]:
    """Every flag's default value (what a resumed run replaces with the stored value)."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return vars(parser.parse_args([]))


def load_run(args: argparse.Namespace) -> tuple[RunConfig, dict[str, Any] | None]:
    """The run config of the parsed flags and, with ``--resume``, the checkpoint it continues
    (flags left at their defaults then take the run's stored values)."""
    resume_state = load_checkpoint(args.resume) if args.resume else None
    stored = resume_state["train_args"] if resume_state else None
    return RunConfig.from_flags(vars(args), flag_defaults(), stored), resume_state


# ----------------------------------------------------------------------------- entry point
def run(args: argparse.Namespace) -> int:
    from tempo_core.training.trainer import Trainer  # torch.distributed & co. only when training

    config, resume_state = load_run(args)
    if config.run.threads > 0:
        torch.set_num_threads(config.run.threads)
    trainer = Trainer(config, resume_state)
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
