"""The run's logger, from the typed ``LoggerConfig``: CSV, TensorBoard, wandb (offline
unless asked) or none, all writing under the run's folder."""

from __future__ import annotations

from pathlib import Path

from ..config.schema import LoggerConfig


def build_logger(cfg: LoggerConfig, output_dir: Path):
    """A Lightning logger writing under ``output_dir``, or False for ``kind: none``."""
    if cfg.kind == "none":
        return False
    if cfg.kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=output_dir, name="csv", version="")
    if cfg.kind == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(
            save_dir=output_dir, name="tensorboard", version="", default_hp_metric=False
        )
    if cfg.kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        return WandbLogger(
            project=cfg.project,
            name=cfg.name,
            group=cfg.group,
            tags=list(cfg.tags) or None,
            save_dir=str(output_dir),
            offline=cfg.is_offline(),
            log_model=cfg.log_model,
        )
    raise ValueError(f"logger.kind: unsupported {cfg.kind!r}")
