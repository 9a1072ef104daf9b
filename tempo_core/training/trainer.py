"""The training loop behind `tempo train` (its flags and their resolution: `train.py`).

:class:`Trainer` builds a run from its flags and drives it: steps, epochs, validation, checkpoints,
stopping and signals. The pieces live beside it: processes and DDP (:mod:`tempo_core.training.processes`),
data (:mod:`tempo_core.training.run_data`), loss, optimizer, schedule, precision and EMA
(:mod:`tempo_core.training.optim`), the checkpoint format and state (:mod:`tempo_core.training.state`),
validation (:mod:`tempo_core.training.validation`) and the run folder's records (:mod:`tempo_core.training.run_log`).
"""

from __future__ import annotations

import argparse
import math
import random
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from tempo_core.errors import InputError
from tempo_core.network import TempoNet
from tempo_core.training.command import model_config, resolve_args
from tempo_core.training.optim import (
    AMP_DTYPES,
    build_criterion,
    build_optimizer,
    build_schedule,
    make_ema,
    resolve_amp,
    update_ema,
)
from tempo_core.training.processes import setup_processes
from tempo_core.training.run_data import build_train_data, build_val_sets
from tempo_core.training.run_log import MetricsLog, eta_seconds, progress_line, resolve_run_dir, write_run_config
from tempo_core.training.state import (
    atomic_save,
    checkpoint_state,
    load_checkpoint,
    load_init_weights,
    load_resumed_weights,
    restore_checkpoint_state,
)
from tempo_core.training.validation import improves, validate_model, validation_line


class Trainer:
    """Builds everything from the parsed flags; ``fit()`` trains; ``close()`` releases."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.resume_state = load_checkpoint(args.resume) if args.resume else None
        stored = self.resume_state["train_args"] if self.resume_state else None
        self.args = args = resolve_args(args, stored)
        self.procs = setup_processes(args.distributed, args.device)
        self.device, self.is_main = self.procs.device, self.procs.is_main
        self.run_dir = resolve_run_dir(args, self.resume_state)
        self.metrics_log: MetricsLog | None = None

        # model (seeded so every rank and every fresh run starts from the same weights)
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        self.config = model_config(args)
        self.model = TempoNet(self.config).to(self.device)
        if self.resume_state:
            load_resumed_weights(self.model, self.config, self.resume_state)
        elif args.init_weights:
            load_init_weights(self.model, self.config, Path(args.init_weights))
        # exponential moving average of the weights: validated, kept as best.pt, exported
        self.ema_model = make_ema(self.model, args.ema_decay, self.resume_state)

        self.dataset, self.sampler, self.loader = build_train_data(args, self.procs, self.log)
        self.steps_per_epoch = len(self.sampler)
        self.val_sets = build_val_sets(args, self.is_main)

        self.criterion = build_criterion(args, self.device)
        self.optimizer = build_optimizer(self.model, args)
        self.schedule = build_schedule(self.optimizer, args, self.steps_per_epoch)
        self.schedule_measured = bool(args.max_steps) or not args.time_budget
        self.amp_name = resolve_amp(args, self.device)
        self.amp_dtype = AMP_DTYPES[self.amp_name]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_name == "fp16")

        self.step = self.epoch = self.batch_in_epoch = 0
        self.epoch_loss_sum, self.epoch_loss_count = 0.0, 0
        self.bad_steps, self._updating, self.evaluated_step = 0, False, -1
        self.stop_requested, self.saved_step = False, -1
        self.best_metric, self.best_step = None, -1
        # without validation, best.pt follows the reconstruction term alone: the total changes
        # scale when the schedule adds terms
        self.metric_name = "val_psnr" if args.val_root else "train_charbonnier"
        if self.resume_state:
            restore_checkpoint_state(self, self.resume_state)
        self.ddp = self.procs.wrap(self.model)
        if self.is_main:
            self.metrics_log = MetricsLog(self.run_dir, self.log)
            write_run_config(self, self.metrics_log.logging)

    # ------------------------------------------------------------------ records
    def log(self, message: str) -> None:
        if self.is_main:
            print(message, flush=True)

    def record(self, values: dict[str, float]) -> None:
        """One metrics.jsonl line (and TensorBoard scalars) at the current step, on rank 0."""
        if not self.is_main or not values:
            return
        if self.metrics_log:
            self.metrics_log.record(self.step, self.epoch + 1, values)

    def save(self, best: bool = False) -> None:
        """``latest.pt`` (and ``best.pt`` when ``best``) with the state of the current step."""
        if not self.is_main:
            return
        state = checkpoint_state(self)
        atomic_save(state, self.run_dir / "checkpoints" / "latest.pt")
        self.saved_step = self.step
        if best:
            atomic_save(state, self.run_dir / "checkpoints" / "best.pt")

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """Validation scores of the EMA weights (else the weights) on the septuplets per N."""
        model = self.ema_model if self.ema_model is not None else self.model
        results = validate_model(model, self.val_sets, self.device, self.amp_dtype, self.amp_name != "fp32")
        self.model.train()
        return results

    def _evaluate_and_save(self, epoch_loss: float | None) -> None:
        """Validation (or the epoch's training loss) decides best.pt; then checkpoints."""
        self.evaluated_step = self.step
        metric, extra = epoch_loss, {}
        if self.args.val_root:
            extra = self.validate() if self.is_main else {}
            metric = extra.pop("val_psnr", None)
            self.procs.barrier()  # the other ranks wait while rank 0 validates
        improved = False
        self.record(extra)
        if metric is not None:
            improved = improves(metric, self.best_metric, self.metric_name)
            if improved:
                self.best_metric, self.best_step = metric, self.step
            self.record({self.metric_name: metric})
            if self.metric_name == "val_psnr":
                self.log(validation_line(self.step, metric, self.best_metric, self.best_step, extra))
        self.save(best=improved)

    # ------------------------------------------------------------------ loop
    def _should_stop(self, started: float) -> bool:
        args = self.args
        stop = self.step >= self.schedule.total_steps or (args.stop_at_step and self.step >= args.stop_at_step)
        if args.time_budget and time.time() - started >= args.time_budget:
            stop = True
        stop = stop or self.stop_requested
        # ranks see the clock and signals at different moments
        return bool(self.procs.max_over_ranks(float(stop)))

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float], float]:
        """One optimizer step; a non-finite loss skips the update (all ranks together)."""
        frames = batch["frames"].to(self.device, non_blocking=True)
        timestamps = batch["timestamps"].to(self.device, non_blocking=True)
        target = batch["target"].to(self.device, non_blocking=True)
        target_time = batch["target_time"].to(self.device, non_blocking=True).view(-1)
        lr = self.schedule.set_step(self.step)
        with torch.autocast(self.device.type, self.amp_dtype, enabled=self.amp_name != "fp32"):
            out, aux = self.ddp(frames, timestamps, target_time)
            loss, parts = self.criterion(out.float(), target, aux, self.epoch)
        self.optimizer.zero_grad(set_to_none=True)
        # every rank must skip together, or DDP's all-reduce hangs
        finite = self.procs.min_over_ranks(float(torch.isfinite(loss.detach())))
        if not finite:
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
        if self.ema_model is not None:
            update_ema(self.ema_model, self.model, self.args.ema_decay, self.step)
        self._updating = False
        return float(loss.detach()), parts, lr

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
        return not self.procs.distributed and self.step >= 1 and early

    def _fit_schedule_to_budget(self, started: float) -> None:
        """With only --time_budget: end the cosine when the budget ends (measured speed)."""
        elapsed = max(1e-6, time.time() - started)
        fitting = int(self.args.time_budget * self.step / elapsed)
        total = max(self.step + 1, min(self.schedule.total_steps, fitting))
        total = int(self.procs.min_over_ranks(total))
        self.schedule.total_steps = total
        self.schedule.warmup = min(self.schedule.warmup, total // 20)
        self.schedule_measured = True
        self.log(f"schedule: {total} steps fit in the time budget ({self.step / elapsed:.2f} it/s)")

    def _progress(self, loss: float, parts: dict[str, float], lr: float, rate: float, started: float) -> None:
        end = self.schedule.total_steps
        if self.args.stop_at_step:
            end = min(end, self.args.stop_at_step)
        budget_left = self.args.time_budget - (time.time() - started) if self.args.time_budget else None
        eta = eta_seconds(end - self.step, rate, budget_left)
        self.log(progress_line(self.step, end, self.epoch + 1, loss, parts, lr, rate, eta))

    def close(self) -> None:
        if self.metrics_log:
            self.metrics_log.close()
        self.procs.close()
        sys.stdout.flush()
