"""Optimisation of a training run: the loss, AdamW, the LR schedule, mixed precision, the weight EMA.

Weight decay applies to matrices and kernels only (``dim > 1``), never to biases and norms. The EMA
of the weights is what validation scores, ``best.pt`` keeps and ``tempo export`` writes.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from tempo_core.training.losses import LossConfig, TempoLoss
from tempo_core.training.run_config import OptimSection

AMP_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


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


def build_criterion(loss: LossConfig, device: torch.device) -> TempoLoss:
    """The loss of ``--loss_weights``, ``--schedule`` and ``--vgg_weights`` on ``device``."""
    return TempoLoss(loss).to(device)


def build_optimizer(model: torch.nn.Module, optim: OptimSection) -> torch.optim.AdamW:
    """AdamW with ``--weight_decay`` on the weights of more than one dimension, none on the rest."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": optim.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=optim.lr,
        betas=(0.9, 0.999),
    )


def build_schedule(optimizer: torch.optim.Optimizer, optim: OptimSection, steps_per_epoch: int) -> WarmupCosine:
    """Warm-up then cosine over ``--max_steps`` (or ``--epochs`` x steps per epoch)."""
    total = optim.max_steps or optim.epochs * steps_per_epoch
    warmup = optim.warmup_steps if optim.warmup_steps >= 0 else min(1000, int(0.03 * total))
    return WarmupCosine(optimizer, optim.lr, optim.min_lr, total, warmup)


def resolve_amp(optim: OptimSection, device: torch.device) -> str:
    """The autocast precision name: ``--amp_dtype``, or with ``--amp`` bf16 (fp16 on old GPUs)."""
    amp_name = optim.amp_dtype or ("bf16" if optim.amp else "fp32")
    if amp_name == "bf16" and not optim.amp_dtype and device.type == "cuda":
        amp_name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return amp_name


def make_ema(model: torch.nn.Module, ema_decay: float, resume_state: dict[str, Any] | None) -> torch.nn.Module | None:
    """A frozen copy of ``model`` to average into (``None`` when ``--ema_decay`` is 0)."""
    if ema_decay <= 0:
        return None
    ema_model = copy.deepcopy(model).requires_grad_(False).eval()
    if resume_state and "ema" in resume_state:
        ema_model.load_state_dict(resume_state["ema"])
    return ema_model


@torch.no_grad()
def update_ema(ema_model: torch.nn.Module, model: torch.nn.Module, ema_decay: float, step: int) -> None:
    """Move the EMA towards ``model``; the decay ramps up over the first steps."""
    decay = min(ema_decay, (1 + step) / (10 + step))
    current = model.state_dict()
    for name, value in ema_model.state_dict().items():
        if value.is_floating_point():
            value.lerp_(current[name], 1 - decay)
        else:
            value.copy_(current[name])
