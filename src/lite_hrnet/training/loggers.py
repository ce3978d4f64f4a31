"""The run's logger, from the typed ``LoggerConfig``: CSV, TensorBoard, wandb (offline
unless asked) or none, all writing under the run's folder.

A run folder keeps its logs: the CSV logger appends to an existing ``csv/metrics.csv``
(Lightning's deletes it), and the wandb logger keeps its run id in ``wandb_run_id``, so a
resumed run logs into the same wandb run.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_only

from ..config.schema import LoggerConfig

WANDB_ID_FILE = "wandb_run_id"


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, minus the deletion of an earlier ``metrics.csv``: new rows go
    after the old ones (a new column rewrites the header and keeps the rows)."""

    def _check_log_dir_exists(self) -> None:
        pass

    def save(self) -> None:
        if self.metrics and not self.metrics_keys and self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = list(next(csv.reader(f), []))
        super().save()


class AppendingCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` survives a second run (or a resume) in its folder."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def wandb_run_id(output_dir: Path, resume: bool) -> str:
    """The wandb run id of the run folder: the stored one when resuming, else a new one
    (stored, so that a later resume finds it)."""
    path = output_dir / WANDB_ID_FILE
    if resume and path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:8]
    if rank_zero_only.rank == 0:  # ranks > 0 log nothing to wandb
        path.write_text(run_id + "\n")
    return run_id


def build_logger(cfg: LoggerConfig, output_dir: Path, resume: bool = False):
    """A Lightning logger writing under ``output_dir``, or False for ``kind: none``.
    ``resume``: the run continues a checkpoint of this folder (wandb resumes its run)."""
    if cfg.kind == "none":
        return False
    if cfg.kind == "csv":
        return AppendingCSVLogger(save_dir=output_dir, name="csv", version="")
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
            id=wandb_run_id(output_dir, resume),
            resume="allow",
        )
    raise ValueError(f"logger.kind: unsupported {cfg.kind!r}")
