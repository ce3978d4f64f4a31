"""The run configuration as dataclasses. Hydra composes YAML on top of them (see
``store``), so a misspelt key or a wrong type fails at start and names the key;
``validate`` then checks values. Sizes are (H, W)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from ..models.registry import list_models


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{key}: {message}")


@dataclass
class ModelConfig:
    """A registered backbone and overrides of its ``LiteHRNetSpec`` (None keeps the variant's)."""

    name: str = "lite_hrnet_18"
    width: float | None = None
    num_modules: list[int] | None = None  # stage depth: modules per stage
    num_blocks: list[int] | None = None
    module_type: str | None = None
    with_cp: bool = False
    norm_eval: bool = False
    checkpoint: str | None = None  # weights loaded through lite_hrnet.load_checkpoint

    def spec_overrides(self) -> dict[str, Any]:
        keys = ("width", "num_modules", "num_blocks", "module_type")
        out: dict[str, Any] = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.with_cp:
            out["with_cp"] = True
        if self.norm_eval:
            out["norm_eval"] = True
        return out

    def validate(self) -> None:
        _check(
            self.name in list_models(),
            "model.name",
            f"unknown variant {self.name!r}; registered: {', '.join(list_models())}",
        )
        # Building the spec checks every override and names the offending field.
        from ..models.variants import VARIANT_SPECS

        VARIANT_SPECS[self.name].replace(**self.spec_overrides()).validate()


@dataclass
class SyntheticPoseConfig:
    """Generator settings (``lite_hrnet.synthetic.pose_scenes.PoseSceneConfig``)."""

    seed: int = 0
    num_train_images: int = 1500
    num_val_images: int = 200


@dataclass
class PoseDataConfig:
    """A top-down pose data set in its real layout (``format``: coco or mpii)."""

    format: str = "coco"
    root: str = "data/coco"
    input_size: list[int] = field(default_factory=lambda: [256, 192])
    heatmap_size: list[int] | None = None  # default: input / 4
    sigma: float | None = None  # default: heatmap height / 32 (2 at 256x192, 3 at 384x288)
    batch_size: int = 64
    val_batch_size: int | None = None
    num_workers: int = 4
    pin_memory: bool = True
    detection_file: str | None = None  # COCO test boxes; validation uses ground truth
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    scale_factor: float = 0.25
    rotation_factor: float = 30.0
    rotation_prob: float = 0.6
    photometric: bool = False
    synthetic: SyntheticPoseConfig | None = None  # generate this data set under root first

    def validate(self) -> None:
        _check(self.format in ("coco", "mpii"), "data.format", f"coco or mpii, got {self.format!r}")
        _check(
            len(self.input_size) == 2 and all(v > 0 and v % 32 == 0 for v in self.input_size),
            "data.input_size",
            f"[H, W] with multiples of 32, got {self.input_size}",
        )
        if self.heatmap_size is not None:
            _check(len(self.heatmap_size) == 2, "data.heatmap_size", "expected [h, w]")
        _check(self.batch_size > 0, "data.batch_size", "must be positive")
        _check(self.num_workers >= 0, "data.num_workers", "must be >= 0")
        for key in ("flip_prob", "half_body_prob", "rotation_prob"):
            _check(0 <= getattr(self, key) <= 1, f"data.{key}", "a probability in [0, 1]")
        _check(
            self.format == "coco" or self.detection_file is None,
            "data.detection_file",
            "detection files are COCO-only",
        )


@dataclass
class PoseTaskConfig:
    """``PoseEstimationModule`` settings: the official recipe by default."""

    name: str = "pose"
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_iters: int = 500
    warmup_ratio: float = 1e-3
    milestones: list[int] = field(default_factory=lambda: [170, 200])
    gamma: float = 0.1
    flip_test: bool = True
    shift_heatmap: bool = True
    dark: bool = False
    channels_last: bool = False
    compile: bool = False
    fused_optimizer: bool = True  # the optimiser's fused kernel (same update)

    def validate(self) -> None:
        _check(self.lr > 0, "task.lr", "must be positive")
        _check(self.warmup_iters >= 0, "task.warmup_iters", "must be >= 0")
        _check(list(self.milestones) == sorted(self.milestones), "task.milestones", "must increase")


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
        _check(
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
        _check(
            self.kind in LOGGER_KINDS, "logger.kind", f"one of {LOGGER_KINDS}, got {self.kind!r}"
        )
        _check(
            not (self.log_model and self.kind == "wandb" and self.is_offline()),
            "logger.log_model",
            "checkpoint artifacts need an online wandb run (logger.offline=false or "
            "WANDB_MODE=online); offline runs keep checkpoints in the run's checkpoints/",
        )


@dataclass
class CheckpointConfig:
    """``ModelCheckpoint`` on the run's monitor (``checkpoints/best.ckpt``, ``last.ckpt``)."""

    save_last: bool = True
    save_top_k: int = 1


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
    ``trainer.enable_progress_bar``).
    """

    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig | None = None
    lr_monitor: bool = True
    print_metrics: bool = True
    val_images: int = 4
    model_summary: str = "default"
    model_summary_depth: int = 1
    progress_bar: str = "tqdm"

    def validate(self) -> None:
        summaries, bars = ("default", "rich", "none"), ("tqdm", "rich")
        _check(self.model_summary in summaries, "callbacks.model_summary",
               f"one of {summaries}, got {self.model_summary!r}")  # fmt: skip
        _check(self.progress_bar in bars, "callbacks.progress_bar",
               f"one of {bars}, got {self.progress_bar!r}")  # fmt: skip
        _check(self.val_images >= 0, "callbacks.val_images", "must be >= 0")
        _check(self.checkpoint.save_top_k >= -1, "callbacks.checkpoint.save_top_k", "must be >= -1")
        if self.early_stopping is not None:
            _check(self.early_stopping.patience >= 1, "callbacks.early_stopping.patience",
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
    monitor: str = "val/AP"
    monitor_mode: str = "max"

    def validate(self) -> None:
        for part in (self.task, self.data, self.model, self.trainer, self.logger, self.callbacks):
            if hasattr(part, "validate"):
                part.validate()
        _check(self.monitor_mode in ("min", "max"), "monitor_mode", "min or max")
