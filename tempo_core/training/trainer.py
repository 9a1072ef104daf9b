"""The training loop behind ``tempo train`` (its flags: :mod:`tempo_core.training.command`).

:class:`Trainer` builds a run from its :class:`~tempo_core.training.run_config.RunConfig` and drives
it: steps, epochs, validation, checkpoints, stopping and signals. The pieces live beside it, each
taking its section of the config: processes and DDP (:mod:`tempo_core.training.processes`), data
(:mod:`tempo_core.training.run_data`), loss, optimizer, schedule, precision and EMA
(:mod:`tempo_core.training.optim`), the position in the run (:mod:`tempo_core.training.progress`),
the checkpoint format (:mod:`tempo_core.training.state`), validation
(:mod:`tempo_core.training.validation`) and the run folder's records (:mod:`tempo_core.training.run_log`).
"""

from __future__ import annotations

import math
import random
import signal
import sys
import threading
import time
from typing import Any

import numpy as np
import torch

from tempo_core.errors import InputError
from tempo_core.network import TempoNet, count_parameters
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
from tempo_core.training.progress import Progress
from tempo_core.training.run_config import RunConfig
from tempo_core.training.run_data import build_train_data, build_val_sets
from tempo_core.training.run_log import (
    MetricsLog,
    RunFacts,
    eta_seconds,
    progress_line,
    resolve_run_dir,
    write_run_config,
)
from tempo_core.training.state import (
    atomic_save,
    checkpoint_state,
    extend_schedule,
    load_init_weights,
    load_resumed_weights,
    restore_checkpoint_state,
)
from tempo_core.training.validation import improves, validate_model, validation_line

clock = time.monotonic  # seconds; the time budget and the speed read it (tests replace it)


