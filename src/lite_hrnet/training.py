"""One training run from a validated ``TrainConfig``: fit, test the best checkpoint,
save predictions and a summary. Hydra stays in ``cli/train.py``; this takes dataclasses."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import (
    Callback,
    LearningRateMonitor,
    ModelCheckpoint,
    TQDMProgressBar,
)

from .config.build import build_task
from .config.schema import LoggerConfig, TrainConfig
from .metrics.report import format_table


class PrintMetrics(Callback):
    """Prints the evaluation numbers after every validation: the run's progress log."""

    def __init__(self, keys: tuple[str, ...]) -> None:
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


def build_logger(cfg: LoggerConfig, output_dir: Path, config: dict[str, Any]):
    """A Lightning logger, or False for ``kind: none``. wandb stays offline unless asked."""
    if cfg.kind == "none":
        return False
    if cfg.kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=output_dir, name="csv", version="")
    if cfg.kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        offline = cfg.offline and os.environ.get("WANDB_MODE", "offline") != "online"
        return WandbLogger(
            project=cfg.project,
            name=cfg.name,
            group=cfg.group,
            save_dir=str(output_dir),
            offline=offline,
            config=config,
        )
    raise ValueError(f"logger.kind: unsupported {cfg.kind!r}")


def _complexity(module: L.LightningModule, input_size: tuple[int, int]) -> dict[str, int]:
    from .models.complexity import complexity

    return complexity(module.model, input_size=tuple(input_size))


def _save_predictions(module, datamodule, count: int, output_dir: Path) -> Path | None:
    from .tasks.pose import PoseEstimationModule

    if isinstance(module, PoseEstimationModule):
        from .inference.pose import save_validation_predictions
    else:
        from .inference.segmentation import save_validation_predictions
    return save_validation_predictions(module, datamodule, count, output_dir / "predictions.png")


def run_training(cfg: TrainConfig, output_dir: str | os.PathLike[str]) -> float | None:
    """Train, then test the best checkpoint; returns the best monitored value (for sweeps)."""
    cfg.validate()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True)
    module, datamodule = build_task(cfg.task, cfg.data, cfg.model)
    config = asdict(cfg)
    stats = _complexity(module, cfg.data.input_size)
    print(
        f"{cfg.model.name}: {stats['params']:,} params, {stats['macs'] / 1e6:.1f}M MACs, "
        f"{stats['paper_flops'] / 2**20:.1f}M paper FLOPs at {cfg.data.input_size}",
        flush=True,
    )
    logger = build_logger(cfg.logger, output_dir, config)
    if logger:
        logger.log_hyperparams({**config, "complexity": stats})
    checkpoint = ModelCheckpoint(
        dirpath=output_dir / "checkpoints",
        filename="best",
        monitor=cfg.monitor,
        mode=cfg.monitor_mode,
        save_last=True,
    )
    callbacks: list[Callback] = [checkpoint, PrintMetrics(("AP", "AP50", "PCKh", "mIoU", "loss"))]
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    if cfg.trainer.enable_progress_bar:
        # Each refresh reads the logged loss (.item(), a device sync); the default refreshes
        # every step. Once per logging interval keeps the training loop free of syncs.
        callbacks.append(TQDMProgressBar(refresh_rate=cfg.trainer.log_every_n_steps))
    trainer = L.Trainer(
        **cfg.trainer.kwargs(), default_root_dir=output_dir, logger=logger, callbacks=callbacks
    )
    trainer.fit(module, datamodule)
    if cfg.trainer.fast_dev_run:
        return None
    summary: dict[str, Any] = {"complexity": stats, "best_checkpoint": checkpoint.best_model_path}
    best = checkpoint.best_model_path or None
    if cfg.test_after_fit:
        trainer.test(module, datamodule, ckpt_path=best or "last", verbose=False)
        summary["test"] = dict(getattr(module, "last_metrics", {}))
        if trainer.is_global_zero:
            print(
                format_table(summary["test"], title=f"test ({Path(best or 'last').name})"),
                flush=True,
            )
    if cfg.prediction_images and trainer.is_global_zero:
        png = _save_predictions(module, datamodule, cfg.prediction_images, output_dir)
        print(f"predictions drawn on validation images: {png}", flush=True)
    score = checkpoint.best_model_score
    summary["best_" + cfg.monitor] = float(score) if score is not None else None
    if trainer.is_global_zero:
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return float(score) if score is not None else None
