"""Where a training run stands: step, epoch, position in the epoch, the epoch's loss, the best score.

:class:`Progress` is what a checkpoint needs besides weights, optimizer and RNG states to
continue exactly; :meth:`Progress.state_dict` gives it as the flat keys of the checkpoint format
(:mod:`tempo_core.training.state`), so checkpoints written before this class existed still load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Progress:
    """The position of a run (``epoch`` 0-based) and the scores that decide ``best.pt``.

    ``epoch_loss_sum`` / ``epoch_loss_count`` accumulate the finite Charbonnier terms of the
    current epoch; ``best_metric`` is ``None`` until the first evaluation.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    epoch_loss_sum: float = 0.0
    epoch_loss_count: int = 0
    best_metric: float | None = None
    best_step: int = -1

    def add_step(self, charbonnier: float | None) -> None:
        """One step done; ``charbonnier`` (``None`` or NaN for a skipped step) joins the epoch mean."""
        self.step += 1
        self.batch_in_epoch += 1
        if charbonnier is not None and math.isfinite(charbonnier):
            self.epoch_loss_sum += charbonnier
            self.epoch_loss_count += 1

    def end_epoch(self) -> float | None:
        """Move to the next epoch; returns the mean Charbonnier loss of the one that ended."""
        mean = self.epoch_loss_sum / self.epoch_loss_count if self.epoch_loss_count else None
        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        self.epoch_loss_sum, self.epoch_loss_count = 0.0, 0
        return mean

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint's keys (``best_metric`` NaN when there is none yet)."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "epoch_loss_sum": self.epoch_loss_sum,
            "epoch_loss_count": self.epoch_loss_count,
            "best_metric": float("nan") if self.best_metric is None else float(self.best_metric),
            "best_step": self.best_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Back to the position stored by :meth:`state_dict` (extra keys are ignored)."""
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.epoch_loss_sum = float(state["epoch_loss_sum"])
        self.epoch_loss_count = int(state["epoch_loss_count"])
        best = float(state["best_metric"])
        self.best_metric = None if math.isnan(best) else best
        self.best_step = int(state["best_step"])
