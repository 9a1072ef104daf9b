"""The training loop behind `tempo train` (flags, checkpoint format, helpers: `train.py`)."""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from tempo_core.checkpoint import load_model
from tempo_core.data import SeptupletValDataset, WindowBatchSampler, build_train_dataset
from tempo_core.errors import InputError, OutputError
from tempo_core.losses import LossConfig, TempoLoss
from tempo_core.model import TempoNet, count_parameters
from tempo_core.train import (
    CHECKPOINT_FORMAT,
    WarmupCosine,
    _int_list,
    atomic_save,
    capture_rng,
    format_seconds,
    load_checkpoint,
    model_config,
    pad32,
    resolve_args,
    restore_rng,
    write_json,
)

AMP_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


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


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman correlation of two 1-D tensors (ties broken by order); NaN if one is flat."""
    ranks = [
        torch.empty_like(x, dtype=torch.float64).scatter_(0, x.argsort(), torch.arange(len(x), dtype=torch.float64))
        for x in (a, b)
    ]
    ra, rb = (r - r.mean() for r in ranks)
    denominator = float(ra.norm() * rb.norm())
    return float((ra * rb).sum()) / denominator if denominator > 0 else float("nan")


class Trainer:
    """Builds everything from the parsed flags; ``fit()`` trains; ``close()`` releases."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.resume_state = load_checkpoint(args.resume) if args.resume else None
        stored = self.resume_state["train_args"] if self.resume_state else None
        self.args = args = resolve_args(args, stored)
        self._setup_distributed()
        self.is_main = self.rank == 0
        self.run_dir = self._run_dir()
        self.writer = None
        self.metrics_file = None

        # model (seeded so every rank and every fresh run starts from the same weights)
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        self.config = model_config(args)
        self.model = TempoNet(self.config).to(self.device)
        if self.resume_state:
            if self.resume_state["model_config"] != self.config.to_dict():
                raise InputError("The checkpoint was trained with other model size flags.")
            try:
                self.model.load_state_dict(self.resume_state["model"])
            except RuntimeError as err:
                raise InputError(
                    "The checkpoint's weights do not fit the current network code (it was "
                    f"trained with another version): {str(err).splitlines()[-1].strip()}"
                ) from None
        elif args.init_weights:
            self._load_init_weights(Path(args.init_weights))
        # exponential moving average of the weights: validated, kept as best.pt, exported
        self.ema_model = None
        if args.ema_decay > 0:
            self.ema_model = copy.deepcopy(self.model).requires_grad_(False).eval()
            if self.resume_state and "ema" in self.resume_state:
                self.ema_model.load_state_dict(self.resume_state["ema"])

        # data
        if not args.data_root:
            raise InputError("--data_root is required (a videos/frames folder or a Vimeo-90K root).")
        if args.crop % 32:
            raise InputError(f"--crop must be a multiple of 32 (got {args.crop}).")
        cache_dir = Path(args.cache_dir) if args.cache_dir else Path(args.runs_dir) / "cache"
        self.dataset = self._main_first(
            lambda: build_train_dataset(
                Path(args.data_root),
                args.layout,
                _int_list(args.n_frames),
                args.crop,
                args.max_stride,
                args.max_side,
                cache_dir,
                augment=True,
                log=self.log,
            )
        )
        self.sampler = WindowBatchSampler(
            self.dataset,
            args.batch_size,
            args.seed,
            self.world_size,
            self.rank,
            args.samples_per_epoch or None,
        )
        workers = args.num_workers if args.num_workers >= 0 else self._auto_workers()
        self.loader = DataLoader(
            self.dataset,
            batch_sampler=self.sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
            generator=torch.Generator(),
        )  # keeps the global torch RNG untouched by loader seeding
        self.steps_per_epoch = len(self.sampler)
        self.val_sets: dict[int, SeptupletValDataset] = {}
        if args.val_root and self.is_main:  # N=2 picks best.pt; other N are logged
            for n in sorted(set(_int_list(args.val_n)) | {2}):
                self.val_sets[n] = SeptupletValDataset(Path(args.val_root), n, args.val_crop, args.val_limit)

        # loss, optimizer, schedule, precision
        try:
            perceptual_from, full_from = _int_list(args.schedule)
            loss_config = LossConfig.parse_weights(
                args.loss_weights,
                LossConfig(
                    perceptual_from=perceptual_from,
                    full_from=full_from,
                    vgg_weights=args.vgg_weights,
                ),
            )
        except ValueError as err:
            raise InputError(
                f"--schedule needs two epochs like 5,20 and --loss_weights terms like census=0.1 ({err})."
            ) from None
        self.criterion = TempoLoss(loss_config).to(self.device)
        decay, no_decay = [], []
        for p in self.model.parameters():
            (decay if p.dim() > 1 else no_decay).append(p)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": args.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=args.lr,
            betas=(0.9, 0.999),
        )
        total = args.max_steps or args.epochs * self.steps_per_epoch
        warmup = args.warmup_steps if args.warmup_steps >= 0 else min(1000, int(0.03 * total))
        self.schedule = WarmupCosine(self.optimizer, args.lr, args.min_lr, total, warmup)
        self.schedule_measured = bool(args.max_steps) or not args.time_budget
        amp_name = args.amp_dtype or ("bf16" if args.amp else "fp32")
        if amp_name == "bf16" and not args.amp_dtype and self.device.type == "cuda":
            amp_name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        self.amp_dtype = AMP_DTYPES[amp_name]
        self.amp_name = amp_name
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp_name == "fp16")

        self.step = self.epoch = self.batch_in_epoch = 0
        self.epoch_loss_sum, self.epoch_loss_count = 0.0, 0
        self.bad_steps, self._updating, self.evaluated_step = 0, False, -1
        self.stop_requested, self.saved_step = False, -1
        self.best_metric, self.best_step = None, -1
        # without validation, best.pt follows the reconstruction term alone: the total changes
        # scale when the schedule adds terms
        self.metric_name = "val_psnr" if args.val_root else "train_charbonnier"
        if self.resume_state:
            self._restore(self.resume_state)
        if self.world_size > 1:
            self.ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        else:
            self.ddp = self.model
        if self.is_main:
            self._open_logs()

    # ------------------------------------------------------------------ setup
    def _load_init_weights(self, path: Path) -> None:
        """Fine-tuning: start from the weights of a model file (``tempo export``) of the same size."""
        source = load_model(path)
        if source.config != self.config:
            raise InputError(
                f"{path.name} was trained with other model size flags than this run; "
                "pass the same --preset (and size flags) as the file."
            )
        self.model.load_state_dict(source.state_dict())

    def _setup_distributed(self) -> None:
        args = self.args
        self.rank, self.world_size, local_rank = 0, 1, 0
        if args.distributed:
            if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
                raise InputError(
                    "--distributed needs to be started by torchrun "
                    "(e.g. torchrun --nproc_per_node=4 -m tempo_core train ...)."
                )
            self.rank, self.world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if args.device == "auto":
            if torch.cuda.is_available():
                device = torch.device("cuda", local_rank)
            elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                device = torch.device("mps")
            else:
                device = torch.device("cpu")
        else:
            device = torch.device(args.device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        self.device = device
        if args.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    def _main_first(self, build):
        """Rank 0 builds first (fills the frame cache), then the others read the cache."""
        if self.world_size > 1 and not self.is_main:
            dist.barrier()
        result = build()
        if self.world_size > 1 and self.is_main:
            dist.barrier()
        return result

    def _auto_workers(self) -> int:
        cores = os.cpu_count() or 1
        return 0 if cores <= 2 else min(4, cores // max(1, self.world_size) - 1)

    def _run_dir(self) -> Path:
        if self.resume_state:
            path = Path(self.resume_state["path"]).resolve()
            return path.parent.parent if path.parent.name == "checkpoints" else path.parent
        name = self.args.name or time.strftime("tempo-%Y%m%d-%H%M%S")
        run_dir = Path(self.args.runs_dir) / name
        if (run_dir / "checkpoints" / "latest.pt").exists():
            raise InputError(
                f"The run {run_dir} already exists; continue it with --resume {run_dir} or choose another --name."
            )
        if self.args.distributed and not self.args.name:
            raise InputError("Give distributed runs a --name so every process uses the same folder.")
        return run_dir

    def log(self, message: str) -> None:
        if self.rank == 0:
            print(message, flush=True)

    def _open_logs(self) -> None:
        try:
            (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            self.metrics_file = open(self.run_dir / "metrics.jsonl", "a")
        except OSError as err:
            raise OutputError(f"Cannot write the run folder {self.run_dir}: {err}.") from None
        tensorboard = "tensorboard in " + str(self.run_dir / "tb")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tb"))
        except ImportError:
            tensorboard = "tensorboard not installed: metrics only in metrics.jsonl"
            self.log(f"note: {tensorboard}")
        status = self.criterion.perceptual_status
        config = {
            "model": self.config.to_dict(),
            "parameters": count_parameters(self.model),
            "train_args": self._args_dict(),
            "loss": asdict(self.criterion.config),
            "perceptual_loss": status,
            "active_terms_by_epoch": {
                str(e): self.criterion.active_terms(e)
                for e in sorted({0, self.criterion.config.perceptual_from, self.criterion.config.full_from})
            },
            "data": {
                "n_frames": list(self.dataset.n_frames),
                "clips": len(self.dataset.clips),
                "slots": len(self.dataset),
                "steps_per_epoch": self.steps_per_epoch,
            },
            "schedule": self.schedule.state_dict(),
            "world_size": self.world_size,
            "device": str(self.device),
            "amp_dtype": self.amp_name,
            "logging": tensorboard,
            "torch": torch.__version__,
            "code_version": code_version(),
            "resumed_from": self.resume_state["path"] if self.resume_state else None,
        }
        write_json(self.run_dir / "config.json", config)
        self.log(
            f"run {self.run_dir}: {config['parameters'] / 1e6:.2f}M parameters on {self.device}"
            f" x{self.world_size}, amp {self.amp_name}, N in {list(self.dataset.n_frames)}, "
            f"{self.steps_per_epoch} steps/epoch, schedule {self.schedule.total_steps} steps"
        )
        if not status["enabled"]:
            self.log("note: config.json records that the perceptual loss is off (see above)")

    def _args_dict(self) -> dict[str, Any]:
        """The resolved flags as plain JSON values (the CLI dispatcher's own keys left out)."""
        values = {k: v for k, v in vars(self.args).items() if not k.startswith("_")}
        values.pop("command", None)
        return json.loads(json.dumps(values, default=str))

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            **(
                {"ema": {k: v.detach().cpu() for k, v in self.ema_model.state_dict().items()}}
                if self.ema_model is not None
                else {}
            ),
            "model_config": self.config.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "epoch_loss_sum": self.epoch_loss_sum,
            "epoch_loss_count": self.epoch_loss_count,
            "best_metric": float("nan") if self.best_metric is None else float(self.best_metric),
            "best_step": self.best_step,
            "metric_name": self.metric_name,
            "rng": capture_rng(),
            "train_args": self._args_dict(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        self.schedule_measured = True
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.epoch_loss_sum = float(state["epoch_loss_sum"])
        self.epoch_loss_count = int(state["epoch_loss_count"])
        best = float(state["best_metric"])
        self.best_metric = None if math.isnan(best) else best
        self.best_step = int(state["best_step"])
        restore_rng(state["rng"])
        self.log(f"resumed {state['path']} at step {self.step} (epoch {self.epoch + 1})")
        stored = state["train_args"]
        if (self.args.max_steps, self.args.epochs) != (stored["max_steps"], stored["epochs"]):
            total = self.args.max_steps or self.args.epochs * self.steps_per_epoch
            self.schedule.total_steps = max(total, self.schedule.warmup + 1)
            self.log(f"schedule extended to {total} steps (new --max_steps / --epochs)")

    def save(self, best: bool = False) -> None:
        if not self.is_main:
            return
        state = self._state()
        atomic_save(state, self.run_dir / "checkpoints" / "latest.pt")
        self.saved_step = self.step
        if best:
            atomic_save(state, self.run_dir / "checkpoints" / "best.pt")

    # ------------------------------------------------------------------ metrics
    def record(self, values: dict[str, float]) -> None:
        if not self.is_main or not values:
            return
        if self.metrics_file:
            self.metrics_file.write(json.dumps({"step": self.step, "epoch": self.epoch + 1, **values}) + "\n")
            self.metrics_file.flush()
        if self.writer:
            for key, value in values.items():
                self.writer.add_scalar(key, value, self.step)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean PSNR (8-bit rounded output) on the septuplets per N, and how well the
        confidence ranks the error (Spearman of 1 - confidence vs. per-pixel error, N=2)."""
        results: dict[str, float] = {}
        model = self.ema_model if self.ema_model is not None else self.model
        model.eval()
        for n, val_set in self.val_sets.items():
            psnrs, rank_corrs = [], []
            for index in range(len(val_set)):
                sample = val_set[index]
                frames, height, width = pad32(sample["frames"][None].to(self.device))
                with torch.autocast(self.device.type, self.amp_dtype, enabled=self.amp_name != "fp32"):
                    out, aux = model(
                        frames,
                        sample["timestamps"][None].to(self.device),
                        sample["target_time"].to(self.device),
                    )
                out = (out[0, :, :height, :width].float().clamp(0, 1).cpu() * 255).round() / 255
                mse = float(((out - sample["target"]) ** 2).mean())
                psnrs.append(10 * math.log10(1.0 / max(mse, 1e-10)))
                if n == 2 and "confidence" in aux:
                    error = (out - sample["target"]).abs().mean(0).flatten()
                    confidence = aux["confidence"][0, 0, :height, :width].float().cpu().flatten()
                    rank_corrs.append(rank_correlation(1 - confidence, error))
            key = "val_psnr" if n == 2 else f"val_psnr_n{n}"
            results[key] = float(np.mean(psnrs))
            if rank_corrs:
                results["val_conf_spearman"] = float(np.nanmean(rank_corrs))
        self.model.train()
        return results

    def _evaluate_and_save(self, epoch_loss: float | None) -> None:
        """Validation (or the epoch's training loss) decides best.pt; then checkpoints."""
        self.evaluated_step = self.step
        metric, extra = epoch_loss, {}
        if self.args.val_root:
            extra = self.validate() if self.is_main else {}
            metric = extra.pop("val_psnr", None)
            if self.world_size > 1:
                dist.barrier()  # the other ranks wait while rank 0 validates
        improved = False
        self.record(extra)
        if metric is not None:
            higher = self.metric_name == "val_psnr"
            improved = self.best_metric is None or (metric > self.best_metric if higher else metric < self.best_metric)
            if improved:
                self.best_metric, self.best_step = metric, self.step
            self.record({self.metric_name: metric})
            if self.metric_name == "val_psnr":
                more = "".join(f", {k} {v:.3f}" for k, v in extra.items())
                self.log(
                    f"validation step {self.step}: PSNR {metric:.2f} dB "
                    f"(best {self.best_metric:.2f} at step {self.best_step}){more}"
                )
        self.save(best=improved)

    # ------------------------------------------------------------------ loop
    def _should_stop(self, started: float) -> bool:
        args = self.args
        stop = self.step >= self.schedule.total_steps or (args.stop_at_step and self.step >= args.stop_at_step)
        if args.time_budget and time.time() - started >= args.time_budget:
            stop = True
        stop = stop or self.stop_requested
        if self.world_size > 1:  # ranks see the clock and signals at different moments
            flag = torch.tensor([float(stop)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
        return bool(stop)

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float], float]:
        frames = batch["frames"].to(self.device, non_blocking=True)
        timestamps = batch["timestamps"].to(self.device, non_blocking=True)
        target = batch["target"].to(self.device, non_blocking=True)
        target_time = batch["target_time"].to(self.device, non_blocking=True).view(-1)
        lr = self.schedule.set_step(self.step)
        with torch.autocast(self.device.type, self.amp_dtype, enabled=self.amp_name != "fp32"):
            out, aux = self.ddp(frames, timestamps, target_time)
            loss, parts = self.criterion(out.float(), target, aux, self.epoch)
        self.optimizer.zero_grad(set_to_none=True)
        finite = torch.isfinite(loss.detach()).float()
        if self.world_size > 1:  # every rank must skip together, or DDP's all-reduce hangs
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if not bool(finite):
            self.bad_steps += 1
            if self.bad_steps >= 20:
                raise InputError(
                    "The loss was not finite for 20 steps in a row; lower --lr or use --amp_dtype bf16/fp32."
                )
            return float("nan"), parts, lr
        self.bad_steps = 0
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        if self.args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.args.grad_clip)
        self._updating = True
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self._update_ema()
        self._updating = False
        return float(loss.detach()), parts, lr

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema_model is None:
            return
        decay = min(self.args.ema_decay, (1 + self.step) / (10 + self.step))
        current = self.model.state_dict()
        for name, value in self.ema_model.state_dict().items():
            if value.is_floating_point():
                value.lerp_(current[name], 1 - decay)
            else:
                value.copy_(current[name])

    def fit(self) -> None:
        """Train until the schedule ends, ``--stop_at_step``, ``--time_budget``, Ctrl-C or SIGTERM.

        SIGTERM (pre-emption, ``kill``) stops at the end of the current step with a checkpoint;
        a second SIGTERM or Ctrl-C interrupts at once, checkpointing the last completed step.
        Both end in KeyboardInterrupt (exit status 130 from the CLI).
        """
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            self._loop()
            if self.stop_requested:
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            if not self._updating and self.saved_step != self.step:
                self.save()  # the weights are those of a completed step: keep them
            if self.saved_step >= 0:
                self.log(f"interrupted: latest.pt holds step {self.saved_step}; --resume continues")
            else:
                self.log("interrupted before the first checkpoint; nothing was saved")
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self.log(
            f"stopped at step {self.step} (epoch {self.epoch + 1}); best {self.metric_name} "
            f"{self.best_metric if self.best_metric is not None else 'n/a'} at step "
            f"{self.best_step}. Export: tempo export {self.run_dir} -o model.safetensors"
        )

    def _on_sigterm(self, signum, frame) -> None:
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True  # checked between steps, so no update is cut in half

    def _loop(self) -> None:
        args = self.args
        started = time.time()
        window_start, window_steps = time.time(), 0
        stop = self._should_stop(started)
        while not stop:
            self.sampler.set_epoch(self.epoch, skip=self.batch_in_epoch)
            epoch_done = False
            for batch in self.loader:
                loss, parts, lr = self.train_step(batch)
                self.step += 1
                self.batch_in_epoch += 1
                window_steps += 1
                if math.isfinite(loss) and "charbonnier" in parts:
                    self.epoch_loss_sum += parts["charbonnier"]
                    self.epoch_loss_count += 1
                if not self.schedule_measured and self._budget_measurable(started):
                    self._fit_schedule_to_budget(started)
                if self.step % args.log_every == 0 or self.step == 1:
                    now = time.time()
                    rate = window_steps / max(1e-9, now - window_start)
                    window_start, window_steps = now, 0
                    self._progress(loss, parts, lr, rate, started)
                    self.record(
                        {
                            "loss": loss,
                            "lr": lr,
                            "it_per_s": rate,
                            **{f"loss/{k}": v for k, v in parts.items()},
                        }
                    )
                epoch_done = self.batch_in_epoch >= self.steps_per_epoch
                if epoch_done:
                    self._end_epoch()
                elif args.val_every and self.step % args.val_every == 0:
                    self._evaluate_and_save(None)
                elif args.save_every and self.step % args.save_every == 0:
                    self.save()
                stop = self._should_stop(started)
                if stop or epoch_done:
                    break
            else:  # the loader ran dry early (cannot happen with WindowBatchSampler): next epoch
                self._end_epoch()
            if stop and not epoch_done:
                self._save_at_stop()

    def _save_at_stop(self) -> None:
        """Stopping mid-epoch: validate if we can (best.pt may change), else keep a best.pt."""
        if self.stop_requested:
            self.save()  # a signal: no time for validation
        elif self.args.val_root and self.evaluated_step != self.step:
            self._evaluate_and_save(None)
        else:
            self.save(best=not (self.run_dir / "checkpoints" / "best.pt").exists())

    def _end_epoch(self) -> None:
        mean = self.epoch_loss_sum / self.epoch_loss_count if self.epoch_loss_count else None
        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        self.epoch_loss_sum, self.epoch_loss_count = 0.0, 0
        self._evaluate_and_save(mean)

    def _budget_measurable(self, started: float) -> bool:
        """Enough steps to measure speed (step-based under DDP so all ranks agree)."""
        if self.step >= 10:
            return True
        early = time.time() - started >= 0.05 * self.args.time_budget
        return self.world_size == 1 and self.step >= 1 and early

    def _fit_schedule_to_budget(self, started: float) -> None:
        """With only --time_budget: end the cosine when the budget ends (measured speed)."""
        elapsed = max(1e-6, time.time() - started)
        fitting = int(self.args.time_budget * self.step / elapsed)
        total = max(self.step + 1, min(self.schedule.total_steps, fitting))
        if self.world_size > 1:
            value = torch.tensor([float(total)], device=self.device)
            dist.all_reduce(value, op=dist.ReduceOp.MIN)
            total = int(value.item())
        self.schedule.total_steps = total
        self.schedule.warmup = min(self.schedule.warmup, total // 20)
        self.schedule_measured = True
        self.log(f"schedule: {total} steps fit in the time budget ({self.step / elapsed:.2f} it/s)")

    def _progress(self, loss: float, parts: dict[str, float], lr: float, rate: float, started: float) -> None:
        end = self.schedule.total_steps
        if self.args.stop_at_step:
            end = min(end, self.args.stop_at_step)
        eta = (end - self.step) / rate if rate > 0 else float("inf")
        if self.args.time_budget:
            eta = min(eta, self.args.time_budget - (time.time() - started))
        terms = " ".join(f"{k[:5]} {v:.4f}" for k, v in parts.items())
        done = min(1.0, self.step / max(1, end))
        bar = "#" * round(20 * done) + "-" * (20 - round(20 * done))
        self.log(
            f"[{bar}] {100 * done:5.1f}% step {self.step}/{end} ep {self.epoch + 1} "
            f"loss {loss:.4f} ({terms}) lr {lr:.2e} {rate:.2f} it/s ETA {format_seconds(eta)}"
        )

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        if self.metrics_file:
            self.metrics_file.close()
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
        sys.stdout.flush()
