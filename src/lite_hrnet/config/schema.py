"""The run configuration as dataclasses. Hydra composes YAML on top of them (see
``store``), so a misspelt key or a wrong type fails at start and names the key;
``validate`` then checks values. Sizes are [H, W].

The parts of a run are declared where they are used, once: the model and task configs
with the task modules (``lite_hrnet.tasks``), the data configs with the DataModules
(``lite_hrnet.data``), the generators' with the generators (``lite_hrnet.synthetic``).
This module adds the run around them: trainer, logger, callbacks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from ..checks import check
from ..sharing.hf_hub import check_repo_id
from ..tasks.base import ModelConfig


@dataclass
class TrainerConfig:
    """Arguments of ``lightning.Trainer`` that runs use."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_epochs: int = 210
    max_time: str | None = None  # "DD:HH:MM:SS"
    check_val_every_n_epoch: int = 10
    log_every_n_steps: int = 50
    sync_batchnorm: bool = False
    deterministic: bool = False
    fast_dev_run: Any = False
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = 1.0
    limit_test_batches: Any = 1.0
    overfit_batches: Any = 0.0
    num_sanity_val_steps: int = 2
    enable_progress_bar: bool = True
    gradient_clip_val: float | None = None

    def kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def validate(self) -> None:
        check(
            not (self.sync_batchnorm and self.accelerator == "cpu"),
            "trainer.sync_batchnorm",
            "SyncBatchNorm runs on GPUs only (torch has no CPU kernel for it)",
        )


LOGGER_KINDS = ("csv", "tensorboard", "wandb", "none")


@dataclass
class LoggerConfig:
    """``kind``: csv, tensorboard, wandb or none. wandb stays offline (files under the
    run's ``wandb/``) unless ``offline: false`` or ``WANDB_MODE=online``; ``group`` defaults
    to the sweep folder's name in a multirun; ``log_model`` uploads the best checkpoint as
    an artifact at the end."""

    kind: str = "csv"
    project: str = "lite-hrnet"
    name: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    offline: bool = True
    log_model: bool = False

    def is_offline(self) -> bool:
        """wandb's mode: offline unless this says ``offline: false`` or WANDB_MODE=online."""
        return self.offline and os.environ.get("WANDB_MODE", "offline") != "online"

    def validate(self) -> None:
        check(self.kind in LOGGER_KINDS, "logger.kind", f"one of {LOGGER_KINDS}, got {self.kind!r}")
        check(
            not (self.log_model and self.kind == "wandb" and self.is_offline()),
            "logger.log_model",
            "checkpoint artifacts need an online wandb run (logger.offline=false or "
            "WANDB_MODE=online); offline runs keep checkpoints in the run's checkpoints/",
        )


@dataclass
class CheckpointConfig:
    """``checkpoints/best.ckpt`` on the run's monitor (``save_top_k`` of them), and
    ``last.ckpt``: the latest state, written at the end of every training epoch and, with
    ``every_n_train_steps`` > 0, every that many optimiser steps too."""

    save_last: bool = True
    save_top_k: int = 1
    every_n_train_steps: int = 0


@dataclass
class EarlyStoppingConfig:
    """Stop when the monitor has not improved by ``min_delta`` for ``patience`` validations."""

    patience: int = 3
    min_delta: float = 0.0


