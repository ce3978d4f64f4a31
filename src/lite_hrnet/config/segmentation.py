"""Segmentation run settings as plain dataclasses, and the builder of its Lightning objects.

``SegmentationDataConfig`` describes a Cityscapes-layout folder (real, or the synthetic
street scenes generated into it on first use); ``SegmentationTaskConfig`` holds the
``SegmentationModule`` recipe. No Hydra here: ``store`` registers these as schemas.
Sizes are [H, W].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning as L

from .schema import ModelConfig, _check


def _is_size(size: list[int], multiple: int = 1) -> bool:
    return len(size) == 2 and all(v > 0 and v % multiple == 0 for v in size)


@dataclass
class SyntheticSegmentationConfig:
    """Generator settings (``lite_hrnet.synthetic.street_scenes``)."""

    seed: int = 0
    num_train_images: int = 600
    num_val_images: int = 100
    height: int = 256
    width: int = 512
    street_furniture: bool = False  # poles, traffic signs and lights (thin, hard classes)


@dataclass
class SegmentationDataConfig:
    """A Cityscapes-layout data set and HRNet's augmentation.

    ``input_size`` is the training crop; ``base_size`` resizes whole images first (the
    half-resolution setting, [512, 1024]), for training and for the evaluation input.
    """

    root: str = "data/cityscapes"
    input_size: list[int] = field(default_factory=lambda: [512, 1024])
    scale_range: list[float] = field(default_factory=lambda: [0.5, 2.0])
    base_size: list[int] | None = None
    batch_size: int = 12
    val_batch_size: int = 1
    num_workers: int = 4
    pin_memory: bool = True
    flip_prob: float = 0.5
    color_jitter: float = 0.3
    hue_jitter: float = 0.05
    jitter_prob: float = 0.8
    synthetic: SyntheticSegmentationConfig | None = None  # generate this data set under root

    def validate(self) -> None:
        _check(_is_size(self.input_size, 32), "data.input_size",
               f"[H, W] with multiples of 32, got {self.input_size}")  # fmt: skip
        low_high = len(self.scale_range) == 2 and 0 < self.scale_range[0] <= self.scale_range[1]
        _check(low_high, "data.scale_range",
               f"[low, high] with 0 < low <= high, got {self.scale_range}")  # fmt: skip
        if self.base_size is not None:
            _check(_is_size(self.base_size), "data.base_size",
                   f"[H, W] with positive sizes, got {self.base_size}")  # fmt: skip
        _check(self.batch_size > 0 and self.val_batch_size > 0, "data.batch_size",
               "batch sizes must be positive")  # fmt: skip
        _check(self.num_workers >= 0, "data.num_workers", "must be >= 0")
        for key in ("flip_prob", "jitter_prob"):
            _check(0 <= getattr(self, key) <= 1, f"data.{key}", "a probability in [0, 1]")


@dataclass
class SegmentationTaskConfig:
    """``SegmentationModule`` settings: HRNet's Cityscapes recipe by default."""

    name: str = "segmentation"
    num_classes: int = 19
    head_channels: int = 128
    ohem: bool = False
    ohem_threshold: float = 0.7
    ohem_min_kept: int = 100_000
    class_weights: list[float] | None = None  # one loss weight per class
    optimizer: str = "sgd"  # or "adamw"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    warmup_iters: int = 0
    val_scales: list[float] = field(default_factory=lambda: [1.0])
    val_flip: bool = False
    val_window: list[int] | None = None  # sliding-window [H, W]; None: whole images
    val_stride: list[int] | None = None
    channels_last: bool = False
    compile: bool = False
    fused_optimizer: bool = True  # the optimiser's fused kernel (same update)

    def validate(self) -> None:
        _check(self.num_classes > 0, "task.num_classes", "must be positive")
        if self.class_weights is not None:
            _check(len(self.class_weights) == self.num_classes and min(self.class_weights) > 0,
                   "task.class_weights", f"{self.num_classes} positive weights")  # fmt: skip
        _check(self.optimizer in ("sgd", "adamw"), "task.optimizer",
               f"sgd or adamw, got {self.optimizer!r}")  # fmt: skip
        _check(self.lr > 0, "task.lr", "must be positive")
        _check(self.warmup_iters >= 0, "task.warmup_iters", "must be >= 0")
        _check(0 <= self.momentum < 1, "task.momentum", "must be in [0, 1)")
        _check(len(self.val_scales) > 0 and min(self.val_scales) > 0, "task.val_scales",
               f"positive factors, got {self.val_scales}")  # fmt: skip
        if self.val_window is not None:
            _check(_is_size(self.val_window, 32), "task.val_window",
                   f"[H, W] with multiples of 32, got {self.val_window}")  # fmt: skip


def build_segmentation(
    task: SegmentationTaskConfig, data: SegmentationDataConfig, model: ModelConfig
) -> tuple[L.LightningModule, L.LightningDataModule]:
    """The ``SegmentationModule`` and ``CityscapesDataModule`` of a run.

    With ``data.synthetic`` the street scenes are first written under ``data.root`` (once;
    later runs reuse them), then read by the same reader as real Cityscapes.
    ``model.checkpoint`` initialises the backbone (e.g. official pose weights).
    """
    from ..data.segmentation.datamodule import CityscapesDataModule
    from ..tasks.segmentation import SegmentationModule

    root = Path(data.root).expanduser()
    if data.synthetic is not None:
        from ..synthetic.street_scenes import ensure_synthetic_cityscapes

        s = data.synthetic
        ensure_synthetic_cityscapes(
            root,
            s.seed,
            s.num_train_images,
            s.num_val_images,
            s.height,
            s.width,
            street_furniture=s.street_furniture,
        )
    kwargs = asdict(task)
    kwargs.pop("name")
    module = SegmentationModule(
        backbone=model.name,
        backbone_overrides=model.spec_overrides(),
        backbone_checkpoint=model.checkpoint,
        **kwargs,
    )
    datamodule = CityscapesDataModule(
        root,
        batch_size=data.batch_size,
        val_batch_size=data.val_batch_size,
        num_workers=data.num_workers,
        crop_size=tuple(data.input_size),
        scale_range=tuple(data.scale_range),
        base_size=None if data.base_size is None else tuple(data.base_size),
        flip_prob=data.flip_prob,
        color_jitter=data.color_jitter,
        hue_jitter=data.hue_jitter,
        jitter_prob=data.jitter_prob,
        pin_memory=data.pin_memory,
    )
    return module, datamodule
