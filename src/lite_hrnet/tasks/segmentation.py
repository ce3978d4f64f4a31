"""Semantic segmentation: ``SegmentationTaskConfig`` (HRNet's Cityscapes recipe) and
``SegmentationModule``, the backbone branches + HRNet's segmentation head.

The recipe of HRNet segmentation, which the Lite-HRNet paper follows: cross-entropy with
ignore 255 (OHEM as an option) on logits upsampled to the label size; SGD with momentum
and weight decay; a poly learning-rate schedule stepped every iteration. Validation and
test compute mIoU from confusion matrices over the whole split (each image once, across
ranks).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check, config_with, is_size
from ..data.images import ImageReadError, read_rgb
from ..data.segmentation.datamodule import (
    SegmentationDataConfig,
    SegmentationDataModule,
    segmentation_datamodule,
)
from ..inference.checkpoints import class_table_from, class_table_options
from ..inference.drawing import overlay
from ..inference.segmentation import segment_probabilities
from ..metrics.segmentation import SegmentationIoU
from ..metrics.tables import format_iou_table
from ..models.factory import create_segmentation_model
from ..models.heads import DEFAULT_HEAD_CHANNELS
from .base import ModelConfig, TaskModule, fused_optimizer_kwargs

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

OPTIMIZERS = ("sgd", "adamw")


def poly_with_warmup(step: int, total: int, power: float, warmup: int) -> float:
    """LR factor at ``step``: (1 - step/total)^power, ramped linearly from 0.1 over the
    first ``warmup`` steps."""
    factor = max(0.0, 1 - step / total) ** power
    if step < warmup:
        factor *= 0.1 + 0.9 * step / warmup
    return factor


def ohem_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    threshold: float = 0.7,
    min_kept: int = 100_000,
    ignore_index: int = 255,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """HRNet's online hard example mining cross-entropy.

    Of the valid pixels of ``target`` (B, H, W), keeps those whose predicted probability of
    the true class (from ``logits`` (B, K, H, W)) is at most ``threshold``, or at most the
    (``min_kept`` + 1)-th smallest such probability if that is higher (so at least
    ``min_kept`` pixels count), and averages their loss (weighted per class by ``weight``
    (K,), as HRNet's class weights, if given).
    """
    pixel_loss = F.cross_entropy(
        logits, target, weight=weight, ignore_index=ignore_index, reduction="none"
    )
    valid = target != ignore_index
    # No host sync: no boolean indexing, no `if` on a tensor (each would stall a GPU every
    # step). Ignored pixels get probability +inf, so they never enter the k smallest and
    # never pass the cut; when fewer than k pixels are valid the cut becomes +inf and keeps
    # every valid pixel, as the official cut (the largest valid probability) does.
    with torch.no_grad():
        safe_target = target.clamp(max=logits.shape[1] - 1)[:, None]  # ignore -> any class
        true_prob = logits.softmax(dim=1).gather(1, safe_target)[:, 0]
        true_prob = true_prob.masked_fill(~valid, float("inf")).flatten()
        # As HRNet: the cut is the (min_kept + 1)-th smallest probability, at least threshold.
        kth = true_prob.kthvalue(min(min_kept + 1, true_prob.numel())).values
        keep = (true_prob <= torch.clamp(kth, min=threshold)).view_as(valid) & valid
    # No valid pixel: 0, as the official loss.
    return (pixel_loss * keep).sum() / keep.sum().clamp(min=1)


@dataclass
class SegmentationTaskConfig:
    """``SegmentationModule`` settings: HRNet's Cityscapes recipe by default (SGD 0.01,
    momentum 0.9, weight decay 5e-4, poly 0.9 per iteration, whole-image validation).

    ``num_classes``: None takes the data set's (``data.classes``); a number must agree
    with it. ``class_weights``: one loss weight per class (None: all alike). ``optimizer`` "adamw"
    converges far faster from scratch on short schedules (``momentum`` is then unused).
    ``warmup_iters``: a linear ramp from 0.1 x lr. ``val_*``: inference at validation and
    test (``segment_probabilities``): scales, flip test, sliding window [H, W] and stride.
    """

    name: str = "segmentation"
    num_classes: int | None = None
    head_channels: int = DEFAULT_HEAD_CHANNELS
    ohem: bool = False
    ohem_threshold: float = 0.7
    ohem_min_kept: int = 100_000
    class_weights: list[float] | None = None
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    warmup_iters: int = 0
    val_scales: list[float] = field(default_factory=lambda: [1.0])
    val_flip: bool = False
    val_window: list[int] | None = None  # None: whole images
    val_stride: list[int] | None = None
    channels_last: bool = False
    compile: bool = False  # lite_hrnet.tasks.compile
    fused_optimizer: bool = True  # the optimiser's fused kernel (same update)

    def validate(self) -> None:
        check(self.num_classes is None or self.num_classes > 0, "task.num_classes",
              "must be positive (or null: the data set's)")  # fmt: skip
        check(self.head_channels > 0, "task.head_channels", "must be positive")
        if self.class_weights is not None:
            count = self.num_classes or len(self.class_weights)
            check(len(self.class_weights) == count and min(self.class_weights) > 0,
                  "task.class_weights", f"{count} positive weights (one per class), got "
                  f"{self.class_weights}")  # fmt: skip
        check(self.optimizer in OPTIMIZERS, "task.optimizer",
              f"one of {OPTIMIZERS}, got {self.optimizer!r}")  # fmt: skip
        check(self.lr > 0, "task.lr", "must be positive")
        check(self.warmup_iters >= 0, "task.warmup_iters", "must be >= 0")
        check(0 <= self.momentum < 1, "task.momentum", "must be in [0, 1)")
        check(len(self.val_scales) > 0 and min(self.val_scales) > 0, "task.val_scales",
              f"positive factors, got {self.val_scales}")  # fmt: skip
        if self.val_window is not None:
            check(is_size(self.val_window, 32), "task.val_window",
                  f"[H, W] with multiples of 32, got {self.val_window}")  # fmt: skip

    def build(
        self, data: SegmentationDataConfig, model: ModelConfig
    ) -> tuple[SegmentationModule, SegmentationDataModule]:
        """The module and the data module of a run (``model.checkpoint`` or
        ``model.pretrained`` initialises the backbone, e.g. with official pose weights).
        The module takes the data set's class table, which its checkpoints then carry."""
        table = data.class_table()
        check(self.num_classes in (None, table.num_classes), "task.num_classes",
              f"{self.num_classes}, but the data set has {table.num_classes} classes "
              f"({', '.join(table.names)}); leave it out to take the data set's")  # fmt: skip
        if self.class_weights is not None:
            check(len(self.class_weights) == table.num_classes, "task.class_weights",
                  f"{len(self.class_weights)} weights for the data set's "
                  f"{table.num_classes} classes ({', '.join(table.names)})")  # fmt: skip
        module = SegmentationModule(
            backbone=model.name,
            backbone_overrides=model.spec_overrides(),
            backbone_checkpoint=model.weights_file(),
            **{**asdict(self), "num_classes": table.num_classes},
            **class_table_options(table),
        )
        return module, segmentation_datamodule(data)