@dataclass
class CallbacksConfig:
    """The run's Lightning callbacks, as typed options (no class paths).

    ``val_images``: validation images drawn with predictions and logged after every
    validation by loggers that take images (wandb, tensorboard); 0 turns it off.
    ``model_summary``: default, rich or none. ``progress_bar``: tqdm or rich (shown when
    ``trainer.enable_progress_bar``). ``nonfinite_loss_steps``: stop the run with an error
    when the training loss has been NaN or infinite for this many steps in a row (0: never);
    non-finite weights are never saved, whatever this is.
    """

    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig | None = None
    lr_monitor: bool = True
    print_metrics: bool = True
    val_images: int = 4
    model_summary: str = "default"
    model_summary_depth: int = 1
    progress_bar: str = "tqdm"
    nonfinite_loss_steps: int = 3

    def validate(self) -> None:
        summaries, bars = ("default", "rich", "none"), ("tqdm", "rich")
        check(self.model_summary in summaries, "callbacks.model_summary",
               f"one of {summaries}, got {self.model_summary!r}")  # fmt: skip
        check(self.progress_bar in bars, "callbacks.progress_bar",
               f"one of {bars}, got {self.progress_bar!r}")  # fmt: skip
        check(self.val_images >= 0, "callbacks.val_images", "must be >= 0")
        check(self.nonfinite_loss_steps >= 0, "callbacks.nonfinite_loss_steps",
              "must be >= 0 (0: never stop)")  # fmt: skip
        check(self.checkpoint.save_top_k >= -1, "callbacks.checkpoint.save_top_k", "must be >= -1")
        check(self.checkpoint.every_n_train_steps >= 0,
              "callbacks.checkpoint.every_n_train_steps", "must be >= 0 (0: off)")  # fmt: skip
        if self.early_stopping is not None:
            check(self.early_stopping.patience >= 1, "callbacks.early_stopping.patience",
                   "must be >= 1")  # fmt: skip


@dataclass
class TrainConfig:
    """A whole run. ``task`` and ``data`` are typed by the config group chosen for them."""

    task: Any = None
    data: Any = None
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    seed: int = 42  # each DDP rank draws its augmentation from seed + rank
    output_dir: str = "outputs"
    test_after_fit: bool = True  # evaluate the best checkpoint on the test split
    prediction_images: int = 6  # validation images drawn with predictions, saved as PNG
    # The logged value that picks the best checkpoint (and early stopping). None: the data
    # config's first metric (data.metrics), else val/AP. The mode defaults to that metric's
    # direction ("min" for errors such as val/EPE, val/NME, losses), else "max".
    monitor: str | None = None
    monitor_mode: str | None = None
    # Continue the run folder's checkpoints/last.ckpt when there is one (else start fresh).
    resume: bool = False
    # Continue from this training checkpoint (any of ours); takes precedence over resume.
    ckpt_path: str | None = None
    # A Hugging Face model repository, "org/name": at the end of the run the best checkpoint
    # is saved as a folder (config.json, model.safetensors, README.md) and uploaded there
    # (the token: HF_TOKEN or `hf auth login`). null: no upload.
    push_to_hub: str | None = None

    def __post_init__(self) -> None:
        self.resolve_monitor()

    def validate(self) -> None:
        for part in (self.task, self.data, self.model, self.trainer, self.logger, self.callbacks):
            if hasattr(part, "validate"):
                part.validate()
        self.resolve_monitor()
        check(self.monitor_mode in ("min", "max"), "monitor_mode", "min or max")
        check(self.ckpt_path is None or os.path.isfile(os.path.expanduser(self.ckpt_path)),
              "ckpt_path", f"no checkpoint file at {self.ckpt_path}")  # fmt: skip
        if self.push_to_hub is not None:
            try:
                check_repo_id(self.push_to_hub)
            except (ValueError, ImportError) as e:  # a bad name; huggingface_hub missing
                check(False, "push_to_hub", str(e))

    def resolve_monitor(self) -> None:
        """Fill ``monitor`` and ``monitor_mode`` where the config leaves them None."""
        picked = self.data.monitor() if hasattr(self.data, "monitor") else None
        if self.monitor is None:
            self.monitor = picked[0] if picked else "val/AP"
        if self.monitor_mode is None:
            if picked and picked[0] == self.monitor:
                self.monitor_mode = picked[1]
            else:
                name = self.monitor.rsplit("/", 1)[-1]
                self.monitor_mode = "min" if name in LOWER_IS_BETTER else "max"


# Logged values that improve downwards, for monitors given without a mode.
LOWER_IS_BETTER = ("loss", "EPE", "NME")


@dataclass
class EvalConfig(TrainConfig):
    """A training run's config plus the weights to evaluate: ``ckpt_path`` (ours or an
    official file), else ``model.checkpoint`` or ``model.pretrained``."""

    def validate(self) -> None:
        super().validate()
        if self.ckpt_path is None and self.model.checkpoint is None and not self.model.pretrained:
            raise ValueError(
                "ckpt_path: the weights to evaluate (or model.checkpoint=FILE, "
                "model.pretrained=TAG)"
            )
