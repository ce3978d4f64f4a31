"""One training run from a validated ``TrainConfig``: fit, test the best checkpoint,
save predictions and a summary. Hydra stays in ``cli/train.py``; this takes dataclasses.

A run leaves the process as it found it (loggers closed, ``wandb.finish``, no DDP process
group), failed or not, so that the next job of a sweep in the same process starts clean.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch.distributed as dist
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.plugins.environments import SLURMEnvironment

from ..config.schema import TrainConfig
from ..metrics.tables import format_table
from ..models.complexity import complexity
from .callbacks import TrainingThroughput, build_callbacks
from .checkpointing import (
    LAST_CHECKPOINT,
    AtomicCheckpointIO,
    remove_stale_temp_files,
    resume_checkpoint,
)
from .hub_push import push_run
from .interrupts import ForwardSignals, RecordRankFailure
from .jobs import SUMMARY_FILE
from .loggers import build_logger
from .resume_config import StoreRunConfig, check_resume, flat_config


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
    the best checkpoint and the test metrics. With ``push_to_hub``, the tested checkpoint
    goes to that Hugging Face repository as a saved folder (``hub_push``). Loggers get the
    whole config and the complexity (params, MACs, paper FLOPs) as hyperparameters.
    """
    cfg.validate()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with _job_scope():
        return _run(cfg, output_dir)


def _run(cfg: TrainConfig, output_dir: Path) -> float | None:
    L.seed_everything(cfg.seed, workers=True)
    resume_from = resume_checkpoint(output_dir, cfg.resume, cfg.ckpt_path)
    if resume_from is not None:
        check_resume(cfg, resume_from)  # before Lightning loads weights that may not fit
    remove_stale_temp_files(output_dir / "checkpoints")  # left by a save that was killed
    module, datamodule = cfg.task.build(cfg.data, cfg.model)
    stats = complexity(module.model, input_size=tuple(cfg.data.input_size))
    print(
        f"{cfg.model.name}: {stats['params']:,} params, {stats['macs'] / 1e6:.1f}M MACs, "
        f"{stats['paper_flops'] / 2**20:.1f}M paper FLOPs at {cfg.data.input_size}",
        flush=True,
    )
    if resume_from is not None:
        print(f"resuming from {resume_from}", flush=True)
    logger = build_logger(cfg.logger, output_dir, resume=resume_from is not None)
    if logger:
        logger.log_hyperparams({**asdict(cfg), "complexity": stats})
    callbacks, checkpoint = build_callbacks(cfg, output_dir, logging=bool(logger))
    callbacks += [StoreRunConfig(cfg), ForwardSignals(), RecordRankFailure(output_dir)]
    trainer = L.Trainer(
        **cfg.trainer.kwargs(),
        default_root_dir=output_dir,
        logger=logger,
        callbacks=callbacks,
        enable_model_summary=cfg.callbacks.model_summary != "none",
        plugins=_plugins(),
    )
    trainer.fit(module, datamodule, ckpt_path=resume_from, weights_only=True)
    summary: dict[str, Any] = {"complexity": stats, "monitor": cfg.monitor}
    if _stopped_by_max_time(trainer):
        summary["stopped_by_max_time"] = True
        warnings.warn(
            f"trainer.max_time ({cfg.trainer.max_time}) stopped training at step "
            f"{trainer.global_step}, before the end of its schedule: the metrics below are "
            "those of a shorter run. Raise trainer.max_time for the full schedule.",
            stacklevel=1,
        )
    throughput = next(c for c in callbacks if isinstance(c, TrainingThroughput))
    summary["train_images_per_second"] = throughput.images_per_second
    if cfg.trainer.fast_dev_run:
        summary.update(best=None, fast_dev_run=True)
        _write_summary(trainer, output_dir, summary)
        return None
    summary["best_checkpoint"] = checkpoint.best_model_path
    last = output_dir / "checkpoints" / LAST_CHECKPOINT
    tested = checkpoint.best_model_path or (str(last) if last.is_file() else None)
    if cfg.test_after_fit:
        module.results_file = str(output_dir / "test_predictions.json")
        trainer.test(module, datamodule, ckpt_path=tested, weights_only=True, verbose=False)
        summary["test"] = dict(module.last_metrics)
        if trainer.is_global_zero:
            name = Path(tested).name if tested else "the trained weights"
            print(format_table(summary["test"], title=f"test ({name})"), flush=True)
    score = checkpoint.best_model_score
    value = float(score) if score is not None else None
    summary.update({"best": value, "best_" + cfg.monitor: value})
    if cfg.push_to_hub and tested and trainer.is_global_zero:
        _push(cfg, type(module), tested, output_dir, summary)
    _write_summary(trainer, output_dir, summary)
    if cfg.prediction_images and trainer.is_global_zero:
        _draw_predictions(module, datamodule, cfg.prediction_images, output_dir)
    return value


def _push(
    cfg: TrainConfig, module_class: type, checkpoint: str, output_dir: Path, summary: dict
) -> None:
    """``push_to_hub``: the tested checkpoint as a saved folder, uploaded; ``summary.json``
    records the outcome. A failed upload warns and keeps the folder: the run stands."""
    record = push_run(module_class, checkpoint, output_dir, dict(summary), flat_config(cfg),
                      cfg.push_to_hub)  # fmt: skip
    summary["push_to_hub"] = record
    if "error" in record:
        warnings.warn(
            f"push_to_hub={cfg.push_to_hub}: the upload failed ({record['error']}); the folder "
            f"is {record['folder']} (hf upload {cfg.push_to_hub} {record['folder']} retries)",
            stacklevel=1,
        )
    else:
        print(f"pushed {record['folder']} to {record['url']}", flush=True)


def _stopped_by_max_time(trainer: L.Trainer) -> bool:
    """Whether the ``max_time`` failsafe, not the schedule, ended the fit."""
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    remaining = timer.time_remaining() if timer is not None else None
    return remaining is not None and remaining <= 0


def _plugins() -> list[Any]:
    """Atomic checkpoint writes; under SLURM, the requeue on SIGUSR1: Lightning saves
    ``hpc_ckpt_<n>.ckpt`` in the run folder and runs ``scontrol requeue``, and the
    requeued job (``resume=true``, the same run folder) continues from it."""
    plugins: list[Any] = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=True))
    return plugins


def _draw_predictions(
    module: L.LightningModule, datamodule: L.LightningDataModule, count: int, output_dir: Path
) -> None:
    """``predictions.png``: an extra after the run's results are saved, so it never fails
    the run (an unreadable image is skipped by the drawing; anything else is a warning)."""
    try:
        png = module.save_validation_predictions(datamodule, count, output_dir / "predictions.png")
    except Exception as error:
        warnings.warn(f"predictions.png not drawn: {type(error).__name__}: {error}", stacklevel=1)
        return
    print(f"predictions drawn on validation images: {png}", flush=True)


def _write_summary(trainer: L.Trainer, output_dir: Path, summary: dict[str, Any]) -> None:
    if trainer.is_global_zero:
        (output_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