class SegmentationModule(TaskModule):
    """Lite-HRNet backbone + HRNet segmentation head, trained with SGD and poly decay.

    Args:
        backbone: registered variant name, e.g. "lite_hrnet_18".
        backbone_overrides: ``LiteHRNetSpec`` fields to replace (width, num_modules, ...).
        backbone_checkpoint: weights for the backbone alone (e.g. an official pose file).
        class_names: one name per class, for the IoU table and logs. Without names and
            without ``num_classes``: the Cityscapes table; with ``num_classes`` alone:
            ``class_0``, ``class_1``, ...
        class_palette: one [R, G, B] per class, for drawings (default: Pascal VOC's colour
            map).
        ignore_index: the label of pixels without a class (loss and mIoU leave them out).
        label_ids: per class, the id the data set's masks store (predictions written back).
        **options: ``SegmentationTaskConfig`` fields (``num_classes``, ``lr``, ``ohem``,
            ``compile``, ...).

    Batches are dicts from ``SegmentationFolderDataset``: ``image`` (B, 3, H, W), ``label``
    (B, H, W) with ``ignore_index``, ``index`` (B,). The class table (names, palette,
    ignore index, label ids) is saved with the hyperparameters, so checkpoints carry it.
    Validation and test compute mIoU from confusion matrices over the whole split (each
    image once, across ranks).
    """

    task_name = "segmentation"
    weights_args = ("backbone_checkpoint",)

    def __init__(
        self,
        backbone: str = "lite_hrnet_18",
        backbone_overrides: dict[str, Any] | None = None,
        backbone_checkpoint: str | None = None,
        class_names: Sequence[str] | None = None,
        class_palette: Sequence[Sequence[int]] | None = None,
        ignore_index: int = 255,
        label_ids: Sequence[int] | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        self.cfg = config_with(SegmentationTaskConfig, options)
        self.cfg.validate()
        self.class_table = class_table_from(
            self.cfg.num_classes, class_names, class_palette, ignore_index, label_ids
        )
        num_classes = self.cfg.num_classes = self.class_table.num_classes
        self.cfg.validate()  # the class weights against the number of classes
        self.class_names = list(self.class_table.names)
        self.save_hyperparameters(
            {
                "backbone": backbone,
                "backbone_overrides": backbone_overrides,
                "backbone_checkpoint": backbone_checkpoint,
                **class_table_options(self.class_table),
                **asdict(self.cfg),
            }
        )
        model = create_segmentation_model(
            backbone,
            num_classes,
            head_channels=self.cfg.head_channels,
            backbone_checkpoint=backbone_checkpoint,
            **(backbone_overrides or {}),
        )
        self.set_network(model, self.cfg.channels_last, self.cfg.compile)
        self.last_iou: torch.Tensor | None = None  # per class, of the latest evaluation
        weights = self.cfg.class_weights
        # Not persistent: checkpoints keep the model's keys only (the weights are hparams).
        self.register_buffer(
            "class_weights",
            None if weights is None else torch.tensor(weights, dtype=torch.float),
            persistent=False,
        )

    @classmethod
    def for_segmenter(cls, segmenter: Segmenter) -> SegmentationModule:
        """A module that scores ``segmenter``: its network, class table and test-time
        settings (scales, flip, window), for an evaluation with the task's metric; its
        data settings are those of the checkpoint's run."""
        source = segmenter.source
        read = source.checkpoint
        table = segmenter.class_table
        module = cls(
            backbone=source.variant or "lite_hrnet_18",
            backbone_overrides=read.backbone_overrides if read else None,
            num_classes=table.num_classes,
            head_channels=read.head_channels() if read else DEFAULT_HEAD_CHANNELS,
            **class_table_options(table),
            **segmenter.settings(),
        )
        module.model = segmenter.network
        module.datamodule_hparams = dict(read.datamodule_hparams) if read else {}
        return module.eval()

    @property
    def input_multiple(self) -> int:
        """Network inputs must have H and W divisible by this (for ``segment_logits``)."""
        return self.model.input_multiple

    @property
    def output_stride(self) -> int:
        return self.model.output_stride

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits (B, K, h, w) upsampled to labels (B, H, W), then (OHEM) cross-entropy."""
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
        if self.cfg.ohem:
            return ohem_cross_entropy(
                logits,
                labels,
                self.cfg.ohem_threshold,
                self.cfg.ohem_min_kept,
                ignore_index=self.class_table.ignore_index,
                weight=self.class_weights,
            )
        return F.cross_entropy(
            logits, labels, weight=self.class_weights, ignore_index=self.class_table.ignore_index
        )

    def predict_probabilities(self, images: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """Class probabilities (B, K, *size) of images (B, 3, H, W) with the configured
        test-time settings (scales, flip, window), upsampled to ``size`` (the label's)."""
        cfg = self.cfg
        probs = segment_probabilities(
            self, images, cfg.val_scales, cfg.val_flip, cfg.val_window, cfg.val_stride
        )
        if tuple(probs.shape[-2:]) != tuple(size):  # the image was resized (base_size)
            probs = F.interpolate(probs, size=tuple(size), mode="bilinear", align_corners=False)
        return probs

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        if not self.count_skipped(batch, "train"):
            return self.skipped_batch_loss()  # counted; under DDP a zero loss on this rank
        loss = self.loss(self(batch["image"]), batch["label"])
        size = batch["image"].shape[0]
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=size)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], on_step=True, batch_size=size)
        return loss

    def build_metric(self, stage: str) -> SegmentationIoU:
        return SegmentationIoU(self.cfg.num_classes, self.class_table.ignore_index)

    def evaluate(self, batch: dict[str, Any], stage: str, metric: Any) -> None:
        labels = batch["label"]
        probs = self.predict_probabilities(batch["image"], labels.shape[-2:])
        # The indices let the metric count DDP-padded duplicates once.
        metric.update(probs.argmax(dim=1), labels, batch["index"])

    def summarize_metric(self, stage: str, result: dict[str, torch.Tensor]) -> dict[str, Any]:
        self.last_metrics = {"mIoU": result["mIoU"].item(), "accuracy": result["accuracy"].item()}
        if stage == "test":
            self.print(format_iou_table(result["iou"].cpu(), self.class_names))
        values: dict[str, Any] = {
            "mIoU": result["mIoU"].float(),
            "accuracy": result["accuracy"].float(),
        }
        iou_list = result["iou"].tolist()
        for name, iou in zip(self.class_names, iou_list):
            if not math.isnan(iou):  # a class absent from labels and predictions has none
                values[f"IoU/{name}"] = iou
        self.last_iou = result["iou"].cpu()
        if stage == "test" and self.results_file and self.trainer.is_global_zero:
            iou = {n: None if math.isnan(v) else v for n, v in zip(self.class_names, iou_list)}
            Path(self.results_file).write_text(json.dumps({**self.last_metrics, "iou": iou}))
        return values

    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.cfg
        params = list(self.model.parameters())
        fused = fused_optimizer_kwargs(params) if cfg.fused_optimizer else {}
        if cfg.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, **fused
            )
        else:
            optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            partial(poly_with_warmup, total=total, power=cfg.poly_power, warmup=cfg.warmup_iters),
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }

    def render_predictions(
        self, datamodule: L.LightningDataModule, count: int
    ) -> np.ndarray | None:
        """A row per validation image: image | ground truth | prediction overlay, as one
        (rows x H, 3 x W, 3) uint8 RGB array; the first ``count`` readable images."""
        datamodule.setup("validate")
        dataset = datamodule.datasets["val"]
        rows = []
        for index in range(len(dataset)):
            if len(rows) == count:
                break
            sample = dataset[index]
            if sample is None:
                continue
            try:
                image = read_rgb(dataset.images[index])
            except ImageReadError:
                continue
            label = sample["label"].numpy().astype(np.uint8)
            probs = self.predict_probabilities(sample["image"][None].to(self.device), label.shape)
            prediction = probs[0].argmax(dim=0).cpu().numpy().astype(np.uint8)
            table = self.class_table
            truth, drawn = table.colorize(label), overlay(image, prediction, palette=table.palette)
            rows.append(np.concatenate([image, truth, drawn], axis=1))
        return np.concatenate(rows, axis=0) if rows else None
