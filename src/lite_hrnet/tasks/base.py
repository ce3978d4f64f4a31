"""What the task modules share: the model config, the network (channels-last, compiled),
skip counting, the metric's life cycle, checkpoint loading and the drawing of predictions.

One contract for every task: batches are dicts from ``data.loaders.collate_skipping``
(``"image"``, the task's targets, ``"skipped"``); a module builds its own metric
(``build_metric``), logs ``<stage>/skipped`` and ``<stage>/<metric>`` and keeps the latest
values in ``last_metrics``; ``from_checkpoint`` reads any of our checkpoints or a plain
state dict, always with ``weights_only=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torchmetrics import Metric

from ..checks import check
from ..data.loaders import SKIPPED
from ..inference.checkpoints import read_task_checkpoint
from ..inference.drawing import save_rgb
from ..models.checkpoint import load_checkpoint
from ..models.hub import (
    download_pretrained,
    is_weights_source,
    pretrained_weights,
    weights_source_file,
)
from ..models.registry import list_models, variant_info
from .compile import compile_for_training

FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


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
    # Published weights by tag (e.g. coco_256x192; lite_hrnet.list_pretrained()), downloaded
    # into the torch hub cache and loaded like ``checkpoint``; or a saved model on the
    # Hugging Face Hub, hf-hub:org/name.
    pretrained: str | None = None
    # Weights for the backbone (and, for pose, the head rows of the joints it names alike).
    backbone_checkpoint: str | None = None

    def spec_overrides(self) -> dict[str, Any]:
        keys = ("width", "num_modules", "num_blocks", "module_type")
        out: dict[str, Any] = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.with_cp:
            out["with_cp"] = True
        if self.norm_eval:
            out["norm_eval"] = True
        return out

    def validate(self) -> None:
        check(
            self.name in list_models(),
            "model.name",
            f"unknown variant {self.name!r}; registered: {', '.join(list_models())}",
        )
        # Building the spec checks every override and names the offending field.
        variant_info(self.name).spec.replace(**self.spec_overrides()).validate()
        for key in ("checkpoint", "backbone_checkpoint"):
            path = getattr(self, key)
            check(path is None or os.path.isfile(os.path.expanduser(path)),
                  f"model.{key}", f"no file at {path}")  # fmt: skip
        check(self.checkpoint is None or self.backbone_checkpoint is None,
              "model.backbone_checkpoint", "set it or model.checkpoint")  # fmt: skip
        if self.pretrained is not None:
            alone = self.checkpoint is None and self.backbone_checkpoint is None
            check(alone, "model.pretrained", "set it or model.(backbone_)checkpoint")
            if not is_weights_source(self.pretrained):  # a source is checked as it is fetched
                try:
                    pretrained_weights(self.name, self.pretrained)
                except ValueError as e:
                    check(False, "model.pretrained", str(e))

    def weights_file(self) -> str | None:
        """``checkpoint`` (or ``backbone_checkpoint``), or the downloaded file of
        ``pretrained``, a tag or a source such as ``hf-hub:org/name`` (None: no weights)."""
        if self.pretrained is None:
            return self.checkpoint or self.backbone_checkpoint
        fetched = weights_source_file(self.pretrained)
        return str(fetched or download_pretrained(self.name, self.pretrained))


def fused_optimizer_kwargs(params: Iterable[torch.Tensor]) -> dict[str, bool]:
    """``{"fused": True}`` where PyTorch has a fused Adam/AdamW/SGD kernel for all of
    ``params`` (floating point, on the CPU or CUDA), else ``{}``. The fused step computes
    the same update in one kernel per parameter group instead of a dozen small ops per
    tensor."""
    params = list(params)
    supported = all(
        p.device.type in FUSED_OPTIMIZER_DEVICES and p.is_floating_point() for p in params
    )
    return {"fused": True} if params and supported else {}


class TaskModule(L.LightningModule):
    """The LightningModule base of the tasks. A subclass sets ``task_name`` (its config's
    ``name``), builds its model and calls ``set_network``, and implements ``build_metric``,
    ``evaluate``, ``summarize_metric`` and ``render_predictions``."""

    task_name: ClassVar[str]
    # Constructor arguments that load initial weights: dropped by ``from_checkpoint``,
    # whose file holds all the weights.
    weights_args: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.model: nn.Module
        self.cfg: Any  # the task's config dataclass
        self._compiled: Callable[[torch.Tensor], Any] | None = None
        self._skipped = {"train": 0, "val": 0, "test": 0}
        self.val_metric: Metric | None = None
        self.test_metric: Metric | None = None
        self.last_metrics: dict[str, float] = {}  # the latest evaluation, for run summaries
        # Where a test keeps its predictions: COCO results (COCO pose), the metrics and the
        # per-class IoU (segmentation); MPII writes none.
        self.results_file: str | None = None
        self.datamodule_hparams: dict[str, Any] = {}  # of the checkpoint it came from

    # The network ---------------------------------------------------------------------
    def set_network(self, model: nn.Module, channels_last: bool, compile: bool) -> None:
        """``model`` is the network; with ``compile`` it runs through
        ``compile_for_training`` (a function, so the state dict keeps the plain names)."""
        self.model = model
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self._compiled = compile_for_training(self.model, channels_last) if compile else None

    def forward(self, images: torch.Tensor) -> Any:
        """The network on images (B, 3, H, W)."""
        if self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self._compiled(images) if self._compiled is not None else self.model(images)

    # Skipped samples -----------------------------------------------------------------
    def count_skipped(self, batch: Mapping[str, Any], stage: str) -> bool:
        """Log the batch's unreadable samples as ``<stage>/skipped`` (the epoch's total over
        all ranks); False when nothing of the batch was readable."""
        skipped = batch[SKIPPED]
        self._skipped[stage] += int(skipped)
        self.log(
            f"{stage}/skipped",
            torch.as_tensor(skipped, dtype=torch.float32, device=self.device),
            reduce_fx="sum",
            on_step=False,
            on_epoch=True,
            sync_dist=True,
            batch_size=1,
        )
        return "image" in batch

    def skipped_batch_loss(self) -> torch.Tensor | None:
        """The training step's result for a batch with nothing readable. In one process
        None: Lightning skips the optimiser step. Under DDP every rank must return a loss
        and run backward (the gradients are averaged across ranks in backward), so a zero
        over every trainable parameter: this rank adds zero gradients, the others' batches
        train as usual, and the batch is counted as skipped like any other."""
        if self._trainer is None or self.trainer.world_size == 1:
            return None
        zero = torch.zeros((), device=self.device)
        return sum((p.sum() * 0.0 for p in self.parameters() if p.requires_grad), zero)

    def _warn_skipped(self, stage: str) -> None:
        if self._skipped[stage]:
            rank_zero_warn(
                f"{stage}: {self._skipped[stage]} samples skipped this epoch on rank 0 "
                "(unreadable files; the warnings above name them)"
            )
            self._skipped[stage] = 0

    # Evaluation ----------------------------------------------------------------------
    def build_metric(self, stage: str) -> Metric | None:
        """The metric of ``stage`` ("val" or "test"), or None when it cannot be built."""
        raise NotImplementedError

    def evaluate(self, batch: dict[str, Any], stage: str, metric: Metric | None) -> None:
        """Score one readable batch: log the loss, update ``metric``."""
        raise NotImplementedError

    def summarize_metric(self, stage: str, result: Any) -> dict[str, Any]:
        """The values of ``metric.compute()`` to log under ``<stage>/``; also sets
        ``last_metrics``."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        if stage in ("fit", "validate") and self.val_metric is None:
            self.val_metric = self.build_metric("val")
        if stage == "test":  # built again, for the settings of this test (e.g. a results file)
            self.test_metric = self.build_metric("test")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if self.count_skipped(batch, "val"):
            self.evaluate(batch, "val", self.val_metric)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if self.count_skipped(batch, "test"):
            self.evaluate(batch, "test", self.test_metric)

    def _finish_evaluation(self, stage: str, metric: Metric | None) -> None:
        self._warn_skipped(stage)
        if metric is None:
            return
        result = metric.compute()
        metric.reset()
        # The metrics gather every rank's predictions: the values agree across ranks, and
        # syncing them (a mean of equal values) is only for Lightning's sake.
        values = self.summarize_metric(stage, result)
        self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        self._warn_skipped("train")

    def on_validation_epoch_end(self) -> None:
        self._finish_evaluation("val", self.val_metric)

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test", self.test_metric)

    # Checkpoints ---------------------------------------------------------------------
    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike[str], backbone: str | None = None, **overrides: Any
    ) -> TaskModule:
        """A module from one of our Lightning checkpoints (architecture and settings from its
        hyperparameters, ``overrides`` replacing some) or from a plain, official or mmpose
        state dict (``backbone`` defaults to the variant the weights fit), as
        ``inference.checkpoints.read_task_checkpoint`` reads it (``weights_only=True``)."""
        read = read_task_checkpoint(path, cls.task_name, backbone)
        if read.hparams is not None:
            kwargs = {**read.hparams, **dict.fromkeys(cls.weights_args), "compile": False}
            module = cls(**{**kwargs, "backbone": read.variant, **overrides})
        else:
            module = cls(backbone=read.variant, **{**read.options, **overrides})
        load_checkpoint(module.model, path)
        module.datamodule_hparams = dict(read.datamodule_hparams)
        return module

    # Drawing -------------------------------------------------------------------------
    def render_predictions(
        self, datamodule: L.LightningDataModule, count: int
    ) -> np.ndarray | None:
        """``draw_validation_predictions`` of the task, called in eval mode."""
        raise NotImplementedError

    @torch.no_grad()
    def draw_validation_predictions(
        self, datamodule: L.LightningDataModule, count: int
    ) -> np.ndarray | None:
        """The first ``count`` validation images with the predictions drawn, as one
        (H, W, 3) uint8 RGB array, or None without images (or with ``count`` 0)."""
        if count <= 0:
            return None
        was_training = self.training
        self.eval()
        try:
            return self.render_predictions(datamodule, count)
        finally:
            self.train(was_training)

    def save_validation_predictions(
        self, datamodule: L.LightningDataModule, count: int, path: str | os.PathLike[str]
    ) -> Path | None:
        """``draw_validation_predictions`` saved as one PNG at ``path``."""
        grid = self.draw_validation_predictions(datamodule, count)
        if grid is None:
            return None
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_rgb(str(path), grid)
        return path
