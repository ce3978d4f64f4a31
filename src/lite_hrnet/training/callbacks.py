"""The Lightning callbacks of a training run, built from the typed ``CallbacksConfig``.

``build_callbacks`` is the only place that maps options to callback classes, so a config
never names a class to import. Besides Lightning's own (checkpoints, early stopping, LR
monitor, model summary, progress bar) there are ours: training throughput, printed
metrics, per-rank seeding under DDP, the check that the monitored metric exists, the random
states in checkpoints, the stop on a diverging loss, and prediction images for loggers that
show them.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from time import perf_counter
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    ModelSummary,
    RichModelSummary,
    RichProgressBar,
    TQDMProgressBar,
)

from ..config.schema import TrainConfig
from .checkpointing import LAST_CHECKPOINT, ResumableRNG
from .divergence import StopOnDivergence

# ----------------------------------------------------------------- training throughput
# ``TrainingThroughput``: training images per second of a whole fit, for run summaries.
#
# Lightning logs no timing of its own, and the experiment reports (``lite-hrnet report``)
# need one number per run that is comparable across settings. This callback measures it:
# the wall time from the end of one training batch to the end of the next (data loading,
# forward, backward and optimiser step), summed over the fit. It leaves out the first batch
# of every epoch (worker start-up, the first batch's allocations) and every interval that
# contains a validation, so the figure is the steady training speed, not the speed of a run.

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

    Lightning logs no timing of its own, and the experiment reports (``lite-hrnet report``)
    need one number per run that is comparable across settings: the wall time from the end
    of one training batch to the end of the next (data loading, forward, backward and
    optimiser step), summed over the fit. It leaves out the first batch of every epoch
    (worker start-up, the first batch's allocations) and every interval that contains a
    validation, so the figure is the steady training speed, not the speed of a run.

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


METRIC_KEYS = ("AP", "AP50", "PCKh", "mIoU", "loss")


class PrintMetrics(Callback):
    """Prints the evaluation numbers after every validation: the run's progress log."""

    def __init__(self, keys: tuple[str, ...] = METRIC_KEYS) -> None:
        self.keys = keys
        self.start = time.monotonic()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        shown = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.split("/")[-1] in self.keys
        }
        text = ", ".join(f"{k} {v:.4f}" for k, v in sorted(shown.items()))
        print(
            f"[epoch {trainer.current_epoch}, {time.monotonic() - self.start:.0f} s] {text}",
            flush=True,
        )


class SeedPerRank(Callback):
    """Under DDP, reseeds every rank with ``seed + global rank`` once the processes exist.

    All ranks start from the same seed (so ``build_task`` builds the same model, which DDP
    then broadcasts from rank 0 anyway); without this, every rank would draw the same
    augmentation parameters for its k-th sample. ``workers=True`` derives the data-loader
    workers' seeds from it too. A single process keeps ``seed``.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.world_size > 1:
            L.seed_everything(self.seed + trainer.global_rank, workers=True, verbose=False)


class CheckMonitor(Callback):
    """Fails the run at the end of its first validation when the monitored metric was not
    logged (a misspelt ``monitor=val/APP`` would otherwise save no best checkpoint and test
    the last weights), naming the metrics that were logged."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logged = trainer.callback_metrics
        if self.monitor in logged or not any(k.startswith("val/") for k in logged):
            return  # a validation that logged nothing (no metric could be built) is not a typo
        raise ValueError(
            f"monitor: {self.monitor!r} is not a logged metric; the validation logged "
            f"{', '.join(sorted(logged))}"
        )


