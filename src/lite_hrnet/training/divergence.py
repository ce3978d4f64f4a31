"""``StopOnDivergence``: a run whose loss becomes NaN or infinite stops with a clear error
instead of training on and saving non-finite weights as ``best.ckpt`` and ``last.ckpt``.

Two checks:

- the training loss: after ``steps`` non-finite losses in a row the run stops. The count is
  kept on the loss's device; it is read every step on the CPU and every
  ``log_every_n_steps`` steps on an accelerator (reading it is a device sync);
- the weights, before every checkpoint is written: non-finite weights are never saved, so
  the checkpoints on disk stay those of the last finite state.

Either raises ``TrainingDivergedError`` on every rank alike (the decision is reduced over
the ranks), naming the step, the last checkpoint on disk and the learning rate to lower.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from .checkpointing import newest_checkpoint


class TrainingDivergedError(FloatingPointError):
    """The loss or the weights became NaN or infinite."""


def nonfinite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors of ``state`` (a state dict) holding NaN or inf."""
    return [
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


class StopOnDivergence(Callback):
    """Stops the run on ``steps`` consecutive non-finite training losses, and refuses to
    save non-finite weights. ``checkpoint_dir``: where the run's checkpoints are (named in
    the error); ``lr``: the run's ``task.lr``, which the error suggests lowering."""

    def __init__(self, steps: int, checkpoint_dir: Path, lr: float | None = None) -> None:
        self.steps = steps
        self.checkpoint_dir = Path(checkpoint_dir)
        self.lr = lr
        self._in_a_row: torch.Tensor | None = None  # () int64: non-finite losses in a row
        self._first: torch.Tensor | None = None  # () int64: the step the latest run began

    def _advice(self) -> str:
        last = newest_checkpoint(self.checkpoint_dir)
        kept = f"the last finite checkpoint is {last}" if last else "there is no earlier checkpoint"
        lr = f" (task.lr={self.lr:g})" if self.lr is not None else ""
        return f"{kept}. Lower the learning rate{lr}, or clip gradients (trainer.gradient_clip_val)"

    def _decide(self, trainer: L.Trainer, stop: bool) -> bool:
        """``stop`` on any rank: every rank stops at the same step."""
        return bool(trainer.strategy.reduce_boolean_decision(stop, all=False))

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.steps <= 0:
            return
        device = pl_module.device
        if self._in_a_row is None or self._in_a_row.device != device:
            self._in_a_row = torch.zeros((), dtype=torch.long, device=device)
            self._first = torch.zeros((), dtype=torch.long, device=device)
        step = trainer.global_step
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):  # else a skipped batch: no loss, no count
            finite = torch.isfinite(loss.detach()).all().to(device)
            self._in_a_row = torch.where(finite, 0, self._in_a_row + 1)
            self._first = torch.where(self._in_a_row == 1, step, self._first)
        # Every rank reaches this at the same steps (a skipped batch too): the decision below
        # is a collective under DDP.
        every = 1 if device.type == "cpu" else max(1, trainer.log_every_n_steps)
        if step % every:
            return
        in_a_row = int(self._in_a_row)
        if self._decide(trainer, in_a_row >= self.steps):
            value = float(loss.detach().float().mean()) if isinstance(loss, torch.Tensor) else "?"
            raise TrainingDivergedError(
                f"training diverged: the loss is {value} at step {step}, not finite since "
                f"step {int(self._first)} ({in_a_row} steps in a row; "
                f"callbacks.nonfinite_loss_steps={self.steps}); stopped. {self._advice()}"
            )

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        state = checkpoint.get("state_dict") or pl_module.state_dict()
        bad = nonfinite_tensors(state)
        if self._decide(trainer, bool(bad)):
            raise TrainingDivergedError(
                f"training diverged: {len(bad)} of {len(state)} weight tensors are not "
                f"finite at step {trainer.global_step} (e.g. {', '.join(bad[:3])}); they were not "
                f"saved, {self._advice()}"
            )
