"""One training run from a validated ``TrainConfig``: fit, test the best checkpoint,
save predictions and a summary. Hydra stays in ``cli/train.py``; this takes dataclasses.

A run leaves the process as it found it (loggers closed, ``wandb.finish``, no DDP process
group), failed or not, so that the next job of a sweep in the same process starts clean.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch.distributed as dist

from ..config.schema import TrainConfig
from ..metrics.tables import format_table
from ..models.complexity import complexity
from .callbacks import TrainingThroughput, build_callbacks
from .jobs import SUMMARY_FILE
from .loggers import build_logger


@contextmanager
def _job_scope() -> Iterator[None]:
    """Closes what a run opens in this process, also when it fails: the wandb run (else
    the next sweep job would log into it) and the DDP process group, with the variables
    Lightning's launcher set (else the next DDP job would join the old ranks)."""
    launch_vars = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
    saved = {k: os.environ.get(k) for k in launch_vars}
    failed = True
    try:
        yield
        failed = False
    finally:
        wandb = sys.modules.get("wandb")  # imported by the wandb logger, if used
        if wandb is not None and wandb.run is not None:
            wandb.finish(exit_code=1 if failed else 0)
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_training(cfg: TrainConfig, output_dir: str | os.PathLike[str]) -> float | None:
    """Train, then test the best checkpoint; returns the best monitored value (for sweeps).

    Writes ``summary.json`` in ``output_dir``: complexity, the monitor and its best value,
    the best checkpoint and the test metrics. Loggers get the whole config and the
    complexity (params, MACs, paper FLOPs) as hyperparameters.
    """
    cfg.validate()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with _job_scope():
        return _run(cfg, output_dir)


def _run(cfg: TrainConfig, output_dir: Path) -> float | None:
    L.seed_everything(cfg.seed, workers=True)
    module, datamodule = cfg.task.build(cfg.data, cfg.model)
    stats = complexity(module.model, input_size=tuple(cfg.data.input_size))
    print(
        f"{cfg.model.name}: {stats['params']:,} params, {stats['macs'] / 1e6:.1f}M MACs, "
        f"{stats['paper_flops'] / 2**20:.1f}M paper FLOPs at {cfg.data.input_size}",
        flush=True,
    )
    logger = build_logger(cfg.logger, output_dir)
    if logger:
        logger.log_hyperparams({**asdict(cfg), "complexity": stats})
    callbacks, checkpoint = build_callbacks(cfg, output_dir, logging=bool(logger))
    trainer = L.Trainer(
        **cfg.trainer.kwargs(),
        default_root_dir=output_dir,
        logger=logger,
        callbacks=callbacks,
        enable_model_summary=cfg.callbacks.model_summary != "none",
    )
    trainer.fit(module, datamodule)
    summary: dict[str, Any] = {"complexity": stats, "monitor": cfg.monitor}
    throughput = next(c for c in callbacks if isinstance(c, TrainingThroughput))
    summary["train_images_per_second"] = throughput.images_per_second
    if cfg.trainer.fast_dev_run:
        summary.update(best=None, fast_dev_run=True)
        _write_summary(trainer, output_dir, summary)
        return None
    summary["best_checkpoint"] = checkpoint.best_model_path
    best = checkpoint.best_model_path or None
    if cfg.test_after_fit:
        module.results_file = str(output_dir / "test_predictions.json")
        trainer.test(module, datamodule, ckpt_path=best or "last", verbose=False)
        summary["test"] = dict(module.last_metrics)
        if trainer.is_global_zero:
            print(
                format_table(summary["test"], title=f"test ({Path(best or 'last').name})"),
                flush=True,
            )
    if cfg.prediction_images and trainer.is_global_zero:
        png = module.save_validation_predictions(
            datamodule, cfg.prediction_images, output_dir / "predictions.png"
        )
        print(f"predictions drawn on validation images: {png}", flush=True)
    score = checkpoint.best_model_score
    value = float(score) if score is not None else None
    summary.update({"best": value, "best_" + cfg.monitor: value})
    _write_summary(trainer, output_dir, summary)
    return value


def _write_summary(trainer: L.Trainer, output_dir: Path, summary: dict[str, Any]) -> None:
    if trainer.is_global_zero:
        (output_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
