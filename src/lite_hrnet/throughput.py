"""``TrainingThroughput``: training images per second of a whole fit, for run summaries.

Lightning logs no timing of its own, and the experiment reports (``lite-hrnet report``)
need one number per run that is comparable across settings. This callback measures it:
the wall time from the end of one training batch to the end of the next (data loading,
forward, backward and optimiser step), summed over the fit. It leaves out the first batch
of every epoch (worker start-up, the first batch's allocations) and every interval that
contains a validation, so the figure is the steady training speed, not the speed of a run.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

LOG_KEY = "train/images_per_second"


def batch_size(batch: Any) -> int:
    """Images in a batch: the length of ``batch["image"]`` for our data sets' dicts, else of
    the first tensor found in a dict, list or tuple (0 when there is none)."""
    if isinstance(batch, dict):
        if isinstance(batch.get("image"), torch.Tensor):
            return len(batch["image"])
        items = list(batch.values())
    elif isinstance(batch, list | tuple):
        items = list(batch)
    elif isinstance(batch, torch.Tensor):
        return len(batch) if batch.ndim else 0
    else:
        return 0
    for item in items:
        if isinstance(item, torch.Tensor) and item.ndim:
            return len(item)
    return 0


class TrainingThroughput(Callback):
    """Measures training images/s (all ranks together) and logs it as ``train/images_per_second``
    at the end of every training epoch (the running figure over the fit so far).

    ``images_per_second`` holds the figure after the fit; ``summary.json`` can store it as
    ``train_images_per_second``. None when fewer than two batches ran in any epoch.
    """

    def __init__(self, log_metric: bool = True) -> None:
        self.log_metric = log_metric
        self.images = 0
        self.seconds = 0.0
        self._last: float | None = None

    @property
    def images_per_second(self) -> float | None:
        return self.images / self.seconds if self.seconds > 0 else None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = None

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = None  # mid-epoch validation (val_check_interval) is not training time

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        now = perf_counter()
        if self._last is not None:
            # Ranks step together, so the global rate is the per-rank rate x world size.
            self.images += batch_size(batch) * trainer.world_size
            self.seconds += now - self._last
        self._last = now

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = self.images_per_second
        if self.log_metric and value is not None:
            pl_module.log(LOG_KEY, value, on_step=False, on_epoch=True, sync_dist=False)

    def state_dict(self) -> dict[str, Any]:
        return {"images": self.images, "seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.images = int(state_dict.get("images", 0))
        self.seconds = float(state_dict.get("seconds", 0.0))