class LogValidationImages(Callback):
    """After every validation, draws the predictions on the first ``count`` validation
    images (the task's ``draw_validation_predictions``) and logs them as
    ``val/predictions`` to the wandb and TensorBoard loggers, on rank 0."""

    def __init__(self, count: int, key: str = "val/predictions") -> None:
        self.count = count
        self.key = key

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or trainer.datamodule is None:
            return
        from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger | TensorBoardLogger)]
        if not loggers:
            return
        try:
            image = pl_module.draw_validation_predictions(trainer.datamodule, self.count)
        except Exception as error:  # an extra: it never stops the training
            message = f"val/predictions not drawn: {type(error).__name__}: {error}"
            warnings.warn(message, stacklevel=1)
            return
        if image is None:
            return
        for logger in loggers:
            if isinstance(logger, WandbLogger):
                caption = f"epoch {trainer.current_epoch}"
                logger.log_image(self.key, [image], step=trainer.global_step, caption=[caption])
            else:
                logger.experiment.add_image(self.key, image, trainer.global_step, dataformats="HWC")


class SaveLast(Checkpoint):
    """Writes ``last.ckpt``, the latest state, at the end of every training epoch (after its
    validation) and, with ``every_n_train_steps`` > 0, every that many optimiser steps.

    Lightning's ``ModelCheckpoint(save_last=True)`` writes it only when it also wrote a
    top-k file, so with a monitor ``last.ckpt`` stays at the last improvement."""

    def __init__(self, dirpath: Path, every_n_train_steps: int = 0) -> None:
        self.path = Path(dirpath) / LAST_CHECKPOINT
        self.every_n_train_steps = every_n_train_steps
        self._saved_step: int | None = None

    def _save(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        if trainer.fast_dev_run or trainer.sanity_checking or step == self._saved_step:
            return
        self._saved_step = step
        trainer.save_checkpoint(self.path, weights_only=False)  # all state: a resume needs it

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        n = self.every_n_train_steps
        if n > 0 and trainer.global_step > 0 and trainer.global_step % n == 0:
            self._save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)


def build_callbacks(
    cfg: TrainConfig, output_dir: Path, logging: bool
) -> tuple[list[Callback], ModelCheckpoint]:
    """The run's callbacks and its best-checkpoint callback (best and last under
    ``output_dir/checkpoints``). ``logging``: whether the run has a logger (for the LR
    monitor and the images)."""
    c = cfg.callbacks
    folder = output_dir / "checkpoints"
    checkpoint = ModelCheckpoint(
        dirpath=folder,
        filename="best",
        monitor=cfg.monitor,
        mode=cfg.monitor_mode,
        save_top_k=c.checkpoint.save_top_k,
    )
    callbacks: list[Callback] = [
        checkpoint,
        CheckMonitor(cfg.monitor),
        ResumableRNG(),
        SeedPerRank(cfg.seed),
        TrainingThroughput(logging),
        StopOnDivergence(c.nonfinite_loss_steps, folder, getattr(cfg.task, "lr", None)),
    ]
    if c.checkpoint.save_last:
        callbacks.append(SaveLast(folder, c.checkpoint.every_n_train_steps))
    if c.print_metrics:
        callbacks.append(PrintMetrics())
    if c.early_stopping is not None:
        callbacks.append(
            EarlyStopping(
                monitor=cfg.monitor,
                mode=cfg.monitor_mode,
                patience=c.early_stopping.patience,
                min_delta=c.early_stopping.min_delta,
            )
        )
    if c.model_summary == "rich":
        callbacks.append(RichModelSummary(max_depth=c.model_summary_depth))
    elif c.model_summary == "default":
        callbacks.append(ModelSummary(max_depth=c.model_summary_depth))
    if cfg.trainer.enable_progress_bar:
        # Each refresh reads the logged loss (.item(), a device sync); the default refreshes
        # every step. Once per logging interval keeps the training loop free of syncs.
        refresh = cfg.trainer.log_every_n_steps
        callbacks.append(
            RichProgressBar(refresh_rate=refresh)
            if c.progress_bar == "rich"
            else TQDMProgressBar(refresh_rate=refresh)
        )
    if logging and c.lr_monitor:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    if logging and c.val_images:
        callbacks.append(LogValidationImages(c.val_images))
    return callbacks, checkpoint
