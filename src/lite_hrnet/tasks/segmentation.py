"""``SegmentationModule``: Lite-HRNet semantic segmentation as a LightningModule.

The recipe of HRNet segmentation, which the Lite-HRNet paper follows: cross-entropy with
ignore 255 (OHEM as an option) on logits upsampled to the label size; SGD with momentum
and weight decay; a poly learning-rate schedule stepped every iteration. Validation and
test compute mIoU from confusion matrices over the whole split (each image once, across
ranks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from lightning import LightningModule
from lightning.pytorch.utilities import rank_zero_warn

from ..inference.segmentation import segment_probabilities
from ..meta.cityscapes import CLASS_NAMES, IGNORE_INDEX
from ..metrics.segmentation import SegmentationIoU, format_iou_table
from ..models.factory import create_segmentation_model
from ..models.heads import DEFAULT_HEAD_CHANNELS
from .compile import compile_for_training, fused_optimizer_kwargs

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
    ignore_index: int = IGNORE_INDEX,
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


class SegmentationModule(LightningModule):
    """Lite-HRNet backbone + HRNet segmentation head, trained with SGD and poly decay.

    Args:
        backbone: registered variant name, e.g. "lite_hrnet_18".
        backbone_overrides: ``LiteHRNetSpec`` fields to replace (width, num_modules, ...).
        backbone_checkpoint: weights for the backbone alone (e.g. an official pose file).
        num_classes: output classes (19 Cityscapes trainIds).
        head_channels: hidden channels of the head's 1x1 conv-BN-ReLU.
        class_names: one name per class, for logging (default: the Cityscapes classes).
        ohem, ohem_threshold, ohem_min_kept: OHEM cross-entropy instead of the plain one.
        class_weights: one loss weight per class (HRNet weights Cityscapes' classes so);
            None weighs all alike.
        optimizer: "sgd" (HRNet's recipe: momentum, weight decay) or "adamw" (converges
            far faster from scratch on short schedules; ``momentum`` is unused).
        lr, momentum, weight_decay: the optimiser's settings.
        poly_power: lr = base * (1 - step / total_steps) ** poly_power, every iteration.
        warmup_iters: linear warm-up from 0.1 x lr over the first iterations (0: none).
        val_scales, val_flip, val_window, val_stride: inference at validation and test
            (``segment_probabilities``): scales, flip test, sliding window (h, w), stride.
        channels_last: run the network in channels-last memory format.
        compile: run the network through ``torch.compile`` (the saved weights keep their
            plain names); see ``lite_hrnet.tasks.compile``.
        fused_optimizer: the optimiser's fused kernel where PyTorch has one (same update).
    """

    def __init__(
        self,
        backbone: str = "lite_hrnet_18",
        backbone_overrides: dict[str, Any] | None = None,
        backbone_checkpoint: str | None = None,
        num_classes: int = 19,
        head_channels: int = DEFAULT_HEAD_CHANNELS,
        class_names: Sequence[str] | None = None,
        ohem: bool = False,
        ohem_threshold: float = 0.7,
        ohem_min_kept: int = 100_000,
        class_weights: Sequence[float] | None = None,
        optimizer: str = "sgd",
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        poly_power: float = 0.9,
        warmup_iters: int = 0,
        val_scales: Sequence[float] = (1.0,),
        val_flip: bool = False,
        val_window: Sequence[int] | None = None,
        val_stride: Sequence[int] | None = None,
        channels_last: bool = False,
        compile: bool = False,
        fused_optimizer: bool = True,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: one of {OPTIMIZERS}, got {optimizer!r}")
        if class_names is None:
            class_names = CLASS_NAMES if num_classes == len(CLASS_NAMES) else None
        if class_names is None:
            class_names = [f"class_{i}" for i in range(num_classes)]
        if len(class_names) != num_classes:
            raise ValueError(f"class_names: {len(class_names)} names for {num_classes} classes")
        if class_weights is not None and (
            len(class_weights) != num_classes or min(class_weights) <= 0
        ):
            raise ValueError(f"class_weights: {num_classes} positive weights, got {class_weights}")
        self.save_hyperparameters()
        self.class_names = list(class_names)
        self.model = create_segmentation_model(
            backbone,
            num_classes,
            head_channels=head_channels,
            backbone_checkpoint=backbone_checkpoint,
            **(backbone_overrides or {}),
        )
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        # A (compiled) bound method, not a submodule: the state dict keeps the plain names.
        self._network = (
            compile_for_training(self.model, channels_last) if compile else self.model.forward
        )
        weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        # Not persistent: checkpoints keep the model's keys only (the weights are hparams).
        self.register_buffer("class_weights", weights, persistent=False)
        self.val_iou = SegmentationIoU(num_classes, IGNORE_INDEX)
        self.test_iou = SegmentationIoU(num_classes, IGNORE_INDEX)
        self._skipped = {"train": 0, "val": 0, "test": 0}
        self.last_metrics: dict[str, float] = {}  # the latest evaluation, for run summaries

    @property
    def input_multiple(self) -> int:
        """Network inputs must have H and W divisible by this (for ``segment_logits``)."""
        return self.model.input_multiple

    @property
    def output_stride(self) -> int:
        return self.model.output_stride

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> logits (B, K, H/4, W/4)."""
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self._network(images)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits (B, K, h, w) upsampled to labels (B, H, W), then (OHEM) cross-entropy."""
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
        if self.hparams.ohem:
            return ohem_cross_entropy(
                logits,
                labels,
                self.hparams.ohem_threshold,
                self.hparams.ohem_min_kept,
                weight=self.class_weights,
            )
        return F.cross_entropy(logits, labels, weight=self.class_weights, ignore_index=IGNORE_INDEX)

    def _count_skipped(self, batch: dict[str, Any], stage: str) -> bool:
        """Count undecodable samples; False when the whole batch was skipped."""
        self._skipped[stage] += int(batch["num_skipped"])
        return "image" in batch

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        if not self._count_skipped(batch, "train"):
            return None  # Lightning skips the optimiser step
        loss = self.loss(self(batch["image"]), batch["label"])
        size = batch["image"].shape[0]
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=size)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], on_step=True, batch_size=size)
        return loss

    def _evaluate(self, batch: dict[str, Any], stage: str, metric: SegmentationIoU) -> None:
        if not self._count_skipped(batch, stage):
            return
        probs = segment_probabilities(
            self,
            batch["image"],
            scales=self.hparams.val_scales,
            flip=self.hparams.val_flip,
            window=self.hparams.val_window,
            stride=self.hparams.val_stride,
        )
        labels = batch["label"]
        if probs.shape[-2:] != labels.shape[-2:]:  # the image was resized (base_size)
            probs = F.interpolate(
                probs, size=labels.shape[-2:], mode="bilinear", align_corners=False
            )
        # The indices let the metric count DDP-padded duplicates once.
        metric.update(probs.argmax(dim=1), labels, batch["index"])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_iou)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_iou)

    def _log_iou(self, stage: str, metric: SegmentationIoU) -> dict[str, torch.Tensor]:
        result = metric.compute()
        metric.reset()
        # The matrices are gathered from every rank already: the values agree across ranks
        # and syncing them (a mean of equal values) is only for Lightning's sake.
        self.log(f"{stage}/mIoU", result["mIoU"].float(), prog_bar=True, sync_dist=True)
        self.log(f"{stage}/accuracy", result["accuracy"].float(), sync_dist=True)
        self.last_metrics = {"mIoU": result["mIoU"].item(), "accuracy": result["accuracy"].item()}
        for name, iou in zip(self.class_names, result["iou"].tolist()):
            if not math.isnan(iou):  # a class absent from labels and predictions has none
                self.log(f"{stage}/IoU/{name}", iou, sync_dist=True)
        return result

    def _warn_skipped(self, stage: str) -> None:
        if self._skipped[stage]:
            rank_zero_warn(
                f"{stage}: {self._skipped[stage]} samples skipped this epoch (undecodable files)"
            )
            self.log(f"{stage}/skipped", float(self._skipped[stage]), reduce_fx="sum")
            self._skipped[stage] = 0

    def on_train_epoch_end(self) -> None:
        self._warn_skipped("train")

    def on_validation_epoch_end(self) -> None:
        self._log_iou("val", self.val_iou)
        self._warn_skipped("val")

    def on_test_epoch_end(self) -> None:
        result = self._log_iou("test", self.test_iou)
        self._warn_skipped("test")
        self.print(format_iou_table(result["iou"], self.class_names))

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        params = list(self.model.parameters())
        fused = fused_optimizer_kwargs(params) if hp.fused_optimizer else {}
        if hp.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay, **fused
            )
        else:
            optimizer = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay, **fused)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            partial(poly_with_warmup, total=total, power=hp.poly_power, warmup=hp.warmup_iters),
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }
