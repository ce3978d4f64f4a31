"""The Lightning callbacks of a training run, built from the typed ``CallbacksConfig``.

``build_callbacks`` is the only place that maps options to callback classes, so a config
never names a class to import. Besides Lightning's own (checkpoints, early stopping, LR
monitor, model summary, progress bar) there are three of ours: printed metrics, per-rank
seeding under DDP, and prediction images for loggers that show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    ModelSummary,
    RichModelSummary,
    RichProgressBar,
    TQDMProgressBar,
)

from .config.schema import TrainConfig
from .throughput import TrainingThroughput

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


DrawFn = Callable[[L.LightningModule, L.LightningDataModule, int], "np.ndarray | None"]


class LogValidationImages(Callback):
    """After every validation, draws the predictions on the first ``count`` validation
    images (``draw``: module, datamodule, count -> (H, W, 3) uint8 RGB) and logs them as
    ``val/predictions`` to the wandb and TensorBoard loggers, on rank 0."""

    def __init__(self, count: int, draw: DrawFn, key: str = "val/predictions") -> None:
        self.count = count
        self.draw = draw
        self.key = key

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or trainer.datamodule is None:
            return
        from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger | TensorBoardLogger)]
        if not loggers:
            return
        image = self.draw(pl_module, trainer.datamodule, self.count)
        if image is None:
            return
        for logger in loggers:
            if isinstance(logger, WandbLogger):
                caption = f"epoch {trainer.current_epoch}"
                logger.log_image(self.key, [image], step=trainer.global_step, caption=[caption])
            else:
                logger.experiment.add_image(self.key, image, trainer.global_step, dataformats="HWC")


def draw_function(module: L.LightningModule) -> DrawFn:
    """The task's ``draw_validation_predictions``: skeletons for pose, masks otherwise."""
    from .tasks.pose import PoseEstimationModule

    if isinstance(module, PoseEstimationModule):
        from .inference.pose import draw_validation_predictions
    else:
        from .inference.segmentation import draw_validation_predictions
    return draw_validation_predictions


def build_callbacks(
    cfg: TrainConfig, module: L.LightningModule, output_dir: Path, logging: bool
) -> tuple[list[Callback], ModelCheckpoint]:
    """The run's callbacks and its checkpoint callback (best and last under
    ``output_dir/checkpoints``). ``logging``: whether the run has a logger (for the LR
    monitor and the images)."""
    c = cfg.callbacks
    checkpoint = ModelCheckpoint(
        dirpath=output_dir / "checkpoints",
        filename="best",
        monitor=cfg.monitor,
        mode=cfg.monitor_mode,
        save_last=c.checkpoint.save_last,
        save_top_k=c.checkpoint.save_top_k,
    )
    callbacks: list[Callback] = [checkpoint, SeedPerRank(cfg.seed), TrainingThroughput(logging)]
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
        callbacks.append(LogValidationImages(c.val_images, draw_function(module)))
    return callbacks, checkpoint