class Trainer:
    """Builds everything from a run config (and the checkpoint it resumes); ``fit()`` trains;
    ``close()`` releases."""

    def __init__(self, config: RunConfig, resume_state: dict[str, Any] | None = None) -> None:
        self.config, self.resume_state = config, resume_state
        run, optim = config.run, config.optim
        self.procs = setup_processes(run.distributed, run.device)
        self.device, self.is_main = self.procs.device, self.procs.is_main
        self.run_dir = resolve_run_dir(run, resume_state["path"] if resume_state else None)
        self.metrics_log: MetricsLog | None = None

        # model (seeded so every rank and every fresh run starts from the same weights)
        random.seed(run.seed)
        np.random.seed(run.seed)
        torch.manual_seed(run.seed)
        self.model = TempoNet(config.model.config).to(self.device)
        if resume_state:
            load_resumed_weights(self.model, config.model.config, resume_state)
        elif config.model.init_weights:
            load_init_weights(self.model, config.model.config, config.model.init_weights)
        # exponential moving average of the weights: validated, kept as best.pt, exported
        self.ema_model = make_ema(self.model, optim.ema_decay, resume_state)

        self.dataset, self.sampler, self.loader = build_train_data(
            config.data, optim.batch_size, run.seed, self.procs, self.log
        )
        self.steps_per_epoch = len(self.sampler)
        self.val_sets = build_val_sets(config.data, self.is_main, self.log)

        self.criterion = build_criterion(optim.loss, self.device)
        self.optimizer = build_optimizer(self.model, optim)
        self.schedule = build_schedule(self.optimizer, optim, self.steps_per_epoch)
        self.schedule_measured = bool(optim.max_steps) or not run.time_budget
        self.amp_name = resolve_amp(optim, self.device)
        self.amp_dtype = AMP_DTYPES[self.amp_name]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_name == "fp16")

        self.progress = Progress()
        self.bad_steps, self._updating, self.evaluated_step = 0, False, -1
        self.stop_requested, self.saved_step = False, -1
        self.metric_name = config.metric_name
        if resume_state:
            self._resume(resume_state)
        self.ddp = self.procs.wrap(self.model)
        if self.is_main:
            self.metrics_log = MetricsLog(self.run_dir, self.log)
            write_run_config(self.run_dir, config, self.criterion, self._facts(), self.metrics_log.logging, self.log)

    def _resume(self, state: dict[str, Any]) -> None:
        restore_checkpoint_state(state, self.optimizer, self.schedule, self.scaler, self.progress)
        self.schedule_measured = True
        self.log(f"resumed {state['path']} at step {self.progress.step} (epoch {self.progress.epoch + 1})")
        total = extend_schedule(self.schedule, self.config, state["train_args"], self.steps_per_epoch)
        if total is not None:
            self.log(f"schedule extended to {total} steps (new --max_steps / --epochs)")

    def _facts(self) -> RunFacts:
        return RunFacts(
            parameters=count_parameters(self.model),
            n_frames=tuple(self.dataset.n_frames),
            clips=len(self.dataset.clips),
            slots=len(self.dataset),
            steps_per_epoch=self.steps_per_epoch,
            schedule=self.schedule.state_dict(),
            world_size=self.procs.world_size,
            device=str(self.device),
            amp_name=self.amp_name,
            resumed_from=self.resume_state["path"] if self.resume_state else None,
        )

    # ------------------------------------------------------------------ records
    def log(self, message: str) -> None:
        if self.is_main:
            print(message, flush=True)

    def record(self, values: dict[str, float]) -> None:
        """One metrics.jsonl line (and TensorBoard scalars) at the current step, on rank 0."""
        if not self.is_main or not values:
            return
        if self.metrics_log:
            self.metrics_log.record(self.progress.step, self.progress.epoch + 1, values)

    def save(self, best: bool = False) -> None:
        """``latest.pt`` (and ``best.pt`` when ``best``) with the state of the current step."""
        if not self.is_main:
            return
        state = checkpoint_state(
            self.config, self.model, self.ema_model, self.optimizer, self.schedule, self.scaler, self.progress
        )
        atomic_save(state, self.run_dir / "checkpoints" / "latest.pt")
        self.saved_step = self.progress.step
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
        progress = self.progress
        self.evaluated_step = progress.step
        metric, extra = epoch_loss, {}
        if self.config.data.val_root:
            extra = self.validate() if self.is_main else {}
            metric = extra.pop("val_psnr", None)
            self.procs.barrier()  # the other ranks wait while rank 0 validates
        improved = False
        self.record(extra)
        if metric is not None:
            improved = improves(metric, progress.best_metric, self.metric_name)
            if improved:
                progress.best_metric, progress.best_step = metric, progress.step
            self.record({self.metric_name: metric})
            if self.metric_name == "val_psnr":
                self.log(validation_line(progress.step, metric, progress.best_metric, progress.best_step, extra))
        self.save(best=improved)

    # ------------------------------------------------------------------ loop
    def _should_stop(self, started: float) -> bool:
        run, step = self.config.run, self.progress.step
        stop = step >= self.schedule.total_steps or bool(run.stop_at_step and step >= run.stop_at_step)
        if run.time_budget and clock() - started >= run.time_budget:
            stop = True
        stop = stop or self.stop_requested
        # ranks see the clock and signals at different moments
        return bool(self.procs.max_over_ranks(float(stop)))

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float], float]:
        """One optimizer step; a non-finite loss skips the update (all ranks together).

        ``batch``: ``frames`` [B,N,3,H,W] and ``target`` [B,3,H,W] in [0, 1], ``timestamps`` [B,N]
        and ``target_time`` [B]. Returns the loss (NaN when skipped), its terms and the LR.
        """
        frames = batch["frames"].to(self.device, non_blocking=True)
        timestamps = batch["timestamps"].to(self.device, non_blocking=True)
        target = batch["target"].to(self.device, non_blocking=True)
        target_time = batch["target_time"].to(self.device, non_blocking=True).view(-1)
        lr = self.schedule.set_step(self.progress.step)
        with torch.autocast(self.device.type, self.amp_dtype, enabled=self.amp_name != "fp32"):
            out, aux = self.ddp(frames, timestamps, target_time)
            loss, parts = self.criterion(out.float(), target, aux, self.progress.epoch)
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
        optim = self.config.optim
        if optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), optim.grad_clip)
        self._updating = True
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema_model is not None:
            update_ema(self.ema_model, self.model, optim.ema_decay, self.progress.step)
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
            if not self._updating and self.saved_step != self.progress.step:
                self.save()  # the weights are those of a completed step: keep them
            if self.saved_step >= 0:
                self.log(f"interrupted: latest.pt holds step {self.saved_step}; --resume continues")
            else:
                self.log("interrupted before the first checkpoint; nothing was saved")
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        progress = self.progress
        self.log(
            f"stopped at step {progress.step} (epoch {progress.epoch + 1}); best {self.metric_name} "
            f"{progress.best_metric if progress.best_metric is not None else 'n/a'} at step "
            f"{progress.best_step}. Export: tempo export {self.run_dir} -o model.safetensors"
        )

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True  # checked between steps, so no update is cut in half

    def _loop(self) -> None:
        run, progress = self.config.run, self.progress
        started = clock()
        window_start, window_steps = started, 0
        stop = self._should_stop(started)
        while not stop:
            self.sampler.set_epoch(progress.epoch, skip=progress.batch_in_epoch)
            epoch_done = False
            for batch in self.loader:
                loss, parts, lr = self.train_step(batch)
                progress.add_step(parts.get("charbonnier") if math.isfinite(loss) else None)
                window_steps += 1
                if not self.schedule_measured and self._budget_measurable(started):
                    self._fit_schedule_to_budget(started)
                if progress.step % run.log_every == 0 or progress.step == 1:
                    now = clock()
                    rate = window_steps / max(1e-9, now - window_start)
                    window_start, window_steps = now, 0
                    self._progress(loss, parts, lr, rate, started)
                    terms = {f"loss/{k}": v for k, v in parts.items()}
                    self.record({"loss": loss, "lr": lr, "it_per_s": rate, **terms})
                epoch_done = progress.batch_in_epoch >= self.steps_per_epoch
                if epoch_done:
                    self._end_epoch()
                elif run.val_every and progress.step % run.val_every == 0:
                    self._evaluate_and_save(None)
                elif run.save_every and progress.step % run.save_every == 0:
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
        elif self.config.data.val_root and self.evaluated_step != self.progress.step:
            self._evaluate_and_save(None)
        else:
            self.save(best=not (self.run_dir / "checkpoints" / "best.pt").exists())

    def _end_epoch(self) -> None:
        self._evaluate_and_save(self.progress.end_epoch())

    def _budget_measurable(self, started: float) -> bool:
        """Enough steps to measure speed (step-based under DDP so all ranks agree)."""
        step = self.progress.step
        if step >= 10:
            return True
        early = clock() - started >= 0.05 * self.config.run.time_budget
        return not self.procs.distributed and step >= 1 and early

    def _fit_schedule_to_budget(self, started: float) -> None:
        """With only --time_budget: end the cosine when the budget ends (measured speed)."""
        step = self.progress.step
        elapsed = max(1e-6, clock() - started)
        fitting = int(self.config.run.time_budget * step / elapsed)
        total = max(step + 1, min(self.schedule.total_steps, fitting))
        total = int(self.procs.min_over_ranks(total))
        self.schedule.total_steps = total
        self.schedule.warmup = min(self.schedule.warmup, total // 20)
        self.schedule_measured = True
        self.log(f"schedule: {total} steps fit in the time budget ({step / elapsed:.2f} it/s)")

    def _progress(self, loss: float, parts: dict[str, float], lr: float, rate: float, started: float) -> None:
        run, progress = self.config.run, self.progress
        end = self.schedule.total_steps
        if run.stop_at_step:
            end = min(end, run.stop_at_step)
        budget_left = run.time_budget - (clock() - started) if run.time_budget else None
        eta = eta_seconds(end - progress.step, rate, budget_left)
        self.log(progress_line(progress.step, end, progress.epoch + 1, loss, parts, lr, rate, eta))

    def close(self) -> None:
        if self.metrics_log:
            self.metrics_log.close()
        self.procs.close()
        sys.stdout.flush()
